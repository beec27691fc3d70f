package org.streaminference.query;

import org.apache.flink.annotation.Internal;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** A token bucket per API key: {@code burst} requests at once, refilled at {@code perSecond}. */
@Internal
public final class RateLimiter {
    private final double perSecond;
    private final int burst;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    public RateLimiter(double perSecond, int burst) {
        if (perSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException(
                    "the rate must be positive and the burst at least 1");
        }
        this.perSecond = perSecond;
        this.burst = burst;
    }

    /**
     * Takes a token for {@code key}: 0 if the request may go, else the milliseconds until it may.
     */
    public long tryAcquire(String key) {
        return buckets.computeIfAbsent(key, k -> new Bucket()).take(System.nanoTime());
    }

    private final class Bucket {
        private double tokens = burst;
        private long refilledAt = System.nanoTime();

        synchronized long take(long now) {
            tokens = Math.min(burst, tokens + (now - refilledAt) / 1e9 * perSecond);
            refilledAt = now;
            if (tokens >= 1) {
                tokens -= 1;
                return 0;
            }
            return Math.max(
                    1, (long) Math.ceil((1 - tokens) / perSecond * TimeUnit.SECONDS.toMillis(1)));
        }
    }
}
