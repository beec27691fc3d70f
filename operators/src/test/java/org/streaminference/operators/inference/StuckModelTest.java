package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.StuckModels;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A stuck model costs nothing after its timeout: its warm-up run, or a batch's run, is stopped
 * through ONNX Runtime's run termination (interrupts do not reach it), the thread that ran it goes
 * on or ends, and closing the operator while such a run is in progress stops it and returns, so
 * that the TaskManager shuts down with no run left in ONNX Runtime (closing under a run crashes the
 * JVM). Real looping ONNX models ({@link StuckModels}) and the demo model.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class StuckModelTest {
    @TempDir static Path root;

    private static String v1;
    private static String neverWarmsUp;
    private static String stuckOnLargeInputs;

    @BeforeAll
    static void writeModels() throws Exception {
        Path models = root.resolve("models");
        v1 = DemoModels.write(models, 1).toUri().toString();
        neverWarmsUp = StuckModels.neverWarmsUp(models, DemoModels.NAME, "2").toUri().toString();
        stuckOnLargeInputs =
                StuckModels.stuckOnLargeInputs(models, "sometimes", "1").toUri().toString();
    }

    private static ModelProvider provider() {
        return new SharedModelProvider(
                ModelLoaderConfig.defaults()
                        .withAllowedLocations(
                                List.of("file"),
                                List.of(root.resolve("models").toUri().toString())),
                new FeatureContract(DemoModels.SPEC, FeatureLayout.floats(DemoModels.FEATURES)));
    }

    private static BatchingConfig batches(long timeoutMillis) {
        return BatchingConfig.builder()
                .maxBatchSize(1)
                .maxDelayMillis(1)
                .concurrentBatches(1)
                .timeoutMillis(timeoutMillis)
                .retries(0)
                .ordered(true)
                .capacity(64)
                .build();
    }

    private static boolean threadAlive(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith(prefix) && t.isAlive());
    }

    /** Waits (at most a minute) until no thread of {@code prefix} is alive, or fails. */
    private static void awaitNoThread(String prefix) {
        await(() -> !threadAlive(prefix), "no thread '" + prefix + "*' alive");
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline || Thread.currentThread().isInterrupted()) {
                throw new AssertionError("not within a minute: " + what);
            }
            LockSupport.parkNanos(20_000_000); // polls a condition
        }
    }

    @Test
    void aVersionWhoseWarmUpNeverEndsIsRejectedAtTheLoadTimeoutAndItsLoaderEnds() throws Exception {
        ModelControlLimits limits = new ModelControlLimits(Duration.ofSeconds(1), 4096, 8);
        try (InferenceHarness h = new InferenceHarness(provider(), v1, batches(60_000), limits)) {
            h.open();
            h.command(ModelCommands.publish(DemoModels.NAME, "2", neverWarmsUp, null, null));
            await(() -> threadAlive("model-warm-up-watchdog"), "the warm-up started");
            h.setProcessingTime(1_001); // the load's deadline passes (the harness's clock)
            h.runMailsUntil(() -> h.settledCommands() == 1);
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getReason()).isEqualTo("LOAD_TIMEOUT"));
            // the warm-up's watchdog would stop it after 2 minutes: the controller stopped it at
            // once, and the
            // thread that ran it ends (without run termination it stayed in ONNX Runtime, one core,
            // for ever)
            awaitNoThread("model-loader-");
            awaitNoThread("model-warm-up-watchdog");
            h.processElement(ModelHotSwapTest.event(0, "u"), 0);
            h.endInput();
            assertThat(h.predictions())
                    .extracting(Prediction::getModelVersion)
                    .as("version 1 still serves")
                    .containsExactly("1");
        }
    }

    @Test
    void closingWhileAWarmUpRunsStopsItAndReturns() throws Exception {
        ModelControlLimits limits = new ModelControlLimits(Duration.ofMinutes(10), 4096, 8);
        InferenceHarness h = new InferenceHarness(provider(), v1, batches(60_000), limits);
        h.open();
        h.command(ModelCommands.publish(DemoModels.NAME, "2", neverWarmsUp, null, null));
        await(() -> threadAlive("model-warm-up-watchdog"), "the warm-up started");
        long start = System.nanoTime();
        h.close(); // as the task's close at a cancellation or a TaskManager's shutdown
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .as("stopped, not waited out for 2 minutes")
                .isLessThan(Duration.ofSeconds(20));
        awaitNoThread("model-loader-");
        awaitNoThread("model-warm-up-watchdog");
    }

    @Test
    void aBatchStuckPastItsTimeoutIsStoppedAndItsThreadServesTheNextRecords() throws Exception {
        try (InferenceHarness h =
                new InferenceHarness(provider(), stuckOnLargeInputs, batches(1_000))) {
            h.open();
            var stuck = ModelHotSwapTest.event(0, "u");
            stuck.setFeatures(DemoVectors.of(1e15f)); // a loop of 10^15 iterations
            h.processElement(stuck, 0);
            h.runMailsUntil(() -> h.deadLetters().size() == 1);
            for (int i = 1; i <= 3; i++) {
                h.processElement(ModelHotSwapTest.event(i, "u"), i);
            }
            h.runMailsUntil(() -> h.predictions().size() + h.deadLetters().size() == 4);
            assertThat(h.deadLetters())
                    .extracting(DeadLetter::getEventId, DeadLetter::getReasonCode)
                    .containsExactly(Tuple.tuple("e0", ReasonCode.TIMEOUT));
            // one inference thread: without stopping the stuck run, these would have timed out
            // behind it
            assertThat(h.predictions())
                    .extracting(Prediction::getEventId)
                    .containsExactly("e1", "e2", "e3");
        }
    }
}
