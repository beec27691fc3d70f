package org.streaminference.operators.inference.batching;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.util.Objects;

/**
 * How the micro-batched inference operator forms and runs batches (modelled on Triton's dynamic
 * batcher). Built with {@link #builder()}, which starts from the defaults and checks the values
 * when it builds.
 */
@PublicEvolving
public final class BatchingConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    private final int maxBatchSize;
    private final long maxDelayMillis;
    private final int concurrentBatches;
    private final long timeoutMillis;
    private final int retries;
    private final int topK;
    private final boolean ordered;
    private final int capacity;
    private final boolean dispatchWhenIdle;
    private final long taskThreadBelowMicros;

    private BatchingConfig(Builder b) {
        this.maxBatchSize = b.maxBatchSize;
        this.maxDelayMillis = b.maxDelayMillis;
        this.concurrentBatches = b.concurrentBatches;
        this.timeoutMillis = b.timeoutMillis;
        this.retries = b.retries;
        this.topK = b.topK;
        this.ordered = b.ordered;
        this.dispatchWhenIdle = b.dispatchWhenIdle;
        this.taskThreadBelowMicros = b.taskThreadBelowMicros;
        this.capacity = b.capacity != null ? b.capacity : 2 * b.maxBatchSize * b.concurrentBatches;
    }

    /**
     * Defaults: batches of up to 64 records or 5 ms, 2 at once, 30 s timeout, one retry, unordered.
     */
    public static BatchingConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A batch cut on the task thread while no other batch runs is run right there, instead of on an
     * inference thread, when the version's recent batches took less than this (µs; 0: never): for
     * such a model the hand-off (waking an inference thread, then the task thread with the answers)
     * costs more than the run.
     */
    public long taskThreadBelowMicros() {
        return taskThreadBelowMicros;
    }

    /** A batch runs as soon as it holds this many records... */
    public int maxBatchSize() {
        return maxBatchSize;
    }

    /** ... or when its oldest record has waited this long. */
    public long maxDelayMillis() {
        return maxDelayMillis;
    }

    /** Batches that run at once per subtask, each on its own inference thread. */
    public int concurrentBatches() {
        return concurrentBatches;
    }

    /** A record not answered within this time becomes a TIMEOUT dead letter; 0 for none. */
    public long timeoutMillis() {
        return timeoutMillis;
    }

    /** Times a failed batch is retried as a whole before it is split to find the bad records. */
    public int retries() {
        return retries;
    }

    /** Most probable classes listed in each prediction (0: none). */
    public int topK() {
        return topK;
    }

    /**
     * Emit results in input order (otherwise as batches finish; watermarks are kept either way).
     */
    public boolean ordered() {
        return ordered;
    }

    /**
     * Records in flight per subtask (waiting or running); when full, the operator back-pressures
     * its input.
     */
    public int capacity() {
        return capacity;
    }

    /**
     * Whether, while no batch is running, pending records run a pace ({@code maxDelay / 8}) after
     * the last batch at the latest, instead of waiting for the batch to fill or for the delay: a
     * lightly loaded job answers without the delay, and a loaded one still batches by size and
     * delay (see {@link MicroBatcher}).
     */
    public boolean dispatchWhenIdle() {
        return dispatchWhenIdle;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchingConfig c
                && maxBatchSize == c.maxBatchSize
                && maxDelayMillis == c.maxDelayMillis
                && concurrentBatches == c.concurrentBatches
                && timeoutMillis == c.timeoutMillis
                && retries == c.retries
                && topK == c.topK
                && ordered == c.ordered
                && capacity == c.capacity
                && dispatchWhenIdle == c.dispatchWhenIdle
                && taskThreadBelowMicros == c.taskThreadBelowMicros;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                maxBatchSize,
                maxDelayMillis,
                concurrentBatches,
                timeoutMillis,
                retries,
                topK,
                ordered,
                capacity,
                dispatchWhenIdle,
                taskThreadBelowMicros);
    }

    @Override
    public String toString() {
        return "batches of up to "
                + maxBatchSize
                + " records or "
                + maxDelayMillis
                + " ms, "
                + concurrentBatches
                + " at once, timeout "
                + timeoutMillis
                + " ms, "
                + retries
                + " retries, top "
                + topK
                + ", "
                + (ordered ? "ordered" : "unordered")
                + ", capacity "
                + capacity
                + (dispatchWhenIdle ? ", dispatched a pace after the last batch when idle" : "")
                + (taskThreadBelowMicros > 0
                        ? ", on the task thread while batches take under "
                                + taskThreadBelowMicros
                                + " µs"
                        : "");
    }

    /** Builds a {@link BatchingConfig}; unset values keep their defaults. */
    @PublicEvolving
    public static final class Builder {
        private int maxBatchSize = 64;
        private long maxDelayMillis = 5;
        private int concurrentBatches = 2;
        private long timeoutMillis = 30_000;
        private int retries = 1;
        private int topK;
        private boolean ordered;

        /** Null: twice what the concurrent batches hold at once. */
        private Integer capacity;

        private boolean dispatchWhenIdle;
        private long taskThreadBelowMicros;

        private Builder() {}

        /** See {@link BatchingConfig#taskThreadBelowMicros()}; 0 (never) unless set. */
        public Builder taskThreadBelowMicros(long taskThreadBelowMicros) {
            this.taskThreadBelowMicros = taskThreadBelowMicros;
            return this;
        }

        public Builder maxBatchSize(int maxBatchSize) {
            this.maxBatchSize = maxBatchSize;
            return this;
        }

        public Builder maxDelayMillis(long maxDelayMillis) {
            this.maxDelayMillis = maxDelayMillis;
            return this;
        }

        public Builder concurrentBatches(int concurrentBatches) {
            this.concurrentBatches = concurrentBatches;
            return this;
        }

        public Builder timeoutMillis(long timeoutMillis) {
            this.timeoutMillis = timeoutMillis;
            return this;
        }

        public Builder retries(int retries) {
            this.retries = retries;
            return this;
        }

        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        public Builder ordered(boolean ordered) {
            this.ordered = ordered;
            return this;
        }

        /**
         * See {@link BatchingConfig#dispatchWhenIdle()}; off unless set (batches by size and delay
         * only).
         */
        public Builder dispatchWhenIdle(boolean dispatchWhenIdle) {
            this.dispatchWhenIdle = dispatchWhenIdle;
            return this;
        }

        /** Records in flight per subtask; unset: {@code 2 * maxBatchSize * concurrentBatches}. */
        public Builder capacity(int capacity) {
            this.capacity = capacity;
            return this;
        }

        public BatchingConfig build() {
            Preconditions.checkArgument(
                    maxBatchSize >= 1, "maxBatchSize must be >= 1, got %s", maxBatchSize);
            Preconditions.checkArgument(
                    maxDelayMillis >= 0, "maxDelayMillis must be >= 0, got %s", maxDelayMillis);
            Preconditions.checkArgument(
                    concurrentBatches >= 1,
                    "concurrentBatches must be >= 1, got %s",
                    concurrentBatches);
            Preconditions.checkArgument(
                    timeoutMillis >= 0,
                    "timeoutMillis must be >= 0 (0: no timeout), got %s",
                    timeoutMillis);
            Preconditions.checkArgument(
                    taskThreadBelowMicros >= 0,
                    "taskThreadBelowMicros must be >= 0 (0: never), got %s",
                    taskThreadBelowMicros);
            Preconditions.checkArgument(retries >= 0, "retries must be >= 0, got %s", retries);
            Preconditions.checkArgument(topK >= 0, "topK must be >= 0, got %s", topK);
            Preconditions.checkArgument(
                    capacity == null || capacity >= maxBatchSize,
                    "capacity (%s) must hold at least one full batch (%s)",
                    capacity,
                    maxBatchSize);
            return new BatchingConfig(this);
        }
    }
}
