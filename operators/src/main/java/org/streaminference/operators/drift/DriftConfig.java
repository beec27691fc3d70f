package org.streaminference.operators.drift;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.time.Duration;

/**
 * How drift is watched: served values are sketched per slice of event time, the monitor compares
 * the last {@code window} of slices with the baseline and calls a value drifting when its
 * population stability index is above {@code psiThreshold} (and no longer once it is below 80% of
 * it, so that a value near the line does not flap).
 */
@PublicEvolving
public final class DriftConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Drift monitoring off: no sketches, no monitor. */
    public static final DriftConfig DISABLED =
            new DriftConfig(false, 60_000, 600_000, 10_000, 0.2, 500, 4);

    private final boolean enabled;
    private final long sliceMillis;
    private final long windowMillis;
    private final long reportIntervalMillis;
    private final double psiThreshold;
    private final long minEvents;
    private final int maxOpenSlices;

    private DriftConfig(
            boolean enabled,
            long sliceMillis,
            long windowMillis,
            long reportIntervalMillis,
            double psiThreshold,
            long minEvents,
            int maxOpenSlices) {
        this.enabled = enabled;
        this.sliceMillis = sliceMillis;
        this.windowMillis = windowMillis;
        this.reportIntervalMillis = reportIntervalMillis;
        this.psiThreshold = psiThreshold;
        this.minEvents = minEvents;
        this.maxOpenSlices = maxOpenSlices;
    }

    public static Builder builder() {
        return new Builder();
    }

    public boolean enabled() {
        return enabled;
    }

    public long sliceMillis() {
        return sliceMillis;
    }

    public long windowMillis() {
        return windowMillis;
    }

    public long reportIntervalMillis() {
        return reportIntervalMillis;
    }

    public double psiThreshold() {
        return psiThreshold;
    }

    public long minEvents() {
        return minEvents;
    }

    /** Slices a subtask sketches at once before it reports early (events far apart in time). */
    public int maxOpenSlices() {
        return maxOpenSlices;
    }

    /** Builds an enabled {@link DriftConfig}; every value has a default. */
    @PublicEvolving
    public static final class Builder {
        private long sliceMillis = 60_000;
        private long windowMillis = 600_000;
        private long reportIntervalMillis = 10_000;
        private double psiThreshold = 0.2;
        private long minEvents = 500;
        private int maxOpenSlices = 4;

        private Builder() {}

        public Builder slice(Duration slice) {
            this.sliceMillis = slice.toMillis();
            return this;
        }

        public Builder window(Duration window) {
            this.windowMillis = window.toMillis();
            return this;
        }

        public Builder reportInterval(Duration interval) {
            this.reportIntervalMillis = interval.toMillis();
            return this;
        }

        public Builder psiThreshold(double psiThreshold) {
            this.psiThreshold = psiThreshold;
            return this;
        }

        public Builder minEvents(long minEvents) {
            this.minEvents = minEvents;
            return this;
        }

        public Builder maxOpenSlices(int maxOpenSlices) {
            this.maxOpenSlices = maxOpenSlices;
            return this;
        }

        public DriftConfig build() {
            Preconditions.checkArgument(sliceMillis > 0, "the drift slice must be positive");
            Preconditions.checkArgument(
                    windowMillis >= sliceMillis && windowMillis / sliceMillis <= 1000,
                    "the drift window must hold 1 to 1000 slices");
            Preconditions.checkArgument(
                    reportIntervalMillis > 0, "the drift report interval must be positive");
            Preconditions.checkArgument(psiThreshold > 0, "the drift threshold must be positive");
            Preconditions.checkArgument(
                    minEvents >= 1, "the drift minimum of events must be at least 1");
            Preconditions.checkArgument(maxOpenSlices >= 1, "at least one slice must be open");
            return new DriftConfig(
                    true,
                    sliceMillis,
                    windowMillis,
                    reportIntervalMillis,
                    psiThreshold,
                    minEvents,
                    maxOpenSlices);
        }
    }
}
