package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;

import java.util.ArrayList;
import java.util.List;

/**
 * Feature vectors of the demo model's width for operator tests: the given leading values, then
 * zeros. The values are float32 numbers (carried as doubles, as the features stage carries them),
 * so a model run directly on the floats gets exactly what the operator gives it.
 */
public final class DemoVectors {
    private DemoVectors() {}

    public static List<Double> of(float... leading) {
        List<Double> vector = new ArrayList<>(DemoModels.FEATURES);
        for (float v : leading) {
            vector.add((double) v);
        }
        while (vector.size() < DemoModels.FEATURES) {
            vector.add(0.0);
        }
        return vector;
    }

    public static float[] array(float... leading) {
        float[] vector = new float[DemoModels.FEATURES];
        System.arraycopy(leading, 0, vector, 0, leading.length);
        return vector;
    }
}
