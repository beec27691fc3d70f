package org.streaminference.operators.inference;

import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import java.util.concurrent.atomic.AtomicReference;

/**
 * One record waiting for its answer from one model version: a prediction or a dead letter, whichever an inference
 * thread or the batch timeout sets first.
 */
final class InferenceRequest implements BatchRunner.Pending, InferenceQueue.Request {
    /** The timestamp of a record that has none. */
    static final long NO_TIMESTAMP = Long.MIN_VALUE;

    final EnrichedEvent event;
    final long timestamp;
    final ServedVersion version;
    private final long enqueuedNanos;
    private final AtomicReference<Object> answer = new AtomicReference<>();

    InferenceRequest(EnrichedEvent event, long timestamp, ServedVersion version) {
        this.event = event;
        this.timestamp = timestamp;
        this.version = version;
        this.enqueuedNanos = System.nanoTime();
    }

    @Override
    public EnrichedEvent event() {
        return event;
    }

    @Override
    public long enqueuedNanos() {
        return enqueuedNanos;
    }

    @Override
    public boolean complete(Prediction prediction, DeadLetter deadLetter) {
        return answer.compareAndSet(null, prediction != null ? prediction : deadLetter);
    }

    @Override
    public boolean isDone() {
        return answer.get() != null;
    }

    /** The prediction, or null when the answer is a dead letter (or there is none yet). */
    Prediction prediction() {
        return answer.get() instanceof Prediction p ? p : null;
    }

    /** The dead letter, or null when the answer is a prediction (or there is none yet). */
    DeadLetter deadLetter() {
        return answer.get() instanceof DeadLetter d ? d : null;
    }
}
