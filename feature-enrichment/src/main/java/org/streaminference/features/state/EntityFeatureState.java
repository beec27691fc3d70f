package org.streaminference.features.state;

import org.apache.flink.annotation.Internal;

import java.util.Arrays;

/**
 * One entity's feature state, shaped by its spec's {@link FeatureEngine}: the entity's event-time
 * clock, one ring of buckets per distinct (field, window, slide), decayed sums and the last values.
 * Lives in keyed state as the bytes {@link FeatureEngine#encode} writes.
 */
@Internal
public final class EntityFeatureState {
    /**
     * The newest event time counted for the entity; {@link Long#MIN_VALUE} before its first event.
     */
    long maxEventTime = Long.MIN_VALUE;

    /**
     * The event-time timer that expires the entity, or {@link Long#MIN_VALUE} when none is
     * registered.
     */
    long expiryTimer = Long.MIN_VALUE;

    final WindowBuckets[] windows;
    final DistinctBuckets[] distincts;
    final double[] decayedSums;
    final double[] decayedWeights;
    final long[] lastTimes;
    final double[] lastValues;

    EntityFeatureState(
            WindowBuckets[] windows, DistinctBuckets[] distincts, int decayed, int lasts) {
        this.windows = windows;
        this.distincts = distincts;
        this.decayedSums = new double[decayed];
        this.decayedWeights = new double[decayed];
        this.lastTimes = new long[lasts];
        Arrays.fill(lastTimes, Long.MIN_VALUE);
        this.lastValues = new double[lasts];
    }

    /** Whether the entity has had an event since its state was created. */
    public boolean seen() {
        return maxEventTime != Long.MIN_VALUE;
    }

    public long maxEventTime() {
        return maxEventTime;
    }

    public long expiryTimer() {
        return expiryTimer;
    }

    public void expiryTimer(long timestamp) {
        expiryTimer = timestamp;
    }
}
