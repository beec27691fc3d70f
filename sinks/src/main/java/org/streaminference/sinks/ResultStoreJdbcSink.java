package org.streaminference.sinks;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSink;
import org.apache.flink.connector.jdbc.core.datastream.sink.committer.JdbcCommitable;
import org.apache.flink.connector.jdbc.core.datastream.sink.writer.JdbcWriter;
import org.apache.flink.connector.jdbc.core.datastream.sink.writer.JdbcWriterState;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.function.SerializableFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Serializable;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Flink's JDBC sink, made safe for the result store in two ways.
 *
 * <p>Its writer never fails in {@code close()}. The JDBC writer flushes its buffer when it is
 * closed; when the database is down, that flush throws, and an exception while a failed task is
 * being cleaned up is fatal to the whole TaskManager (seen here: "FATAL - exception in exception
 * handler", then the MiniCluster had no TaskManager left). Dropping that flush loses nothing: the
 * records in the buffer came after the last completed checkpoint, so the restarted job writes them
 * again.
 *
 * <p>At-least-once, a row the database rejects for its content does not stop the sink. The writer
 * batches itself (size and interval, on the task's processing-time service) and flushes Flink's
 * writer; when a flush fails with a data or integrity error (SQLState classes 22, 23, 54: a value
 * out of range, a constraint, a row too large), it writes the batch again row by row on a fresh
 * connection, skips the rows the database still rejects (logged with the record, counted as {@code
 * resultStoreRowsRejected}) and keeps the others. Without this, such a row fails the checkpoint,
 * the job restarts, meets it again, and nothing is written any more. Connection errors and timeouts
 * are retried and then fail the job as before: restarts are for infrastructure faults. The
 * inference operator refuses what it knows no sink can keep ({@code STORE_REJECTED}); this catches
 * what only the database knows, such as a constraint added to the table. XA (exactly-once) writes
 * are not isolated: a rejected row fails the transaction.
 */
@Internal
final class ResultStoreJdbcSink<IN>
        implements Sink<IN>,
                SupportsWriterState<IN, JdbcWriterState>,
                SupportsCommitter<JdbcCommitable> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ResultStoreJdbcSink.class);

    private final JdbcSink<IN> delegate;

    /** Null for the XA sink; else how the writer batches, retries and describes a rejected row. */
    private final Isolation<IN> isolation;

    /**
     * How the at-least-once writer batches and isolates rows, and how it names a rejected one in
     * the log; and, where {@code retention} is set, the store's retention its first subtask runs
     * (the latest-prediction sink's).
     */
    record Isolation<IN>(
            int batchSize,
            long batchIntervalMs,
            int maxRetries,
            SerializableFunction<IN, String> describe,
            ResultStoreConfig store,
            ResultStoreRetention.Config retention)
            implements Serializable {}

    ResultStoreJdbcSink(JdbcSink<IN> delegate, Isolation<IN> isolation) {
        this.delegate = delegate;
        this.isolation = isolation;
    }

    @Override
    public StatefulSinkWriter<IN, JdbcWriterState> createWriter(WriterInitContext context)
            throws IOException {
        return isolation == null
                ? new Writer<>(delegate.createWriter(context))
                : new IsolatingWriter<>(delegate, context, isolation);
    }

    @Override
    public StatefulSinkWriter<IN, JdbcWriterState> restoreWriter(
            WriterInitContext context, Collection<JdbcWriterState> state) throws IOException {
        return isolation == null
                ? new Writer<>(delegate.restoreWriter(context, state))
                : new IsolatingWriter<>(
                        delegate, context, isolation); // at-least-once: nothing to restore
    }

    @Override
    public SimpleVersionedSerializer<JdbcWriterState> getWriterStateSerializer() {
        return delegate.getWriterStateSerializer();
    }

    @Override
    public Committer<JdbcCommitable> createCommitter(CommitterInitContext context)
            throws IOException {
        return delegate.createCommitter(context);
    }

    @Override
    public SimpleVersionedSerializer<JdbcCommitable> getCommittableSerializer() {
        return delegate.getCommittableSerializer();
    }

    /**
     * Closes {@code writer}, logging instead of throwing. Besides exceptions this swallows {@link
     * AssertionError}: PostgreSQL's driver asserts on a connection that died mid-batch
     * ("getAutoCommit() should not throw", seen in {@code ResultStoreOutageITCase} where assertions
     * are on), and that too is fatal to the TaskManager when it escapes a failed task's cleanup.
     * Other errors (out of memory, linkage) still propagate.
     */
    static void closeQuietly(AutoCloseable writer) {
        try {
            writer.close();
        } catch (Exception | AssertionError e) {
            LOG.warn(
                    "Closing the JDBC writer failed ({}); its unflushed records are written again after the"
                            + " restore",
                    e.toString());
        }
    }

    /**
     * Whether {@code failure} is the database refusing a row's content (SQLState class 22 data
     * exception, 23 integrity constraint violation, 54 program limit exceeded) rather than a
     * connection or server fault.
     */
    static boolean isContentRejection(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t
                    instanceof
                    SQLException
                            first) { // a batch's own error, then the rows' errors chained to it
                for (SQLException sql = first; sql != null; sql = sql.getNextException()) {
                    String state = sql.getSQLState();
                    if (state != null
                            && (state.startsWith("22")
                                    || state.startsWith("23")
                                    || state.startsWith("54"))) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** The JDBC writer, with a {@code close()} that logs instead of throwing. */
    static class Writer<IN>
            implements StatefulSinkWriter<IN, JdbcWriterState>,
                    CommittingSinkWriter<IN, JdbcCommitable> {
        /**
         * Replaced by {@link IsolatingWriter} after a failed flush: a JDBC writer keeps a failed
         * batch.
         */
        JdbcWriter<IN> delegate;

        Writer(JdbcWriter<IN> delegate) {
            this.delegate = delegate;
        }

        @Override
        public void write(IN element, Context context) throws IOException, InterruptedException {
            delegate.write(element, context);
        }

        @Override
        public void flush(boolean endOfInput) throws IOException, InterruptedException {
            delegate.flush(endOfInput);
        }

        @Override
        public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
            delegate.writeWatermark(watermark);
        }

        @Override
        public Collection<JdbcCommitable> prepareCommit() throws IOException, InterruptedException {
            return delegate.prepareCommit();
        }

        @Override
        public List<JdbcWriterState> snapshotState(long checkpointId) throws IOException {
            return delegate.snapshotState(checkpointId);
        }

        @Override
        public void close() {
            closeQuietly(delegate);
        }
    }

    /**
     * The at-least-once writer: batches records itself, flushes Flink's JDBC writer (built without
     * batching or retries of its own), retries connection faults, and isolates rows the database
     * rejects for their content.
     */
    static final class IsolatingWriter<IN> extends Writer<IN> {
        private static final SinkWriter.Context NO_CONTEXT =
                new SinkWriter.Context() {
                    @Override
                    public long currentWatermark() {
                        return Long.MIN_VALUE;
                    }

                    @Override
                    public Long timestamp() {
                        return null;
                    }
                };

        private final JdbcSink<IN> sink;
        private final WriterInitContext context;
        private final Isolation<IN> isolation;
        private final Counter rowsRejected;
        private final List<IN> batch = new ArrayList<>();
        private boolean timerSet;

        /** The store's retention, run by the first subtask only; null elsewhere. */
        private final ResultStoreRetention retention;

        IsolatingWriter(JdbcSink<IN> sink, WriterInitContext context, Isolation<IN> isolation)
                throws IOException {
            super(sink.createWriter(context));
            this.sink = sink;
            this.context = context;
            this.isolation = isolation;
            this.rowsRejected = context.metricGroup().counter("resultStoreRowsRejected");
            boolean first = context.getTaskInfo().getIndexOfThisSubtask() == 0;
            this.retention =
                    first && isolation.retention() != null && isolation.retention().deletes()
                            ? new ResultStoreRetention(
                                    isolation.store(), isolation.retention(), context.metricGroup())
                            : null;
            if (retention != null) {
                retention.start();
            }
        }

        @Override
        public void writeWatermark(Watermark watermark) throws IOException, InterruptedException {
            super.writeWatermark(watermark);
            if (retention != null) {
                retention.watermark(watermark.getTimestamp());
            }
        }

        @Override
        public void close() {
            if (retention != null) {
                try {
                    retention.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            super.close();
        }

        @Override
        public void write(IN element, Context ctx) throws IOException, InterruptedException {
            delegate.write(element, ctx);
            batch.add(element);
            if (batch.size() >= isolation.batchSize()) {
                flushBatch();
            } else if (!timerSet && isolation.batchIntervalMs() > 0) {
                timerSet = true;
                var time = context.getProcessingTimeService();
                time.registerTimer(
                        time.getCurrentProcessingTime() + isolation.batchIntervalMs(),
                        t -> {
                            timerSet = false;
                            flushBatch();
                        });
            }
        }

        @Override
        public void flush(boolean endOfInput) throws IOException, InterruptedException {
            flushBatch();
        }

        private void flushBatch() throws IOException, InterruptedException {
            if (batch.isEmpty()) {
                return;
            }
            for (int attempt = 0; ; attempt++) {
                try {
                    delegate.flush(false);
                    batch.clear();
                    return;
                } catch (IOException | RuntimeException e) {
                    if (isContentRejection(e)) {
                        isolate(e);
                        return;
                    }
                    if (attempt >= isolation.maxRetries()) {
                        throw e;
                    }
                    LOG.warn(
                            "Writing {} rows to the result store failed ({}); retry {} of {}",
                            batch.size(),
                            e.toString(),
                            attempt + 1,
                            isolation.maxRetries());
                    Thread.sleep(1_000L * (attempt + 1));
                    replaceDelegate();
                    rewrite(batch);
                }
            }
        }

        /** Writes the failed batch again, row by row, keeping every row the database accepts. */
        private void isolate(Exception failure) throws IOException, InterruptedException {
            List<IN> rows = new ArrayList<>(batch);
            batch.clear();
            LOG.warn(
                    "The result store rejected a row of a batch of {} ({}); writing them one by one",
                    rows.size(),
                    failure.toString());
            replaceDelegate();
            for (IN row : rows) {
                delegate.write(row, NO_CONTEXT);
                try {
                    delegate.flush(false);
                } catch (IOException | RuntimeException e) {
                    if (!isContentRejection(e)) {
                        throw e; // the database went away meanwhile: restart and write the batch
                        // again
                    }
                    rowsRejected.inc();
                    LOG.error(
                            "The result store rejected {} ({}); it is in the predictions topic but not in the"
                                    + " table",
                            isolation.describe().apply(row),
                            e.toString());
                    replaceDelegate();
                }
            }
        }

        private void replaceDelegate() throws IOException {
            closeQuietly(delegate);
            delegate = sink.createWriter(context);
        }

        private void rewrite(List<IN> rows) throws IOException, InterruptedException {
            for (IN row : rows) {
                delegate.write(row, NO_CONTEXT);
            }
        }
    }
}
