package org.streaminference.bench;

import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.operators.inference.batching.PredictionDecoder;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Flink async I/O done the usual way: one model call per record, on a thread pool of the function's
 * own.
 */
final class PerRecordAsyncFunction extends RichAsyncFunction<EnrichedEvent, Prediction> {
    private static final long serialVersionUID = 1L;
    private final String location;
    private final int threads;
    private transient LoadedModel model;
    private transient PredictionDecoder decoder;
    private transient ExecutorService pool;

    PerRecordAsyncFunction(String location, int threads) {
        this.location = location;
        this.threads = threads;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        model = new ModelLoader(ModelLoaderConfig.defaults()).load(location);
        decoder = new PredictionDecoder(model.manifest());
        pool = Executors.newFixedThreadPool(threads);
    }

    @Override
    public void asyncInvoke(EnrichedEvent input, ResultFuture<Prediction> resultFuture) {
        pool.execute(
                () -> {
                    try {
                        float[] row = new float[input.getFeatures().size()];
                        for (int i = 0; i < row.length; i++) {
                            row[i] = (float) (double) input.getFeatures().get(i);
                        }
                        float[] out = model.run(FloatBuffer.wrap(row), 1)[0];
                        resultFuture.complete(
                                List.of(
                                        decoder.toPrediction(
                                                input,
                                                model.manifest(),
                                                decoder.decode(out),
                                                System.currentTimeMillis())));
                    } catch (Exception e) {
                        resultFuture.completeExceptionally(e);
                    }
                });
    }

    @Override
    public void close() throws Exception {
        pool.shutdown();
        pool.awaitTermination(1, TimeUnit.MINUTES);
        model.close();
    }
}
