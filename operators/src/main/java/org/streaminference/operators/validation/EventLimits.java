package org.streaminference.operators.validation;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.time.Duration;

/**
 * Bounds on an input event that are checked before it is decoded or stored.
 *
 * @param maxEventBytes larger record values are {@code RECORD_TOO_LARGE} dead letters, before any
 *     decoding
 * @param maxFutureSkew events whose time is further than this ahead of the validating machine's
 *     clock are {@code FUTURE_EVENT} dead letters: one such event would otherwise freeze its
 *     entity's latest prediction and feature state until that date
 */
@PublicEvolving
public record EventLimits(int maxEventBytes, Duration maxFutureSkew) implements Serializable {
    public static final int DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
    public static final Duration DEFAULT_MAX_FUTURE_SKEW = Duration.ofHours(1);

    public EventLimits {
        Preconditions.checkArgument(
                maxEventBytes > 0, "maxEventBytes must be positive, got %s", maxEventBytes);
        Preconditions.checkArgument(
                maxFutureSkew != null && !maxFutureSkew.isNegative(),
                "maxFutureSkew must be zero or positive");
    }

    public static EventLimits defaults() {
        return new EventLimits(DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_FUTURE_SKEW);
    }
}
