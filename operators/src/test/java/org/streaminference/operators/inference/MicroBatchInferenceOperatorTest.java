package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.outputs.InferenceSideOutputs;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServedFeatures;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.formats.avro.typeutils.AvroSerializer;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The micro-batched inference operator in Flink's operator test harness, on the real demo model.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class MicroBatchInferenceOperatorTest {
    private static final long NEVER = TimeUnit.MINUTES.toMillis(10);

    @TempDir static Path models;

    private static LoadedModel demo;
    private InstrumentedModel model;

    @BeforeAll
    static void loadModel() throws Exception {
        demo =
                new ModelLoader(ModelLoaderConfig.defaults())
                        .load(DemoModels.write(models, 1).toString());
    }

    @AfterAll
    static void closeModel() throws Exception {
        demo.close();
    }

    @BeforeEach
    void instrument() {
        model = new InstrumentedModel(demo);
        InstrumentedModel.current = model;
    }

    @AfterEach
    void releaseBlockedRuns() {
        model.release();
    }

    private static EnrichedEvent event(int i, float firstFeature) {
        return EnrichedEvent.newBuilder()
                .setEvent(
                        InputEvent.newBuilder()
                                .setEventId("e" + i)
                                .setEntityId("u" + (i % 3))
                                .setEventTime(1000L + i)
                                .setEventType("t")
                                .setNumericFields(Map.of("amount", 1.0))
                                .setCategoricalFields(Map.of())
                                .build())
                .setSource(new SourcePosition("events", 0, (long) i, null, null))
                .setFeatures(DemoVectors.of(firstFeature, 1f, (float) i, 2f))
                .build();
    }

    private static EnrichedEvent event(int i) {
        return event(i, 10f + i);
    }

    private static OneInputStreamOperatorTestHarness<EnrichedEvent, Prediction> harness(
            BatchingConfig options) throws Exception {
        var harness =
                new OneInputStreamOperatorTestHarness<>(
                        new MicroBatchInferenceOperatorFactory(
                                InstrumentedModel.provider(), "instrumented", options, null),
                        new AvroSerializer<>(EnrichedEvent.class));
        harness.open();
        return harness;
    }

    private static BatchingConfig options(
            int maxBatch, long delayMillis, int concurrent, boolean ordered) {
        return BatchingConfig.builder()
                .maxBatchSize(maxBatch)
                .maxDelayMillis(delayMillis)
                .concurrentBatches(concurrent)
                .retries(1)
                .topK(2)
                .ordered(ordered)
                .capacity(Math.max(64, maxBatch))
                .build();
    }

    /** The predictions, in output order. */
    @SuppressWarnings("unchecked")
    private static List<Prediction> predictions(
            OneInputStreamOperatorTestHarness<?, Prediction> h) {
        List<Prediction> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            if (o instanceof StreamRecord<?> r) {
                out.add(((StreamRecord<Prediction>) r).getValue());
            }
        }
        return out;
    }

    private static List<DeadLetter> deadLetters(
            OneInputStreamOperatorTestHarness<?, Prediction> h) {
        List<DeadLetter> out = new ArrayList<>();
        var side = h.getSideOutput(DeadLetters.TAG);
        if (side != null) {
            side.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    private static float[] direct(EnrichedEvent e) throws Exception {
        float[] row = new float[e.getFeatures().size()];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) (double) e.getFeatures().get(i);
        }
        return demo.run(FloatBuffer.wrap(row), 1)[0];
    }

    @Test
    void fullBatchesRunWithoutWaitingForTheDelay() throws Exception {
        List<EnrichedEvent> events = new ArrayList<>();
        try (var h = harness(options(4, NEVER, 1, true))) {
            for (int i = 0; i < 8; i++) {
                events.add(event(i));
                h.processElement(events.get(i), i);
            }
            h.endInput(); // returns only if both batches ran: the 10-minute delay would time
            // the test out
            assertThat(model.batchSizes).containsExactly(4, 4);
            List<Prediction> out = predictions(h);
            assertThat(out).hasSize(8);
            for (int i = 0; i < 8; i++) {
                Prediction p = out.get(i);
                assertThat(p.getEventId()).isEqualTo("e" + i);
                assertThat(p.getProbabilities().get(1))
                        .isCloseTo(direct(events.get(i))[1], within(1e-6));
                assertThat(p.getTopClasses()).hasSize(2);
                assertThat(p.getTopClasses().get(0).getProbability()).isEqualTo(p.getScore());
            }
        }
    }

    @Test
    void servedFeatureVectorsAreLoggedWithTheVersionThatAnswered() throws Exception {
        var harness =
                new OneInputStreamOperatorTestHarness<>(
                        new MicroBatchInferenceOperatorFactory(
                                InstrumentedModel.provider(),
                                "instrumented",
                                options(4, NEVER, 1, false),
                                "demo-transactions:1"),
                        new AvroSerializer<>(EnrichedEvent.class));
        harness.open();
        try (var h = harness) {
            List<EnrichedEvent> events = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                events.add(event(i));
                h.processElement(events.get(i), i);
            }
            h.processElement(event(5, Float.NaN), 5); // a dead letter: nothing to log
            h.endInput();
            Map<String, Prediction> predicted = new HashMap<>();
            predictions(h).forEach(p -> predicted.put(p.getEventId(), p));
            assertThat(predicted).hasSize(5);
            List<ServedFeatures> served = new ArrayList<>();
            h.getSideOutput(InferenceSideOutputs.SERVED_FEATURES)
                    .forEach(r -> served.add(r.getValue()));
            assertThat(served)
                    .extracting(ServedFeatures::getEventId)
                    .containsExactlyInAnyOrderElementsOf(predicted.keySet());
            for (ServedFeatures f : served) {
                int i = Integer.parseInt(f.getEventId().substring(1));
                assertThat(f.getFeatures())
                        .as("float32, as the FLOAT input was given them")
                        .isEqualTo(
                                events.get(i).getFeatures().stream()
                                        .map(Double::floatValue)
                                        .toList());
                assertThat(f.getDoubleFeatures())
                        .as("only for a version with a DOUBLE input")
                        .isEmpty();
                assertThat(f.getFeatureSpec()).isEqualTo("demo-transactions:1");
                assertThat(f.getModelVersion())
                        .isEqualTo(predicted.get(f.getEventId()).getModelVersion());
                assertThat(f.getEntityId()).isEqualTo("u" + (i % 3));
                assertThat(f.getEventTime()).isEqualTo(1000L + i);
            }
        }
    }

    @Test
    void aPartialBatchRunsWhenItsOldestRecordHasWaitedTheDelay() throws Exception {
        try (var h = harness(options(100, 200, 1, true))) {
            for (int i = 0; i < 3; i++) {
                h.processElement(event(i), i);
            }
            h.endInput();
            assertThat(model.batchSizes).containsExactly(3);
            assertThat(predictions(h))
                    .extracting(Prediction::getEventId)
                    .containsExactly("e0", "e1", "e2");
        }
    }

    /** Runs {@code n} mails of the harness's task: the answers of {@code n} finished batches. */
    private static void runMails(OneInputStreamOperatorTestHarness<?, ?> h, int n)
            throws Exception {
        for (int i = 0; i < n; i++) {
            h.getTaskMailbox().take(TaskMailbox.MIN_PRIORITY).run();
        }
    }

    private static List<String> described(OneInputStreamOperatorTestHarness<?, Prediction> h) {
        List<String> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            out.add(
                    o instanceof StreamRecord<?> r
                            ? ((Prediction) r.getValue()).getEventId() + "@" + r.getTimestamp()
                            : "W" + ((Watermark) o).getTimestamp());
        }
        return out;
    }

    @Test
    void orderedModeHoldsAnsweredRecordsBehindAnUnansweredOne() throws Exception {
        try (var h = harness(options(1, 0, 3, true))) {
            h.processElement(event(0, InstrumentedModel.BLOCK), 10);
            model.blockedEntered.await();
            h.processElement(event(1), 20);
            h.processWatermark(new Watermark(25));
            h.processElement(event(2), 30);
            runMails(h, 2); // e1 and e2 are answered while e0 is held in the model
            assertThat(described(h)).as("nothing overtakes e0").isEmpty();
            model.release();
            h.endInput();
            assertThat(described(h)).containsExactly("e0@10", "e1@20", "W25", "e2@30");
        }
    }

    @Test
    void unorderedModeNeverLetsARecordCrossAWatermark() throws Exception {
        try (var h = harness(options(1, 0, 3, false))) {
            h.processElement(event(0, InstrumentedModel.BLOCK), 10);
            model.blockedEntered.await();
            h.processElement(event(2), 20);
            h.processWatermark(new Watermark(25));
            h.processElement(event(1), 30);
            runMails(h, 2); // e2 and e1 are answered while e0 is held in the model
            assertThat(described(h))
                    .as("e2 overtakes e0; e1 waits behind the watermark, the watermark behind e0")
                    .containsExactly("e2@20");
            model.release();
            h.endInput();
            assertThat(described(h)).containsExactly("e2@20", "e0@10", "W25", "e1@30");
        }
    }

    @Test
    void aFailingBatchIsSplitSoOnlyTheBadRecordsBecomeDeadLetters() throws Exception {
        try (var h = harness(options(8, NEVER, 1, true))) {
            for (int i = 0; i < 8; i++) {
                h.processElement(event(i, i == 2 || i == 5 ? InstrumentedModel.FAIL : 10f + i), i);
            }
            h.endInput();
            assertThat(predictions(h))
                    .extracting(Prediction::getEventId)
                    .containsExactly("e0", "e1", "e3", "e4", "e6", "e7");
            List<DeadLetter> dead = deadLetters(h);
            assertThat(dead).extracting(DeadLetter::getEventId).containsExactly("e2", "e5");
            assertThat(dead)
                    .allSatisfy(
                            d -> {
                                assertThat(d.getReasonCode()).isEqualTo(ReasonCode.MODEL_ERROR);
                                assertThat(d.getMessage()).contains("injected failure");
                            });
            // the batch of 8, its one retry, then halves and quarters down to the two poisoned rows
            assertThat(model.batchSizes.subList(0, 2)).containsExactly(8, 8);
            assertThat(model.batchSizes).contains(1);
        }
    }

    @Test
    void badInputNeverReachesTheModel() throws Exception {
        try (var h = harness(options(4, 10, 1, true))) {
            h.processElement(event(0, Float.NaN), 0);
            EnrichedEvent shortVector = event(1);
            shortVector.setFeatures(List.of(1.0, 2.0));
            h.processElement(shortVector, 1);
            h.processElement(event(2), 2);
            h.endInput();
            List<DeadLetter> dead = deadLetters(h);
            assertThat(dead)
                    .extracting(DeadLetter::getReasonCode)
                    .containsExactly(ReasonCode.NON_FINITE_FEATURE, ReasonCode.INVALID_FIELD);
            assertThat(dead.get(1).getMessage()).contains("invalid shape");
            assertThat(predictions(h)).extracting(Prediction::getEventId).containsExactly("e2");
            assertThat(model.batchSizes).containsExactly(1);
        }
    }

    @Test
    void aRecordThatTakesTooLongBecomesATimeoutDeadLetter() throws Exception {
        BatchingConfig options =
                BatchingConfig.builder()
                        .maxBatchSize(1)
                        .maxDelayMillis(0)
                        .concurrentBatches(2)
                        .timeoutMillis(1_000)
                        .retries(0)
                        .ordered(true)
                        .capacity(64)
                        .build();
        try (var h = harness(options)) {
            h.processElement(event(0, InstrumentedModel.BLOCK), 0);
            h.processElement(
                    event(1), 1); // served by the second inference thread while the first is stuck
            h.endInput(); // returns once the stuck record has been answered by its timeout
            assertThat(deadLetters(h))
                    .extracting(DeadLetter::getReasonCode)
                    .containsExactly(ReasonCode.TIMEOUT);
            assertThat(deadLetters(h).get(0).getEventId()).isEqualTo("e0");
            assertThat(predictions(h)).extracting(Prediction::getEventId).containsExactly("e1");
            model.release();
        }
    }

    @Test
    void aFullQueueBackPressuresTheInput() throws Exception {
        BatchingConfig options =
                BatchingConfig.builder()
                        .maxBatchSize(1)
                        .maxDelayMillis(0)
                        .concurrentBatches(1)
                        .timeoutMillis(60_000)
                        .retries(0)
                        .capacity(2)
                        .build();
        AtomicLong releasedAt = new AtomicLong();
        try (var h = harness(options)) {
            h.processElement(event(0, InstrumentedModel.BLOCK), 0);
            h.processElement(event(1), 1); // the queue (capacity 2) is now full
            Thread releaser =
                    new Thread(
                            () -> {
                                try {
                                    model.blockedEntered.await();
                                    Thread.sleep(
                                            300); // a window in which an unbounded operator would
                                    // have accepted the record
                                    releasedAt.set(System.nanoTime());
                                    model.release();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            });
            releaser.start();
            h.processElement(event(2), 2);
            long acceptedAt = System.nanoTime();
            releaser.join();
            assertThat(acceptedAt)
                    .as("the third record waited for room in the queue")
                    .isGreaterThan(releasedAt.get());
            h.endInput();
            assertThat(predictions(h)).hasSize(3);
        }
    }

    @Test
    void recordsWaitingInABatchSurviveASnapshotAndRestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(options(100, NEVER, 1, true))) {
            for (int i = 0; i < 3; i++) {
                h.processElement(event(i), 100 + i);
            }
            snapshot = h.snapshot(1, 1);
            assertThat(predictions(h)).isEmpty();
            assertThat(model.batchSizes).isEmpty();
        }
        var factory =
                new MicroBatchInferenceOperatorFactory(
                        InstrumentedModel.provider(),
                        "instrumented",
                        options(100, 10, 1, true),
                        null);
        try (var restored =
                new OneInputStreamOperatorTestHarness<>(
                        factory, new AvroSerializer<>(EnrichedEvent.class))) {
            restored.initializeState(snapshot);
            restored.open();
            restored.endInput();
            assertThat(predictions(restored))
                    .extracting(Prediction::getEventId)
                    .containsExactly("e0", "e1", "e2");
            assertThat(new ArrayList<>(restored.getOutput()))
                    .extracting(o -> ((StreamRecord<?>) o).getTimestamp())
                    .containsExactly(100L, 101L, 102L);
        }
    }
}
