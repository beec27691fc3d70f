package org.streaminference.bench;

import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * ONNX Runtime alone, at a batch size and thread count: the ceiling any streaming operator can
 * reach.
 */
final class RawOnnxBench {
    private RawOnnxBench() {}

    /**
     * Rows per second over {@code rows} rows, in batches of {@code batch}, on {@code threads}
     * threads.
     */
    static double rowsPerSecond(BenchModels.Workload w, int batch, int threads, long rows)
            throws Exception {
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults()).load(w.dir().toString())) {
            runBatches(model, batch, Math.max(10, 2_000 / batch)); // warm-up
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                long batchesPerThread = Math.max(1, rows / batch / threads);
                long start = System.nanoTime();
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    done.add(
                            pool.submit(
                                    () -> {
                                        runBatches(model, batch, batchesPerThread);
                                        return null;
                                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                return batchesPerThread * batch * threads / seconds;
            } finally {
                pool.shutdown();
            }
        }
    }

    private static void runBatches(LoadedModel model, int batch, long count) throws Exception {
        int width = model.inputValuesPerRow();
        FloatBuffer input =
                ByteBuffer.allocateDirect(batch * width * Float.BYTES)
                        .order(ByteOrder.nativeOrder())
                        .asFloatBuffer();
        for (int i = 0; i < batch * width; i++) {
            input.put(i, EventGenerator.value(i / width, i % width));
        }
        for (long b = 0; b < count; b++) {
            input.clear();
            model.run(input, batch);
        }
    }
}
