package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

import ai.onnxruntime.OrtException;

import java.nio.FloatBuffer;

/** What the inference operators need of a model version: its manifest and a thread-safe batch run. */
@PublicEvolving
public interface InferenceModel {

    ModelManifest manifest();

    /** Float values in one input row: the product of the input dimensions after the batch dimension. */
    int inputValuesPerRow();

    /**
     * Runs {@code rows} rows held one after another in {@code input} (a direct, native-order buffer is used without
     * a copy) and returns the output values of each row.
     */
    float[][] run(FloatBuffer input, int rows) throws OrtException;
}
