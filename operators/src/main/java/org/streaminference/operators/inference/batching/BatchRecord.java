package org.streaminference.operators.inference.batching;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;

/**
 * A record in a batch, as the batching code sees it: the event whose features the model reads, when
 * it was queued, and the answer it gets once (a batch that times out and a run that finishes late
 * race for it).
 */
@Internal
public interface BatchRecord {
    EnrichedEvent event();

    long enqueuedNanos();

    /**
     * @return whether this was the record's first answer
     */
    boolean complete(Prediction prediction, DeadLetter deadLetter);

    /** Whether the record has its answer. */
    boolean isDone();
}
