package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** How records are batched for a model version. */
@PublicEvolving
public enum BatchingPolicy {
    /**
     * Records are micro-batched as the job's batching options say; a row's result does not depend
     * on its batch.
     */
    DYNAMIC,
    /**
     * Every record runs alone (batch size 1): for models whose results depend on their batch
     * neighbours, such as dynamically quantized transformers, whose activations are quantized with
     * ranges taken over the whole batch.
     */
    SINGLE
}
