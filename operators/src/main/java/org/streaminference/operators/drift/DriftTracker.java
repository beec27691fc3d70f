package org.streaminference.operators.drift;

import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.schemas.DriftSketch;
import org.streaminference.schemas.Prediction;

import com.tdunning.math.stats.MergingDigest;
import com.tdunning.math.stats.TDigest;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sketches what one subtask serves with one model version, per slice of event time: a t-digest per
 * feature its baseline names and of the scores, or a count per class. Memory is bounded by the
 * slices open at once; the operator drains them into {@link DriftSketch}es for the monitor. Task
 * thread only.
 */
@Internal
public final class DriftTracker {
    /** t-digest compression: about 1% quantile error in the tails, a few KB per digest. */
    static final double COMPRESSION = 100;

    private final String model;
    private final String version;
    private final DriftBaseline baseline;
    private final String baselineJson;
    private final int[] featureIndices;
    private final DriftConfig config;
    private final Map<Long, Slice> slices = new LinkedHashMap<>();
    private boolean baselineSent;

    private static final class Slice {
        final TDigest[] features;
        final TDigest score;
        final Map<String, Long> classes;
        long count;

        Slice(int features, boolean score, boolean classes) {
            this.features = new TDigest[features];
            for (int i = 0; i < features; i++) {
                this.features[i] = new MergingDigest(COMPRESSION);
            }
            this.score = score ? new MergingDigest(COMPRESSION) : null;
            this.classes = classes ? new HashMap<>() : null;
        }
    }

    /**
     * @param featureIndices where each feature the baseline names is among the enriched event's
     *     float features
     */
    public DriftTracker(
            String model,
            String version,
            DriftBaseline baseline,
            int[] featureIndices,
            DriftConfig config) {
        if (featureIndices.length != baseline.features().size()) {
            throw new IllegalArgumentException("one index per baseline feature");
        }
        this.model = model;
        this.version = version;
        this.baseline = baseline;
        this.baselineJson = new String(baseline.toJson(), StandardCharsets.UTF_8);
        this.featureIndices = featureIndices.clone();
        this.config = config;
    }

    /**
     * Adds one served record. Returns true when more slices are open than the config allows, so
     * that the caller drains them now.
     */
    public boolean add(List<Double> features, Prediction prediction, long eventTime) {
        long sliceStart = Math.floorDiv(eventTime, config.sliceMillis()) * config.sliceMillis();
        Slice slice = slices.get(sliceStart);
        if (slice == null) {
            DriftBaseline.Predictions p = baseline.prediction();
            slice =
                    new Slice(
                            featureIndices.length,
                            p != null && p.score() != null,
                            p != null && p.classes() != null);
            slices.put(sliceStart, slice);
        }
        for (int i = 0; i < featureIndices.length; i++) {
            int at = featureIndices[i];
            if (at < features.size()) {
                double value = features.get(at);
                if (Double.isFinite(value)) {
                    slice.features[i].add(value);
                }
            }
        }
        if (slice.score != null && Double.isFinite(prediction.getScore())) {
            slice.score.add(prediction.getScore());
        }
        if (slice.classes != null) {
            String label =
                    prediction.getPredictedLabel() != null
                            ? prediction.getPredictedLabel()
                            : prediction.getPredictedClass() != null
                                    ? String.valueOf(prediction.getPredictedClass())
                                    : null;
            if (label != null
                    && (slice.classes.size() < DriftBaseline.MAX_CLASSES
                            || slice.classes.containsKey(label))) {
                slice.classes.merge(label, 1L, Long::sum);
            }
        }
        slice.count++;
        return slices.size() > config.maxOpenSlices();
    }

    /**
     * The sketches of every open slice, which are closed; empty when nothing was served since the
     * last drain.
     */
    public List<DriftSketch> drain(int subtask) {
        List<DriftSketch> out = new ArrayList<>(slices.size());
        for (Map.Entry<Long, Slice> e : slices.entrySet()) {
            Slice slice = e.getValue();
            List<ByteBuffer> features = new ArrayList<>(slice.features.length);
            for (TDigest digest : slice.features) {
                features.add(bytes(digest));
            }
            Map<String, Long> classes =
                    slice.classes == null ? Map.of() : new HashMap<>(slice.classes);
            out.add(
                    DriftSketch.newBuilder()
                            .setModel(model)
                            .setVersion(version)
                            .setSubtask(subtask)
                            .setSliceStart(e.getKey())
                            .setCount(slice.count)
                            .setFeatures(features)
                            .setScore(slice.score == null ? null : bytes(slice.score))
                            .setClasses(classes)
                            .setBaseline(baselineSent ? null : baselineJson)
                            .build());
            baselineSent = true;
        }
        slices.clear();
        return out;
    }

    static ByteBuffer bytes(TDigest digest) {
        ByteBuffer buffer = ByteBuffer.allocate(digest.smallByteSize());
        digest.asSmallBytes(buffer);
        buffer.flip();
        return buffer;
    }

    static MergingDigest digest(ByteBuffer bytes) {
        return MergingDigest.fromBytes(bytes.duplicate());
    }
}
