package org.streaminference.operators.inference;

import org.apache.flink.annotation.Internal;

import org.streaminference.model.ModelManifest;
import org.streaminference.model.OutputKind;
import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a prediction from one row of model output as the manifest's {@link OutputKind} says: a score, or class
 * probabilities (softmax applied to logits) with the most probable class and its label.
 */
@Internal
public final class PredictionDecoder {

    /** What a row of output means. {@code predictedClass} is null and {@code probabilities} empty for scores. */
    public record Decoded(double score, Integer predictedClass, String predictedLabel, List<Double> probabilities,
            List<ClassScore> topClasses) {
        public boolean isFinite() {
            if (!Double.isFinite(score)) {
                return false;
            }
            for (double p : probabilities) {
                if (!Double.isFinite(p)) {
                    return false;
                }
            }
            return true;
        }
    }

    private final OutputKind kind;
    private final List<String> labels;
    private final int topK;

    public PredictionDecoder(ModelManifest manifest) {
        this(manifest, 0);
    }

    /** @param topK how many of the most probable classes to list in each prediction */
    public PredictionDecoder(ModelManifest manifest, int topK) {
        this.kind = manifest.outputKind();
        this.labels = manifest.labels();
        this.topK = topK;
    }

    /** The prediction for {@code event}. */
    public Prediction toPrediction(EnrichedEvent event, ModelManifest manifest, Decoded decoded, long inferenceTime) {
        // the all-arguments constructor: Avro builders validate and deep-copy every field, which costs more than
        // a small model's run
        return new Prediction(event.getEvent().getEventId(), event.getEvent().getEntityId(), manifest.name(),
                manifest.version(), decoded.score(), decoded.predictedClass(), decoded.predictedLabel(),
                decoded.probabilities(), decoded.topClasses(), event.getEvent().getEventTime(), inferenceTime);
    }

    public Decoded decode(float[] row) {
        if (kind == OutputKind.SCORE) {
            if (row.length != 1) {
                throw new IllegalArgumentException("a SCORE model must output one value per row, got " + row.length);
            }
            return new Decoded(row[0], null, null, List.of(), List.of());
        }
        double[] probabilities = kind == OutputKind.LOGITS ? softmax(row) : toDouble(row);
        int best = 0;
        for (int i = 1; i < probabilities.length; i++) {
            if (probabilities[i] > probabilities[best]) {
                best = i;
            }
        }
        List<Double> list = new ArrayList<>(probabilities.length);
        for (double p : probabilities) {
            list.add(p);
        }
        return new Decoded(probabilities[best], best, label(best), list, top(probabilities));
    }

    private String label(int index) {
        return index < labels.size() ? labels.get(index) : null;
    }

    private List<ClassScore> top(double[] probabilities) {
        if (topK == 0) {
            return List.of();
        }
        Integer[] order = new Integer[probabilities.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(probabilities[b], probabilities[a]));
        List<ClassScore> top = new ArrayList<>(Math.min(topK, order.length));
        for (int i = 0; i < Math.min(topK, order.length); i++) {
            top.add(new ClassScore(order[i], label(order[i]), probabilities[order[i]]));
        }
        return top;
    }

    static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] out = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    private static double[] toDouble(float[] row) {
        double[] out = new double[row.length];
        for (int i = 0; i < row.length; i++) {
            out[i] = row[i];
        }
        return out;
    }
}
