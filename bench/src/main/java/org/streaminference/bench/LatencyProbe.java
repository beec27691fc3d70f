package org.streaminference.bench;

import org.streaminference.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;

import java.util.Arrays;

/**
 * Records, per prediction, the time since its event was scheduled, and the first and last output
 * times. The MiniCluster runs in this JVM, so the subtasks hand their figures to static fields when
 * they close.
 */
final class LatencyProbe extends RichMapFunction<Prediction, Prediction> {
    private static final long serialVersionUID = 1L;
    private static long[] all = new long[0];
    private static long[] allScheduled = new long[0];
    private static long first = Long.MAX_VALUE;
    private static long last = Long.MIN_VALUE;
    private static long warmupMicros;

    private transient long[] latencies;
    private transient long[] scheduled;
    private transient int count;
    private transient long localFirst;
    private transient long localLast;

    /** The figures of one run. */
    record Result(long records, double throughput, double p50Millis, double p99Millis) {}

    /**
     * @param warmup events scheduled less than this after the first one are left out of the
     *     latencies
     */
    static synchronized void reset(long warmup) {
        warmupMicros = warmup;
        allScheduled = new long[0];
        all = new long[0];
        first = Long.MAX_VALUE;
        last = Long.MIN_VALUE;
    }

    static synchronized Result result() {
        long firstScheduled = Arrays.stream(allScheduled).min().orElse(0);
        long[] counted = new long[all.length];
        int n = 0;
        for (int i = 0; i < all.length; i++) {
            if (allScheduled[i] >= firstScheduled + warmupMicros) {
                counted[n++] = all[i];
            }
        }
        long[] sorted = Arrays.copyOf(counted, n);
        Arrays.sort(sorted);
        double seconds = (last - first) / 1e9;
        return new Result(
                all.length,
                all.length / Math.max(seconds, 1e-9),
                percentile(sorted, 0.50) / 1000.0,
                percentile(sorted, 0.99) / 1000.0);
    }

    private static long percentile(long[] sorted, double q) {
        return sorted.length == 0
                ? 0
                : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }

    @Override
    public void open(OpenContext openContext) {
        latencies = new long[1 << 16];
        scheduled = new long[1 << 16];
        localFirst = Long.MAX_VALUE;
        localLast = Long.MIN_VALUE;
    }

    @Override
    public Prediction map(Prediction p) {
        long now = System.nanoTime();
        if (count == latencies.length) {
            latencies = Arrays.copyOf(latencies, count * 2);
            scheduled = Arrays.copyOf(scheduled, count * 2);
        }
        scheduled[count] = p.getEventTime();
        latencies[count++] = now / 1_000 - p.getEventTime();
        localFirst = Math.min(localFirst, now);
        localLast = Math.max(localLast, now);
        return p;
    }

    @Override
    public void close() {
        synchronized (LatencyProbe.class) {
            long[] merged = Arrays.copyOf(all, all.length + count);
            System.arraycopy(latencies, 0, merged, all.length, count);
            all = merged;
            long[] mergedScheduled = Arrays.copyOf(allScheduled, allScheduled.length + count);
            System.arraycopy(scheduled, 0, mergedScheduled, allScheduled.length, count);
            allScheduled = mergedScheduled;
            first = Math.min(first, localFirst);
            last = Math.max(last, localLast);
        }
    }
}
