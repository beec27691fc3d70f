package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ResultStoreJdbcSinkTest {

    @Test
    void aWriterThatFailsToFlushOnCloseDoesNotFailTheCleanup() {
        AtomicInteger closed = new AtomicInteger();
        ResultStoreJdbcSink.closeQuietly(
                () -> {
                    closed.incrementAndGet();
                    throw new RuntimeException("Writing records to JDBC failed.");
                });
        ResultStoreJdbcSink.closeQuietly(
                () -> {
                    closed.incrementAndGet();
                    throw new IOException("Connection has been closed");
                });
        ResultStoreJdbcSink.closeQuietly(
                () -> {
                    closed.incrementAndGet();
                    throw new AssertionError(
                            "pgStatement.getConnection().getAutoCommit() should not throw");
                });
        assertThat(closed).hasValue(3);
    }

    @Test
    void errorsOfTheJvmStillPropagate() {
        assertThatThrownBy(
                        () ->
                                ResultStoreJdbcSink.closeQuietly(
                                        () -> {
                                            throw new OutOfMemoryError("test");
                                        }))
                .isInstanceOf(OutOfMemoryError.class);
    }

    @Test
    void theDatabaseRefusingSomeRowsForTheirContentSkipsThemAndWritesTheRest() throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            ResultStoreConfig options =
                    new ResultStoreConfig(
                            postgres.getJdbcUrl("postgres", "postgres"),
                            "postgres",
                            "",
                            50,
                            100,
                            1);
            ResultStoreSchema.migrate(options);
            try (Connection c = postgres.getPostgresDatabase().getConnection();
                    Statement s = c.createStatement()) {
                // a rule only the database knows, e.g. added by its owner
                s.execute(
                        "ALTER TABLE latest_prediction ADD CONSTRAINT score_below CHECK (score < 0.9)");
                s.execute(
                        "ALTER TABLE prediction_history ADD CONSTRAINT score_below_h CHECK (score < 0.9)");
            }
            List<Prediction> predictions = new ArrayList<>();
            Set<String> refused = new HashSet<>();
            for (int i = 0; i < 300; i++) {
                double score = i % 37 == 5 ? 0.95 : 0.5;
                String label =
                        i == 101
                                ? "bad\u0000label"
                                : "ok"; // PostgreSQL refuses U+0000 in text (22021)
                if (score >= 0.9 || i == 101) {
                    refused.add("e" + i);
                }
                predictions.add(
                        Prediction.newBuilder()
                                .setEventId("e" + i)
                                .setEntityId("u" + i)
                                .setModelName("m")
                                .setModelVersion("1")
                                .setScore(score)
                                .setPredictedLabel(label)
                                .setProbabilities(List.of(1 - score, score))
                                .setEventTime(1_700_000_000_000L + i)
                                .setInferenceTime(1_700_000_000_000L + i)
                                .build());
            }

            Configuration conf = new Configuration();
            conf.set(
                    RestartStrategyOptions.RESTART_STRATEGY,
                    "none"); // a failed write would fail the job
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.getExecutionEnvironment(conf);
            env.setParallelism(1);
            DataStream<Prediction> stream = env.fromData(predictions);
            stream.sinkTo(LatestPredictionTable.sink(options));
            stream.sinkTo(PredictionHistoryTable.sink(options));
            env.execute("rejected-rows");

            Set<String> expected = new HashSet<>();
            predictions.forEach(p -> expected.add(p.getEventId()));
            expected.removeAll(refused);
            assertThat(refused).hasSizeGreaterThan(5);
            for (String table : List.of("latest_prediction", "prediction_history")) {
                Set<String> rows = new HashSet<>();
                try (Connection c = postgres.getPostgresDatabase().getConnection();
                        Statement s = c.createStatement();
                        ResultSet rs = s.executeQuery("SELECT event_id FROM " + table)) {
                    while (rs.next()) {
                        rows.add(rs.getString(1));
                    }
                }
                assertThat(rows)
                        .as("%s: every row the database accepts, and only those", table)
                        .isEqualTo(expected);
            }
        }
    }

    @Test
    void contentRejectionsAreToldApartFromConnectionFaults() {
        assertThat(
                        ResultStoreJdbcSink.isContentRejection(
                                new IOException("batch", new SQLException("check", "23514"))))
                .isTrue();
        assertThat(ResultStoreJdbcSink.isContentRejection(new SQLException("nul", "22021")))
                .isTrue();
        assertThat(
                        ResultStoreJdbcSink.isContentRejection(
                                new IOException("down", new SQLException("refused", "08001"))))
                .isFalse();
        assertThat(ResultStoreJdbcSink.isContentRejection(new SQLException("timeout", "57014")))
                .isFalse();
        BatchUpdateException batch = new BatchUpdateException("batch", "08006", new int[0]);
        batch.setNextException(new SQLException("row too big", "54000"));
        assertThat(ResultStoreJdbcSink.isContentRejection(batch)).isTrue();
    }
}
