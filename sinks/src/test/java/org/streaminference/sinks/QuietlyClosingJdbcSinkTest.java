package org.streaminference.sinks;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QuietlyClosingJdbcSinkTest {

    @Test
    void aWriterThatFailsToFlushOnCloseDoesNotFailTheCleanup() {
        AtomicInteger closed = new AtomicInteger();
        QuietlyClosingJdbcSink.closeQuietly(() -> {
            closed.incrementAndGet();
            throw new RuntimeException("Writing records to JDBC failed.");
        });
        QuietlyClosingJdbcSink.closeQuietly(() -> {
            closed.incrementAndGet();
            throw new java.io.IOException("Connection has been closed");
        });
        QuietlyClosingJdbcSink.closeQuietly(() -> {
            closed.incrementAndGet();
            throw new AssertionError("pgStatement.getConnection().getAutoCommit() should not throw");
        });
        assertThat(closed).hasValue(3);
    }

    @Test
    void errorsOfTheJvmStillPropagate() {
        assertThatThrownBy(() -> QuietlyClosingJdbcSink.closeQuietly(() -> {
            throw new OutOfMemoryError("test");
        })).isInstanceOf(OutOfMemoryError.class);
    }
}
