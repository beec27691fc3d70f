package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.SharedModels;
import org.streaminference.model.TensorSignature;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.operators.inference.routing.CanaryRouting;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Model versions hot-swapped through the operator's control input, in Flink's operator test
 * harness, with the real demo model's versions 1 and 2 and broken variants of them.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ModelHotSwapTest {
    private static final String MODEL = DemoModels.NAME;
    private static final long NEVER = TimeUnit.MINUTES.toMillis(10);

    @TempDir static Path root;

    private static String v1;
    private static String v2;
    private static LoadedModel direct1;
    private static LoadedModel direct2;

    /**
     * Opened by tests that hold a load back; the provider waits on it for {@link #slowLocation}.
     */
    static volatile CountDownLatch gate = new CountDownLatch(0);

    static volatile String slowLocation = "";

    @BeforeAll
    static void writeModels() throws Exception {
        Path models = root.resolve("models");
        v1 = DemoModels.write(models, 1).toUri().toString();
        v2 = DemoModels.write(models, 2).toUri().toString();
        direct1 = new ModelLoader(ModelLoaderConfig.defaults()).load(v1);
        direct2 = new ModelLoader(ModelLoaderConfig.defaults()).load(v2);
    }

    @AfterAll
    static void closeModels() throws Exception {
        direct1.close();
        direct2.close();
    }

    private static ModelProvider provider() {
        ModelLoaderConfig options =
                ModelLoaderConfig.defaults()
                        .withAllowedLocations(
                                List.of("file"),
                                List.of(root.resolve("models").toUri().toString()));
        SharedModelProvider shared =
                new SharedModelProvider(
                        options,
                        new FeatureContract(
                                DemoModels.SPEC, FeatureLayout.floats(DemoModels.FEATURES)));
        return (context, location) -> {
            if (location.equals(slowLocation)) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ModelLoadException(
                            ModelLoadException.Reason.RUNTIME_ERROR, "interrupted");
                }
            }
            return shared.open(context, location);
        };
    }

    private static InferenceHarness open(BatchingConfig options) throws Exception {
        InferenceHarness h = new InferenceHarness(provider(), v1, options);
        h.open();
        return h;
    }

    private static BatchingConfig batches(int size, long delay) {
        return BatchingConfig.builder()
                .maxBatchSize(size)
                .maxDelayMillis(delay)
                .concurrentBatches(1)
                .timeoutMillis(60_000)
                .retries(0)
                .ordered(true)
                .capacity(4096)
                .build();
    }

    static EnrichedEvent event(int i, String entity) {
        return EnrichedEvent.newBuilder()
                .setEvent(
                        InputEvent.newBuilder()
                                .setEventId("e" + i)
                                .setEntityId(entity)
                                .setEventTime(1000L + i)
                                .setEventType("t")
                                .setNumericFields(Map.of("amount", 1.0))
                                .setCategoricalFields(Map.of())
                                .build())
                .setSource(new SourcePosition("events", 0, (long) i, null, null))
                .setFeatures(DemoVectors.of(10f + i % 7, 1f, (float) i, 2f))
                .build();
    }

    private static float directScore(LoadedModel model, EnrichedEvent e) throws Exception {
        float[] row = new float[e.getFeatures().size()];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) (double) e.getFeatures().get(i);
        }
        return model.run(FloatBuffer.wrap(row), 1)[0][1];
    }

    private static void assertComputedBy(Prediction p, EnrichedEvent e) throws Exception {
        LoadedModel model = p.getModelVersion().equals("1") ? direct1 : direct2;
        assertThat(p.getProbabilities().get(1))
                .as("%s by version %s", p.getEventId(), p.getModelVersion())
                .isCloseTo(directScore(model, e), within(1e-6));
    }

    /** A copy of version 2 under {@code version}, with its manifest changed by {@code change}. */
    private static String variant(
            String version, UnaryOperator<ModelManifest> change, boolean corruptFile)
            throws Exception {
        Path source = Path.of(URI.create(v2));
        Path dir = root.resolve("models").resolve(MODEL).resolve(version);
        Files.createDirectories(dir);
        byte[] bytes = Files.readAllBytes(source.resolve("model.onnx"));
        if (corruptFile) {
            bytes[bytes.length - 3] ^= 0x40; // one flipped bit in a weight
        }
        Files.write(dir.resolve("model.onnx"), bytes);
        ModelManifest m = new ModelLoader(ModelLoaderConfig.defaults()).readManifest(v2);
        m = m.toBuilder().version(version).build();
        DemoModels.writeManifest(dir, change.apply(m));
        return dir.toUri().toString();
    }

    @Test
    void aPublishedVersionAnswersOnlyOnceLoadedWhileTheOldOneKeepsAnswering() throws Exception {
        try (InferenceHarness h = open(batches(4, NEVER))) {
            Map<String, EnrichedEvent> sent = new HashMap<>();
            for (int i = 0; i < 10; i++) {
                sent.put("e" + i, event(i, "u" + i));
                h.processElement(sent.get("e" + i), i);
            }
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, null, null));
            for (int i = 10; i < 20; i++) {
                sent.put("e" + i, event(i, "u" + i));
                h.processElement(sent.get("e" + i), i);
            }
            h.endInput();

            List<Prediction> out = h.predictions();
            assertThat(out).hasSize(20);
            assertThat(h.deadLetters()).isEmpty();
            for (Prediction p : out) {
                int i = Integer.parseInt(p.getEventId().substring(1));
                assertThat(p.getModelVersion()).as(p.getEventId()).isEqualTo(i < 10 ? "1" : "2");
                assertComputedBy(p, sent.get(p.getEventId()));
            }
            List<ModelEventType> types = h.modelEvents().stream().map(ModelEvent::getType).toList();
            assertThat(types)
                    .containsExactly(
                            ModelEventType.LOADED,
                            ModelEventType.DEPLOYED,
                            ModelEventType.LOADED,
                            ModelEventType.DEPLOYED);
            assertThat(h.modelEvents())
                    .allSatisfy(
                            e -> {
                                assertThat(e.getModel()).isEqualTo(MODEL);
                                assertThat(e.getSubtask()).isZero();
                            });
            assertThat(h.modelEvents(ModelEventType.LOADED))
                    .allSatisfy(e -> assertThat(e.getLoadMillis()).isPositive());
            ModelDeployment now =
                    ModelDeployment.fromState(
                            h.modelEvents(ModelEventType.DEPLOYED).get(1).getDeployment());
            assertThat(now.active()).isEqualTo("2");
            assertThat(now.previous()).isEqualTo("1");
        }
    }

    @Test
    void aVersionThatFailsACheckIsRejectedWithItsReasonAndTheServedVersionStays() throws Exception {
        String corrupt = variant("3", m -> m, true);
        String wrongSignature =
                variant(
                        "4",
                        m ->
                                m.toBuilder()
                                        .input(
                                                new TensorSignature(
                                                        DemoModels.INPUT,
                                                        "FLOAT",
                                                        new long[] {-1, 5}))
                                        .build(),
                        false);
        String otherFeatures =
                variant("5", m -> m.toBuilder().featureSpec("clickstream:7").build(), false);
        String missing = root.resolve("models").resolve(MODEL).resolve("6").toUri().toString();
        Path outside = Files.createDirectories(root.resolve("elsewhere"));
        String notAllowed = outside.toUri().toString();

        try (InferenceHarness h = open(batches(8, 5))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "3", corrupt, null, null));
            h.commandAndWait(ModelCommands.publish(MODEL, "4", wrongSignature, null, null));
            h.commandAndWait(ModelCommands.publish(MODEL, "5", otherFeatures, null, null));
            h.commandAndWait(ModelCommands.publish(MODEL, "6", missing, null, null));
            h.commandAndWait(ModelCommands.publish(MODEL, "7", notAllowed, null, null));
            ModelManifest m2 = new ModelLoader(ModelLoaderConfig.defaults()).readManifest(v2);
            h.commandAndWait(
                    ModelCommands.withManifest(
                            ModelCommands.publish(MODEL, "2", v2, null, null),
                            m2.toBuilder()
                                    .sha256("0".repeat(64))
                                    .build())); // the store is not what was announced
            long before = h.settledCommands();
            h.command("{\"command\":\"PUBLISH\",\"model\":");
            // the operator's form with a broadcast second input answers the same
            h.commandOnSecondInput(
                    "{\"command\":\"SET_CANARY\",\"model\":\""
                            + MODEL
                            + "\",\"version\":\"9\",\"percent\":10}");
            h.command("{\"command\":\"PROMOTE\",\"model\":\"" + MODEL + "\"}");
            h.runMailsUntil(() -> h.settledCommands() == before + 3);
            for (int i = 0; i < 20; i++) {
                h.processElement(event(i, "u" + i), i);
            }
            h.endInput();

            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly(
                            "CHECKSUM_MISMATCH",
                            "INTERFACE_MISMATCH",
                            "FEATURE_SPEC_MISMATCH",
                            "NOT_FOUND",
                            "URI_NOT_ALLOWED",
                            "CHECKSUM_MISMATCH",
                            "INVALID_COMMAND",
                            "INVALID_COMMAND",
                            "INVALID_COMMAND");
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .allSatisfy(e -> assertThat(e.getMessage()).isNotBlank());
            assertThat(h.predictions())
                    .hasSize(20)
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1"));
            assertThat(h.modelEvents(ModelEventType.DEPLOYED))
                    .hasSize(1); // the initial deployment only
        }
    }

    @Test
    void aCanaryTakesItsShareOfEntitiesAndEveryEntityKeepsOneVersion() throws Exception {
        try (InferenceHarness h = open(batches(64, 5))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 20));
            int entities = 2000;
            for (int i = 0; i < 3 * entities; i++) {
                h.processElement(event(i, "user-" + (i % entities)), i);
            }
            h.endInput();

            Map<String, Set<String>> versionsByEntity =
                    h.predictions().stream()
                            .collect(
                                    Collectors.groupingBy(
                                            Prediction::getEntityId,
                                            Collectors.mapping(
                                                    Prediction::getModelVersion,
                                                    Collectors.toSet())));
            assertThat(versionsByEntity).hasSize(entities);
            assertThat(versionsByEntity.values()).allSatisfy(v -> assertThat(v).hasSize(1));
            long onCanary = versionsByEntity.values().stream().filter(v -> v.contains("2")).count();
            // binomial(2000, 0.2): standard deviation 0.9 points; 3 points is over 3 standard
            // deviations
            assertThat(onCanary * 100.0 / entities).isBetween(17.0, 23.0);
            versionsByEntity.forEach(
                    (entity, v) ->
                            assertThat(v)
                                    .containsExactly(
                                            CanaryRouting.bucket(entity) < 20 ? "2" : "1"));
        }
    }

    /**
     * Batches of one: each record's batch is cut as it arrives and may be answered on the inference
     * thread before the task thread looks at it again; the record must still reach the shadow.
     */
    @Test
    void everyRecordReachesTheShadowHoweverSoonItIsAnswered() throws Exception {
        try (InferenceHarness h = open(batches(1, 5))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, ModelRole.SHADOW, null));
            int records = 3_000;
            for (int i = 0; i < records; i++) {
                h.processElement(event(i, "u" + i), i);
            }
            h.endInput();
            assertThat(h.predictions()).hasSize(records);
            assertThat(h.shadowPredictions()).hasSize(records);
        }
    }

    @Test
    void aShadowScoresEveryRecordOnItsOwnOutputAndNeverAnswers() throws Exception {
        try (InferenceHarness h = open(batches(16, 5))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, ModelRole.SHADOW, null));
            Map<String, EnrichedEvent> sent = new HashMap<>();
            for (int i = 0; i < 100; i++) {
                sent.put("e" + i, event(i, "u" + i));
                h.processElement(sent.get("e" + i), i);
            }
            h.endInput();

            assertThat(h.predictions())
                    .hasSize(100)
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1"));
            List<Prediction> shadow = h.shadowPredictions();
            assertThat(shadow)
                    .extracting(Prediction::getEventId)
                    .containsExactlyInAnyOrderElementsOf(sent.keySet());
            for (Prediction p : shadow) {
                assertThat(p.getModelVersion()).isEqualTo("2");
                assertComputedBy(p, sent.get(p.getEventId()));
            }
        }
    }

    @Test
    void promoteRollbackAndRetireMoveTrafficAndReleaseTheRetiredVersion() throws Exception {
        try (InferenceHarness h = open(batches(8, 2))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 50));
            h.commandAndWait(ModelCommands.promote(MODEL));
            for (int i = 0; i < 50; i++) {
                h.processElement(event(i, "u" + i), i);
            }
            h.commandAndWait(ModelCommands.rollback(MODEL));
            for (int i = 50; i < 100; i++) {
                h.processElement(event(i, "u" + i), i);
            }
            h.commandAndWait(ModelCommands.retire(MODEL, "2"));
            h.endInput();
            h.runMailsUntil(() -> !h.modelEvents(ModelEventType.RELEASED).isEmpty());

            for (Prediction p : h.predictions()) {
                int i = Integer.parseInt(p.getEventId().substring(1));
                assertThat(p.getModelVersion()).as(p.getEventId()).isEqualTo(i < 50 ? "2" : "1");
            }
            assertThat(h.predictions()).hasSize(100);
            assertThat(h.modelEvents(ModelEventType.RELEASED))
                    .extracting(ModelEvent::getVersion)
                    .containsExactly("2");
            List<ModelEvent> deployed = h.modelEvents(ModelEventType.DEPLOYED);
            assertThat(deployed).hasSize(5); // initial, canary, promote, rollback, retire
            ModelDeployment last = ModelDeployment.fromState(deployed.get(4).getDeployment());
            assertThat(last.servedVersions()).containsExactly("1");
            assertThat(last.locations()).doesNotContainKey("2");
        }
    }

    @Test
    void afterARestoreTheOperatorServesWhatItServedBeforeAndFinishesPendingCommands()
            throws Exception {
        OperatorSubtaskState snapshot;
        String v2copy = variant("2b", m -> m, false);
        try (InferenceHarness h = open(batches(100, NEVER))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, null, null));
            for (int i = 0; i < 3; i++) {
                h.processElement(event(i, "u" + i), i); // waits in an unfinished batch
            }
            gate = new CountDownLatch(1);
            slowLocation = v2copy;
            h.command(ModelCommands.publish(MODEL, "2b", v2copy, ModelRole.SHADOW, null));
            snapshot =
                    h.snapshot(
                            1, 1); // the shadow is still loading: the command must survive in state
            assertThat(h.predictions()).isEmpty();
        } finally {
            gate.countDown();
        }

        try (InferenceHarness restored =
                new InferenceHarness(provider(), v1, batches(100, NEVER))) {
            restored.initializeState(snapshot);
            restored.open(); // still configured with version 1 as the initial model
            restored.runMailsUntil(() -> restored.settledCommands() == 1);
            restored.processElement(event(3, "u3"), 3);
            restored.endInput();

            assertThat(restored.predictions())
                    .extracting(Prediction::getEventId)
                    .containsExactly("e0", "e1", "e2", "e3");
            assertThat(restored.predictions())
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("2"));
            ModelDeployment now =
                    ModelDeployment.fromState(
                            restored.modelEvents(ModelEventType.DEPLOYED).get(1).getDeployment());
            assertThat(now.active()).isEqualTo("2");
            assertThat(now.shadow()).isEqualTo("2b");
            assertThat(restored.shadowPredictions())
                    .extracting(Prediction::getEventId)
                    .containsExactly("e3");
        }
        assertThat(SharedModels.loadedCount())
                .as("every session released after both operators closed")
                .isZero();
    }

    @Test
    void commandsForAModelTheJobDoesNotServeAreAnsweredUnknownModel() throws Exception {
        try (InferenceHarness h = open(batches(8, 2))) {
            h.command(ModelCommands.publish("churn", "7", v2, null, null));
            h.command(ModelCommands.rollback("churn"));
            h.processElement(event(0, "u0"), 0);
            h.endInput();
            assertThat(h.modelEvents())
                    .extracting(ModelEvent::getType)
                    .containsExactly(
                            ModelEventType.LOADED,
                            ModelEventType.DEPLOYED,
                            ModelEventType.REJECTED,
                            ModelEventType.REJECTED);
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .allSatisfy(
                            e -> {
                                assertThat(e.getReason()).isEqualTo("UNKNOWN_MODEL");
                                assertThat(e.getModel()).isEqualTo("churn");
                                assertThat(e.getMessage()).contains("does not serve 'churn'");
                            });
            assertThat(h.predictions())
                    .extracting(Prediction::getModelVersion)
                    .containsExactly("1");
        }
    }

    @Test
    @Timeout(60)
    void aLoadThatNeverFinishesTimesOutAndTheCommandsBehindItAreStillAnswered() throws Exception {
        String stuck = variant("2s", m -> m, false);
        ModelControlLimits limits = new ModelControlLimits(Duration.ofSeconds(30), 2048, 3);
        try (InferenceHarness h = new InferenceHarness(provider(), v1, batches(8, 2), limits)) {
            h.open();
            gate = new CountDownLatch(1);
            slowLocation = stuck;
            h.command(
                    ModelCommands.publish(
                            MODEL, "2s", stuck, null,
                            null)); // never finishes while the gate is shut

            h.command(
                    "{\"command\":\"PROMOTE\",\"model\":\""
                            + MODEL
                            + "\",\"pad\":\""
                            + "x".repeat(4000)
                            + "\"}");
            h.command(ModelCommands.rollback(MODEL)); // waits behind the load
            h.command(ModelCommands.promote(MODEL)); // waits too: 3 pending with the load
            h.command(ModelCommands.retire(MODEL, "1")); // one too many
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly("TOO_LARGE", "TOO_MANY_PENDING");

            h.setProcessingTime(30_001); // the load's deadline passes
            h.runMailsUntil(() -> h.modelEvents(ModelEventType.REJECTED).size() == 5);
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly(
                            "TOO_LARGE",
                            "TOO_MANY_PENDING",
                            "LOAD_TIMEOUT",
                            "INVALID_COMMAND",
                            "INVALID_COMMAND"); // nothing to roll back to, no canary to promote:
            // answered all the same

            gate.countDown(); // the stuck load finishes after all: released, never served
            h.commandAndWait(ModelCommands.publish(MODEL, "2", v2, null, null));
            h.processElement(event(0, "u0"), 0);
            h.endInput();
            assertThat(h.predictions())
                    .extracting(Prediction::getModelVersion)
                    .containsExactly("2");
            assertThat(h.modelEvents(ModelEventType.DEPLOYED))
                    .extracting(e -> e.getDeployment().getActive())
                    .containsExactly("1", "2");
        } finally {
            gate.countDown();
        }
    }

    @Test
    void unsafeModelNamesAndVersionsAreRejected() throws Exception {
        try (InferenceHarness h = open(batches(8, 2))) {
            h.commandAndWait(ModelCommands.publish(MODEL, "../../etc", v2, null, null));
            h.commandAndWait(ModelCommands.publish(MODEL, "2\u0000", v2, null, null));
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly("INVALID_COMMAND", "INVALID_COMMAND");
        }
    }

    @Test
    @Timeout(60)
    void aBoundedInputEndsOnlyAfterEveryCommandIsAnswered() throws Exception {
        String slow = variant("2e", m -> m, false);
        try (InferenceHarness h = open(batches(8, 2))) {
            gate = new CountDownLatch(1);
            slowLocation = slow;
            h.command(
                    ModelCommands.publish(
                            MODEL, "2e", slow, null, null)); // loading, held back by the gate
            h.command(ModelCommands.rollback(MODEL)); // waits behind it
            Thread opener = new Thread(() -> gate.countDown());
            opener.start();
            h.endInput(); // returns only once both commands are answered
            assertThat(h.modelEvents(ModelEventType.DEPLOYED))
                    .extracting(e -> e.getDeployment().getActive())
                    .containsExactly("1", "2e", "1");
            opener.join();
        } finally {
            gate.countDown();
        }
    }
}
