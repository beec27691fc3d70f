package org.streaminference.bench;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.streaminference.schemas.Prediction;

import java.util.Arrays;

/**
 * Records, per prediction, the time since its event was emitted, and the first and last output times. The
 * MiniCluster runs in this JVM, so the subtasks hand their figures to static fields when they close.
 */
final class LatencyProbe extends RichMapFunction<Prediction, Prediction> {
    private static final long serialVersionUID = 1L;
    private static long[] all = new long[0];
    private static long first = Long.MAX_VALUE;
    private static long last = Long.MIN_VALUE;

    private transient long[] latencies;
    private transient int count;
    private transient long localFirst;
    private transient long localLast;

    /** The figures of one run. */
    record Result(long records, double throughput, double p50Millis, double p99Millis) {}

    static synchronized void reset() {
        all = new long[0];
        first = Long.MAX_VALUE;
        last = Long.MIN_VALUE;
    }

    static synchronized Result result() {
        long[] sorted = all.clone();
        Arrays.sort(sorted);
        double seconds = (last - first) / 1e9;
        return new Result(sorted.length, sorted.length / Math.max(seconds, 1e-9),
                percentile(sorted, 0.50) / 1000.0, percentile(sorted, 0.99) / 1000.0);
    }

    private static long percentile(long[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }

    @Override
    public void open(OpenContext openContext) {
        latencies = new long[1 << 16];
        localFirst = Long.MAX_VALUE;
        localLast = Long.MIN_VALUE;
    }

    @Override
    public Prediction map(Prediction p) {
        long now = System.nanoTime();
        if (count == latencies.length) {
            latencies = Arrays.copyOf(latencies, count * 2);
        }
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
            first = Math.min(first, localFirst);
            last = Math.max(last, localLast);
        }
    }
}
