package org.streaminference.operators.inference;

import org.streaminference.model.AnswerContract;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.TextTokenizer;
import org.streaminference.operators.inference.control.ModelProvider;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The real demo model, instrumented for operator tests: records the size of every batch it runs,
 * fails a batch holding a row whose first feature is {@link #FAIL}, and holds a batch with a row
 * whose first feature is {@link #BLOCK} until {@link #release()}.
 */
final class InstrumentedModel implements InferenceModel {
    static final float FAIL = -666f;
    static final float BLOCK = -777f;

    /** The model the test provider hands to operators; set by each test. */
    static volatile InstrumentedModel current;

    final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
    final CountDownLatch blockedEntered = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);
    private final LoadedModel delegate;

    InstrumentedModel(LoadedModel delegate) {
        this.delegate = delegate;
    }

    void release() {
        released.countDown();
    }

    /** A provider that serves {@link #current}. */
    static ModelProvider provider() {
        return (context, location) ->
                new ModelProvider.Handle() {
                    @Override
                    public InferenceModel model() {
                        return current;
                    }

                    @Override
                    public void close() {}
                };
    }

    @Override
    public ModelManifest manifest() {
        return delegate.manifest();
    }

    @Override
    public int fixedBatch() {
        return delegate.fixedBatch();
    }

    @Override
    public AnswerContract answerContract() {
        return delegate.answerContract();
    }

    @Override
    public int inputValuesPerRow() {
        return delegate.inputValuesPerRow();
    }

    @Override
    public OrtEnvironment environment() {
        return delegate.environment();
    }

    @Override
    public TextTokenizer tokenizer() {
        return null;
    }

    @Override
    public float[][] run(FloatBuffer input, int rows) throws OrtException {
        return delegate.run(input, rows);
    }

    @Override
    public OrtSession.Result run(Map<String, OnnxTensor> inputs) throws OrtException {
        OnnxTensor features = inputs.values().iterator().next();
        int rows = (int) features.getInfo().getShape()[0];
        FloatBuffer input = features.getFloatBuffer();
        batchSizes.add(rows);
        for (int r = 0; r < rows; r++) {
            float first = input.get(r * inputValuesPerRow());
            if (first == FAIL) {
                throw new OrtException("injected failure for a poisoned row");
            }
            if (first == BLOCK) {
                blockedEntered.countDown();
                try {
                    if (!released.await(2, TimeUnit.MINUTES)) {
                        throw new OrtException("never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new OrtException("interrupted");
                }
            }
        }
        return delegate.run(inputs);
    }
}
