package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.Map;
import java.util.Set;

/**
 * A verified model version with its open ONNX Runtime session. Thread-safe for {@link #run}; {@link #close()}
 * must not be called while a run is in flight (ONNX Runtime crashes the JVM then), which the owner guarantees.
 */
@PublicEvolving
public final class LoadedModel implements InferenceModel, AutoCloseable {
    private final ModelManifest manifest;
    private final OrtEnvironment environment;
    private final OrtSession session;
    private volatile long loadTimeMillis = -1;
    private final int inputValuesPerRow;
    private final ExecutionProvider executionProvider;
    private final boolean fellBackToCpu;

    LoadedModel(ModelManifest manifest, OrtEnvironment environment, OrtSession session,
            ExecutionProvider executionProvider, boolean fellBackToCpu) {
        this.manifest = manifest;
        this.environment = environment;
        this.session = session;
        this.executionProvider = executionProvider;
        this.fellBackToCpu = fellBackToCpu;
        this.inputValuesPerRow = manifest.input().valuesPerRow();
    }

    /** Where the session actually runs. */
    public ExecutionProvider executionProvider() {
        return executionProvider;
    }

    /** True when CUDA was asked for but could not start, and the session runs on CPU instead. */
    public boolean fellBackToCpu() {
        return fellBackToCpu;
    }

    @Override
    public ModelManifest manifest() {
        return manifest;
    }

    void markLoaded(long loadTimeMillis) {
        this.loadTimeMillis = loadTimeMillis;
    }

    /** Time spent fetching, verifying, opening and warming up this version. */
    public long loadTimeMillis() {
        return loadTimeMillis;
    }

    @Override
    public int inputValuesPerRow() {
        return inputValuesPerRow;
    }

    @Override
    public float[][] run(FloatBuffer input, int rows) throws OrtException {
        if (input.remaining() != rows * inputValuesPerRow) {
            throw new IllegalArgumentException(
                    "expected " + rows * inputValuesPerRow + " input values for " + rows + " rows, got "
                            + input.remaining());
        }
        String inputName = manifest.input().name();
        String outputName = manifest.output().name();
        try (OnnxTensor tensor = OnnxTensor.createTensor(environment, input, manifest.input().batchShape(rows));
                OrtSession.Result result = session.run(Map.of(inputName, tensor), Set.of(outputName))) {
            OnnxTensor out = (OnnxTensor) result.get(0);
            FloatBuffer values = out.getFloatBuffer();
            int perRow = values.remaining() / rows;
            float[][] rowsOut = new float[rows][perRow];
            for (float[] row : rowsOut) {
                values.get(row);
            }
            return rowsOut;
        }
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
