package org.streaminference.model;

import org.streaminference.model.drift.DriftBaseline;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.apache.flink.annotation.PublicEvolving;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A verified model version with its open ONNX Runtime session (and tokenizer, where it has one).
 * Thread-safe for {@link #run}; {@link #close()} must not be called while a run is in flight (ONNX
 * Runtime crashes the JVM then), which the owner guarantees.
 */
@PublicEvolving
public final class LoadedModel implements InferenceModel, AutoCloseable {
    private final ModelManifest manifest;
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final TextTokenizer tokenizer;
    private DriftBaseline baseline;
    private final Set<String> outputNames;
    private volatile long loadTimeMillis = -1;
    private final ExecutionProvider executionProvider;
    private final boolean fellBackToCpu;
    private final int fixedBatch;
    private AnswerContract answerContract;

    LoadedModel(
            ModelManifest manifest,
            OrtEnvironment environment,
            OrtSession session,
            TextTokenizer tokenizer,
            ExecutionProvider executionProvider,
            boolean fellBackToCpu,
            int fixedBatch) {
        this.fixedBatch = fixedBatch;
        this.manifest = manifest;
        this.environment = environment;
        this.session = session;
        this.tokenizer = tokenizer;
        this.executionProvider = executionProvider;
        this.fellBackToCpu = fellBackToCpu;
        this.outputNames = new LinkedHashSet<>();
        manifest.outputs().forEach(o -> outputNames.add(o.name()));
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

    @Override
    public OrtEnvironment environment() {
        return environment;
    }

    @Override
    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public DriftBaseline baseline() {
        return baseline;
    }

    /** Set by the loader, after it checked the baseline's sha256 and contents. */
    void baseline(DriftBaseline baseline) {
        this.baseline = baseline;
    }

    /**
     * The batch size the model's inputs fix (the model's own, which the loader checked against the
     * manifest).
     */
    @Override
    public int fixedBatch() {
        return fixedBatch;
    }

    @Override
    public AnswerContract answerContract() {
        return answerContract != null ? answerContract : InferenceModel.super.answerContract();
    }

    /** Set by the loader from the warm-up run: a ZipMap's classes show only when the model runs. */
    void answerContract(AnswerContract contract) {
        this.answerContract = contract;
    }

    void markLoaded(long loadTimeMillis) {
        this.loadTimeMillis = loadTimeMillis;
    }

    /** Time spent fetching, verifying, opening and warming up this version. */
    public long loadTimeMillis() {
        return loadTimeMillis;
    }

    @Override
    public OrtSession.Result run(Map<String, OnnxTensor> inputs) throws OrtException {
        return session.run(inputs, outputNames);
    }

    @Override
    public OrtSession.Result run(Map<String, OnnxTensor> inputs, OrtSession.RunOptions runOptions)
            throws OrtException {
        return session.run(inputs, outputNames, runOptions);
    }

    @Override
    public int inputValuesPerRow() {
        ModelInput only = onlyFloatInput();
        return only.tensor().valuesPerRow();
    }

    @Override
    public float[][] run(FloatBuffer input, int rows) throws OrtException {
        ModelInput only = onlyFloatInput();
        int perRow = only.tensor().valuesPerRow();
        if (input.remaining() != rows * perRow) {
            throw new IllegalArgumentException(
                    "expected "
                            + rows * perRow
                            + " input values for "
                            + rows
                            + " rows, got "
                            + input.remaining());
        }
        try (OnnxTensor tensor =
                        OnnxTensor.createTensor(
                                environment, input, only.tensor().batchShape(rows));
                OrtSession.Result result = run(Map.of(only.name(), tensor))) {
            OnnxTensor out = (OnnxTensor) result.get(0);
            float[][] rowsOut;
            if (manifest.outputs().get(0).elementType() == ElementType.DOUBLE) {
                DoubleBuffer values = out.getDoubleBuffer();
                rowsOut = new float[rows][values.remaining() / rows];
                for (float[] row : rowsOut) {
                    for (int i = 0; i < row.length; i++) {
                        row[i] = (float) values.get();
                    }
                }
            } else {
                FloatBuffer values = out.getFloatBuffer();
                rowsOut = new float[rows][values.remaining() / rows];
                for (float[] row : rowsOut) {
                    values.get(row);
                }
            }
            return rowsOut;
        }
    }

    private ModelInput onlyFloatInput() {
        if (manifest.inputs().size() != 1
                || manifest.inputs().get(0).elementType() != ElementType.FLOAT) {
            throw new UnsupportedOperationException(
                    manifest.id()
                            + " does not have exactly one FLOAT input: run it"
                            + " with named inputs");
        }
        return manifest.inputs().get(0);
    }

    @Override
    public void close() throws OrtException {
        try {
            session.close();
        } finally {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
    }
}
