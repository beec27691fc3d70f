package org.streaminference.model;

import org.streaminference.model.drift.DriftBaseline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.apache.flink.annotation.PublicEvolving;

import java.nio.FloatBuffer;
import java.util.Map;

/**
 * What the inference operators need of a model version: its manifest, its tokenizer and a
 * thread-safe batch run.
 */
@PublicEvolving
public interface InferenceModel {

    ModelManifest manifest();

    /** The environment tensors for {@link #run(Map)} are created in. */
    OrtEnvironment environment();

    /** The version's tokenizer, or null where no input is fed by one. */
    TextTokenizer tokenizer();

    /** The training baseline drift monitoring compares with, or null where the version has none. */
    default DriftBaseline baseline() {
        return null;
    }

    /**
     * The batch size the model's inputs fix (an export with a fixed first dimension): a version of
     * 1 runs a row at a time, one of N in batches padded to N rows; 0 where the batch is dynamic.
     */
    default int fixedBatch() {
        return manifest().fixedBatch();
    }

    /**
     * What the version answers, as an ensemble combines it: the manifest's contract, classes by
     * label.
     */
    default AnswerContract answerContract() {
        return AnswerContract.of(manifest(), null, -1);
    }

    /**
     * Runs one batch given every input of the manifest by name, and returns the outputs the
     * manifest declares, in its order. The caller closes the result (and its inputs).
     */
    OrtSession.Result run(Map<String, OnnxTensor> inputs) throws OrtException;

    /**
     * As {@link #run(Map)}, with run options another thread may tell to stop the run ({@link
     * TerminableRun}). Models that cannot be stopped ignore them.
     */
    default OrtSession.Result run(Map<String, OnnxTensor> inputs, OrtSession.RunOptions runOptions)
            throws OrtException {
        return run(inputs);
    }

    /**
     * For a model of one FLOAT input: the values in one row (the product of its dimensions after
     * the batch).
     */
    int inputValuesPerRow();

    /**
     * For a model of one FLOAT input and a FLOAT or DOUBLE first output: runs {@code rows} rows
     * held one after another in {@code input} (a direct, native-order buffer is used without a
     * copy) and returns the first output's values of each row. The simple way to run such a model
     * directly, as tests and the per-record baseline do.
     */
    float[][] run(FloatBuffer input, int rows) throws OrtException;
}
