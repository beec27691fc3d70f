package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.jdbc.JdbcConnectionOptions;
import org.apache.flink.connector.jdbc.JdbcExactlyOnceOptions;
import org.apache.flink.connector.jdbc.JdbcExecutionOptions;
import org.apache.flink.connector.jdbc.JdbcStatementBuilder;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSink;
import org.postgresql.xa.PGXADataSource;

import javax.sql.XADataSource;

/** Builds the result store's JDBC sinks with the delivery guarantee the options ask for. */
final class ResultStoreSinks {
    private ResultStoreSinks() {}

    /**
     * @param xaCapable whether the statement may run in XA transactions: only statements that never
     *     write the same row in two consecutive checkpoints are (a prepared transaction keeps its
     *     row locks until the checkpoint completes, so the next checkpoint's write to that row
     *     would wait for a commit that waits for it)
     */
    static Sink<Prediction> build(
            String sql,
            JdbcStatementBuilder<Prediction> statement,
            ResultStoreConfig options,
            boolean xaCapable) {
        return build(sql, statement, options, xaCapable, null);
    }

    /** As above; the at-least-once sink's first subtask runs {@code retention} (null: none). */
    static Sink<Prediction> build(
            String sql,
            JdbcStatementBuilder<Prediction> statement,
            ResultStoreConfig options,
            boolean xaCapable,
            ResultStoreRetention.Config retention) {
        var builder = JdbcSink.<Prediction>builder().withQueryStatement(sql, statement);
        if (xaCapable && options.deliveryGuarantee() == DeliveryGuarantee.EXACTLY_ONCE) {
            // XA: each checkpoint's writes are prepared with the checkpoint and committed after it
            // completes
            return new ResultStoreJdbcSink<>(
                    builder.withExecutionOptions(
                                    JdbcExecutionOptions.builder()
                                            .withBatchSize(options.batchSize())
                                            .withBatchIntervalMs(options.batchIntervalMs())
                                            .withMaxRetries(
                                                    0) // retries would write twice inside one XA
                                            // transaction
                                            .build())
                            .buildExactlyOnce(
                                    JdbcExactlyOnceOptions.builder()
                                            .withTransactionPerConnection(true)
                                            .build(),
                                    () -> xaDataSource(options)),
                    null);
        }
        // the sink batches, retries and isolates rejected rows itself; Flink's writer only writes
        // what it is given
        return new ResultStoreJdbcSink<>(
                builder.withExecutionOptions(
                                JdbcExecutionOptions.builder()
                                        .withBatchSize(Integer.MAX_VALUE)
                                        .withBatchIntervalMs(0)
                                        .withMaxRetries(0)
                                        .build())
                        .buildAtLeastOnce(
                                new JdbcConnectionOptions.JdbcConnectionOptionsBuilder()
                                        .withUrl(options.connectionUrl())
                                        .withDriverName("org.postgresql.Driver")
                                        .withUsername(options.username())
                                        .withPassword(options.password())
                                        .build()),
                new ResultStoreJdbcSink.Isolation<>(
                        options.batchSize(),
                        options.batchIntervalMs(),
                        options.maxRetries(),
                        ResultStoreSinks::describe,
                        options,
                        retention));
    }

    /** A prediction as a rejected row is logged: its ids, never its values. */
    static String describe(Prediction p) {
        return "the prediction of event "
                + p.getEventId()
                + " (entity "
                + p.getEntityId()
                + ", "
                + p.getModelName()
                + ":"
                + p.getModelVersion()
                + ")";
    }

    private static XADataSource xaDataSource(ResultStoreConfig options) {
        PGXADataSource source = new PGXADataSource();
        source.setUrl(options.connectionUrl());
        source.setUser(options.username());
        source.setPassword(options.password());
        return source;
    }
}
