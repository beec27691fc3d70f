package org.streaminference.operators.inference.answers;

import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;

/**
 * One answer an event is owed by one target of its route, a model or an ensemble: a prediction or a
 * dead letter. An event that fans out to several targets is owed one answer by each, and a
 * checkpoint keeps each unanswered one with its target, so that a restore runs again exactly the
 * answers that were not emitted.
 */
@Internal
public abstract class PendingAnswer implements InferenceQueue.Request {
    /** The timestamp of a record that has none. */
    public static final long NO_TIMESTAMP = Long.MIN_VALUE;

    public final EnrichedEvent event;
    public final long timestamp;

    /** The model or ensemble that owes the answer. */
    public final String target;

    PendingAnswer(EnrichedEvent event, long timestamp, String target) {
        this.event = event;
        this.timestamp = timestamp;
        this.target = target;
    }

    /**
     * The prediction, or null when the answer is a dead letter (or there is none yet). Task thread.
     */
    public abstract Prediction prediction();

    /**
     * The dead letter, or null when the answer is a prediction (or there is none yet). Task thread.
     */
    public abstract DeadLetter deadLetter();

    /** An answer known before any model runs: the event's target cannot serve it. */
    public static PendingAnswer deadLetter(
            EnrichedEvent event, long timestamp, String target, DeadLetter letter) {
        return new PendingAnswer(event, timestamp, target) {
            @Override
            public Prediction prediction() {
                return null;
            }

            @Override
            public DeadLetter deadLetter() {
                return letter;
            }

            @Override
            public boolean isDone() {
                return true;
            }
        };
    }
}
