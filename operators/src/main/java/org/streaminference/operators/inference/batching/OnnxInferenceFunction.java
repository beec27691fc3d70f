package org.streaminference.operators.inference.batching;

import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.StorableValues;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * Runs one model version on each enriched event, one row at a time, on the task thread: the naive
 * approach that Flink + ONNX examples take, kept as the baseline of the benchmarks. The job uses
 * {@code MicroBatchInference}. Events with non-finite features, model errors and non-finite outputs
 * become dead letters; the job never fails because of one record.
 */
@Internal
public class OnnxInferenceFunction extends ProcessFunction<EnrichedEvent, Prediction> {
    private static final long serialVersionUID = 1L;

    private final String modelLocation;
    private final ModelLoaderConfig loaderOptions;

    private transient LoadedModel model;
    private transient PredictionDecoder decoder;
    private transient FloatBuffer input;
    private transient Counter predictions;
    private transient Counter deadLetters;
    private transient Histogram latencyMicros;

    /**
     * @param modelLocation directory (or manifest file) of the model version to serve, as a Flink
     *     FileSystem URI
     */
    public OnnxInferenceFunction(String modelLocation, ModelLoaderConfig loaderOptions) {
        this.modelLocation = modelLocation;
        this.loaderOptions = loaderOptions;
    }

    @Override
    public void open(OpenContext openContext) throws ModelLoadException {
        model = new ModelLoader(loaderOptions).load(modelLocation);
        ModelManifest manifest = model.manifest();
        decoder = new PredictionDecoder(manifest);
        input = FloatBuffer.allocate(model.inputValuesPerRow());
        var group = getRuntimeContext().getMetricGroup().addGroup("model", manifest.name());
        predictions = group.counter("predictions");
        deadLetters = group.counter("inferenceDeadLetters");
        latencyMicros =
                group.histogram("inferenceLatencyMicros", new DescriptiveStatisticsHistogram(1000));
        group.gauge("loadTimeMillis", model::loadTimeMillis);
    }

    @Override
    public void processElement(EnrichedEvent value, Context ctx, Collector<Prediction> out) {
        List<Double> features = value.getFeatures();
        if (features.size() != model.inputValuesPerRow()) {
            reject(
                    ctx,
                    value,
                    ReasonCode.INVALID_FIELD,
                    "feature vector has "
                            + features.size()
                            + " values but model "
                            + model.manifest().id()
                            + " takes "
                            + model.inputValuesPerRow());
            return;
        }
        input.clear();
        for (int i = 0; i < features.size(); i++) {
            float f = (float) (double) features.get(i);
            if (!Float.isFinite(f)) {
                reject(ctx, value, ReasonCode.NON_FINITE_FEATURE, "feature " + i + " is " + f);
                return;
            }
            input.put(f);
        }
        input.flip();

        long start = System.nanoTime();
        float[] row;
        try {
            row = model.run(input, 1)[0];
        } catch (Exception e) {
            reject(
                    ctx,
                    value,
                    ReasonCode.MODEL_ERROR,
                    model.manifest().id() + " failed: " + e.getMessage());
            return;
        }
        latencyMicros.update((System.nanoTime() - start) / 1_000);

        PredictionDecoder.Decoded decoded = decoder.decode(row);
        if (!decoded.isFinite()) {
            reject(
                    ctx,
                    value,
                    ReasonCode.NON_FINITE_OUTPUT,
                    model.manifest().id() + " produced a non-finite output for finite features");
            return;
        }
        Prediction prediction =
                decoder.toPrediction(value, model.manifest(), decoded, System.currentTimeMillis());
        String unstorable = StorableValues.problem(prediction);
        if (unstorable != null) {
            reject(
                    ctx,
                    value,
                    ReasonCode.STORE_REJECTED,
                    "the prediction cannot be stored: " + unstorable);
            return;
        }
        out.collect(prediction);
        predictions.inc();
    }

    private void reject(Context ctx, EnrichedEvent value, ReasonCode reason, String message) {
        deadLetters.inc();
        ctx.output(
                DeadLetters.TAG,
                DeadLetters.of(value.getEvent(), value.getSource(), reason, message));
    }

    @Override
    public void close() throws Exception {
        if (model != null) {
            model.close(); // runs happen on the task thread, so none is in flight here
            model = null;
        }
    }
}
