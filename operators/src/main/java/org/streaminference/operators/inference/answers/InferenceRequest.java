package org.streaminference.operators.inference.answers;

import org.streaminference.operators.inference.batching.BatchRecord;
import org.streaminference.operators.inference.control.ServedVersion;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;

import java.util.concurrent.atomic.AtomicReference;

/**
 * One record waiting for its answer from one model version: a prediction or a dead letter,
 * whichever an inference thread or the batch timeout sets first.
 */
@Internal
public final class InferenceRequest extends PendingAnswer implements BatchRecord {
    public final ServedVersion version;
    private final long enqueuedNanos;
    private final AtomicReference<Object> answer = new AtomicReference<>();

    /**
     * @param model the model {@code version} is a version of
     */
    public InferenceRequest(
            EnrichedEvent event, long timestamp, String model, ServedVersion version) {
        super(event, timestamp, model);
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

    @Override
    public Prediction prediction() {
        return answer.get() instanceof Prediction p ? p : null;
    }

    @Override
    public DeadLetter deadLetter() {
        return answer.get() instanceof DeadLetter d ? d : null;
    }
}
