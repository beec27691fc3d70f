package org.streaminference.operators.inference;

import java.io.Serializable;

/**
 * How the micro-batched inference operator forms and runs batches (modelled on Triton's dynamic batcher).
 *
 * @param maxBatchSize      a batch runs as soon as it holds this many records
 * @param maxDelayMillis    ... or when its oldest record has waited this long
 * @param concurrentBatches batches that run at once per subtask, each on its own inference thread
 * @param timeoutMillis     a record not answered within this time becomes a TIMEOUT dead letter
 * @param retries           times a failed batch is retried as a whole before it is split to find bad records
 * @param topK              most probable classes listed in each prediction (0: none)
 * @param ordered           emit results in input order (otherwise as batches finish; watermarks are kept either way)
 * @param capacity          records in flight per subtask (waiting or running); when full, the operator
 *                          back-pressures its input
 */
public record BatchingOptions(
        int maxBatchSize,
        long maxDelayMillis,
        int concurrentBatches,
        long timeoutMillis,
        int retries,
        int topK,
        boolean ordered,
        int capacity)
        implements Serializable {

    public BatchingOptions {
        require(maxBatchSize >= 1, "maxBatchSize must be >= 1");
        require(maxDelayMillis >= 0, "maxDelayMillis must be >= 0");
        require(concurrentBatches >= 1, "concurrentBatches must be >= 1");
        require(timeoutMillis >= 0, "timeoutMillis must be >= 0 (0: no timeout)");
        require(retries >= 0, "retries must be >= 0");
        require(topK >= 0, "topK must be >= 0");
        require(capacity >= maxBatchSize, "capacity must hold at least one full batch");
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Defaults: batches of up to 64 records or 5 ms, 2 at once, 30 s timeout, one retry, unordered. */
    public static BatchingOptions defaults() {
        return new BatchingOptions(64, 5, 2, 30_000, 1, 0, false, 64 * 2 * 2);
    }
}
