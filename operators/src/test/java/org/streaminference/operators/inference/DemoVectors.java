package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;

import java.util.ArrayList;
import java.util.List;

/** Feature vectors of the demo model's width for operator tests: the given leading values, then zeros. */
final class DemoVectors {
    private DemoVectors() {}

    static List<Float> of(float... leading) {
        List<Float> vector = new ArrayList<>(DemoModels.FEATURES);
        for (float v : leading) {
            vector.add(v);
        }
        while (vector.size() < DemoModels.FEATURES) {
            vector.add(0f);
        }
        return vector;
    }

    static float[] array(float... leading) {
        float[] vector = new float[DemoModels.FEATURES];
        System.arraycopy(leading, 0, vector, 0, leading.length);
        return vector;
    }
}
