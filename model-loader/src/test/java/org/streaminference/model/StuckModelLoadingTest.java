package org.streaminference.model;

import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A model whose warm-up never ends costs nothing after its timeout: ONNX Runtime's run termination
 * stops the run (interrupts do not reach it), the load fails with {@code LOAD_TIMEOUT}, and no
 * thread is left running it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class StuckModelLoadingTest {
    @TempDir Path root;

    private static boolean threadAlive(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith(prefix) && t.isAlive());
    }

    @Test
    void aWarmUpThatNeverEndsIsStoppedAtItsTimeout() throws Exception {
        Path stuck = StuckModels.neverWarmsUp(root, "stuck", "1");
        long start = System.nanoTime();
        assertThatThrownBy(
                        () ->
                                new ModelLoader(
                                                ModelLoaderConfig.defaults()
                                                        .withWarmUpTimeout(Duration.ofMillis(500)))
                                        .load(stuck.toString()))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.LOAD_TIMEOUT))
                .hasMessageContaining(
                        "stuck:1: the warm-up run did not finish in time and was stopped");
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .as("stopped, not waited out")
                .isLessThan(Duration.ofSeconds(30));
        while (threadAlive("model-warm-up-watchdog")) {
            LockSupport.parkNanos(10_000_000); // the watchdog ends with the warm-up
        }
    }

    @Test
    void aWarmUpIsStoppedByWhoeverGaveUpWaitingForIt() throws Exception {
        Path stuck = StuckModels.neverWarmsUp(root, "stuck", "2");
        Thread[] loading = new Thread[1];
        CompletableFuture<LoadedModel> load =
                CompletableFuture.supplyAsync(
                        () -> {
                            loading[0] = Thread.currentThread();
                            try {
                                return new ModelLoader(ModelLoaderConfig.defaults())
                                        .load(stuck.toString()); // a 2-minute timeout
                            } catch (ModelLoadException e) {
                                throw new IllegalStateException(e);
                            }
                        });
        while (!load.isDone()) {
            if (loading[0] != null) {
                ModelLoader.stopWarmUp(
                        loading[0]); // as a controller whose load timed out, or that closes
            }
            LockSupport.parkNanos(50_000_000);
        }
        assertThatThrownBy(load::get)
                .isInstanceOf(ExecutionException.class)
                .rootCause()
                .isInstanceOf(OrtException.class)
                .hasMessageContaining("terminate flag");
        ModelLoadException failure =
                (ModelLoadException) load.handle((m, e) -> e.getCause().getCause()).get();
        assertThat(failure.reason()).isEqualTo(ModelLoadException.Reason.LOAD_TIMEOUT);
    }

    @Test
    void aModelThatRunsForEverOnSomeInputsWarmsUpAtOnce() throws Exception {
        try (LoadedModel model =
                new ModelLoader(
                                ModelLoaderConfig.defaults()
                                        .withWarmUpTimeout(Duration.ofSeconds(30)))
                        .load(StuckModels.stuckOnLargeInputs(root, "sometimes", "1").toString())) {
            assertThat(model.loadTimeMillis()).isLessThan(30_000);
        }
    }
}
