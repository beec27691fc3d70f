package org.streaminference.model;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.apache.flink.annotation.Internal;

/**
 * One ONNX Runtime run that another thread can stop, through ONNX Runtime's own run termination
 * ({@link OrtSession.RunOptions#setTerminate}): the run ends with an error at its next node, even
 * inside a loop. ONNX Runtime does not listen to interrupts, and closing a session or its run
 * options while a run is active crashes the JVM; so a stuck run (a warm-up that never ends, a batch
 * past its timeout) is stopped this way, and its session is closed only after the run has returned.
 * {@link #terminate} and {@link #close} exclude each other, so the run options are never touched
 * after they are freed.
 */
@Internal
public final class TerminableRun implements AutoCloseable {
    private final OrtSession.RunOptions options;
    private boolean terminated;
    private boolean closed;

    private TerminableRun(OrtSession.RunOptions options) {
        this.options = options;
    }

    /**
     * A run about to start; pass {@link #options()} to the session's run, and close this after it
     * returned.
     */
    public static TerminableRun start() throws OrtException {
        return new TerminableRun(new OrtSession.RunOptions());
    }

    public OrtSession.RunOptions options() {
        return options;
    }

    /** Stops the run at its next node; does nothing once it has been closed. Any thread. */
    public synchronized void terminate() {
        if (closed || terminated) {
            return;
        }
        try {
            options.setTerminate(true);
            terminated = true;
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime refused to stop a run", e);
        }
    }

    /**
     * Whether the run was told to stop: an error it ends with is then the termination, not the
     * model's.
     */
    public synchronized boolean terminated() {
        return terminated;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            options.close();
        }
    }
}
