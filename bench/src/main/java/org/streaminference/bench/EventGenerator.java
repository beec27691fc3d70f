package org.streaminference.bench;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.connector.datagen.source.GeneratorFunction;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * Makes the benchmark's events: deterministic features of the model's width. The event time is the
 * scheduled emit time in microseconds of {@link System#nanoTime()} (at a fixed rate, when the event
 * was due, not when it was sent: no coordinated omission), so that the sink can measure each
 * record's latency through the job.
 */
final class EventGenerator implements GeneratorFunction<Long, EnrichedEvent> {
    private static final long serialVersionUID = 1L;
    private final int width;
    private final double ratePerSubtask;
    private transient long start;
    private transient long emitted;

    /**
     * @param ratePerSubtask events per second each source subtask emits; 0 for as fast as possible
     */
    EventGenerator(int width, double ratePerSubtask) {
        this.width = width;
        this.ratePerSubtask = ratePerSubtask;
    }

    /** Name of the numeric field that carries feature {@code i} in Kafka events. */
    static String field(int i) {
        return "f" + i;
    }

    static List<String> fields(int width) {
        return FeatureSpec.indexedFields("f", width);
    }

    static float value(long row, int column) {
        long h = (row * 0x9E3779B97F4A7C15L) ^ (column * 0xC2B2AE3D27D4EB4FL);
        h ^= h >>> 29;
        return (h & 0xFFFF) / 65536f - 0.5f;
    }

    @Override
    public EnrichedEvent map(Long index) {
        long scheduled;
        if (ratePerSubtask > 0) {
            if (emitted == 0) {
                start = System.nanoTime();
            }
            scheduled = start + (long) (emitted++ / ratePerSubtask * 1e9);
            while (System.nanoTime() < scheduled) {
                LockSupport.parkNanos(scheduled - System.nanoTime()); // pacing to the rate
            }
        } else {
            scheduled = System.nanoTime();
        }
        List<Double> features = new ArrayList<>(width);
        for (int c = 0; c < width; c++) {
            features.add((double) value(index, c));
        }
        // constructors, not builders: Avro builders validate and copy, which would dominate a small
        // model's cost
        // the scheduled time, not the actual one: a generator held up by back-pressure counts the
        // wait as latency
        InputEvent event =
                new InputEvent(
                        Long.toString(index),
                        Long.toString(index % 1000),
                        scheduled / 1_000,
                        "bench",
                        Map.of(),
                        Map.of(),
                        Map.of());
        return new EnrichedEvent(
                event,
                new SourcePosition("bench", 0, index, null, null),
                features,
                List.of(),
                List.of(),
                List.of(),
                null);
    }
}
