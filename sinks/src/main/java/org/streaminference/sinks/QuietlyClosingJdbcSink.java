package org.streaminference.sinks;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSink;
import org.apache.flink.connector.jdbc.core.datastream.sink.committer.JdbcCommitable;
import org.apache.flink.connector.jdbc.core.datastream.sink.writer.JdbcWriter;
import org.apache.flink.connector.jdbc.core.datastream.sink.writer.JdbcWriterState;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Collection;
import java.util.List;

/**
 * Flink's JDBC sink whose writer never fails in {@code close()}. The JDBC writer flushes its buffer when it is
 * closed; when the database is down, that flush throws, and an exception while a failed task is being cleaned up is
 * fatal to the whole TaskManager (seen here: "FATAL - exception in exception handler", then the MiniCluster had no
 * TaskManager left). Dropping that flush loses nothing: the records in the buffer came after the last completed
 * checkpoint (a checkpoint flushes the buffer or fails), so the restarted job writes them again.
 */
final class QuietlyClosingJdbcSink<IN>
        implements Sink<IN>, SupportsWriterState<IN, JdbcWriterState>, SupportsCommitter<JdbcCommitable> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(QuietlyClosingJdbcSink.class);

    private final JdbcSink<IN> delegate;

    QuietlyClosingJdbcSink(JdbcSink<IN> delegate) {
        this.delegate = delegate;
    }

    @Override
    public Writer<IN> createWriter(WriterInitContext context) throws IOException {
        return new Writer<>(delegate.createWriter(context));
    }

    @Override
    public StatefulSinkWriter<IN, JdbcWriterState> restoreWriter(WriterInitContext context,
            Collection<JdbcWriterState> state) throws IOException {
        return new Writer<>(delegate.restoreWriter(context, state));
    }

    @Override
    public SimpleVersionedSerializer<JdbcWriterState> getWriterStateSerializer() {
        return delegate.getWriterStateSerializer();
    }

    @Override
    public Committer<JdbcCommitable> createCommitter(CommitterInitContext context) throws IOException {
        return delegate.createCommitter(context);
    }

    @Override
    public SimpleVersionedSerializer<JdbcCommitable> getCommittableSerializer() {
        return delegate.getCommittableSerializer();
    }

    /**
     * Closes {@code writer}, logging instead of throwing. Besides exceptions this swallows {@link AssertionError}:
     * PostgreSQL's driver asserts on a connection that died mid-batch ("getAutoCommit() should not throw", seen in
     * {@code ResultStoreOutageITCase} where assertions are on), and that too is fatal to the TaskManager when it
     * escapes a failed task's cleanup. Other errors (out of memory, linkage) still propagate.
     */
    static void closeQuietly(AutoCloseable writer) {
        try {
            writer.close();
        } catch (Exception | AssertionError e) {
            LOG.warn("Closing the JDBC writer failed ({}); its unflushed records are written again after the"
                    + " restore", e.toString());
        }
    }

    /** The JDBC writer, with a {@code close()} that logs instead of throwing. */
    static final class Writer<IN>
            implements StatefulSinkWriter<IN, JdbcWriterState>, CommittingSinkWriter<IN, JdbcCommitable> {
        private final JdbcWriter<IN> delegate;

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
}
