package org.streaminference.operators.inference;

import org.streaminference.model.ModelManifest;
import org.streaminference.model.OutputKind;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads a prediction from one row of model output as the manifest's {@link OutputKind} says: a score, or class
 * probabilities (softmax applied to logits) with the most probable class and its label.
 */
public final class PredictionDecoder {

    /** What a row of output means. {@code predictedClass} is null and {@code probabilities} empty for scores. */
    public record Decoded(double score, Integer predictedClass, String predictedLabel, List<Double> probabilities) {
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

    public PredictionDecoder(ModelManifest manifest) {
        this.kind = manifest.outputKind();
        this.labels = manifest.labels();
    }

    public Decoded decode(float[] row) {
        if (kind == OutputKind.SCORE) {
            if (row.length != 1) {
                throw new IllegalArgumentException("a SCORE model must output one value per row, got " + row.length);
            }
            return new Decoded(row[0], null, null, List.of());
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
        String label = best < labels.size() ? labels.get(best) : null;
        return new Decoded(probabilities[best], best, label, list);
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
