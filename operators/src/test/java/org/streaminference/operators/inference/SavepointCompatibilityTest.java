package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Operator state written by release 0.1.0 restores into today's code: a snapshot of the inference
 * operator serving a plan of two models and an ensemble, with a published version, a command order
 * and answers still owed, stored in {@code src/test/resources/savepoints}. After the restore the
 * answers owed are given by the versions the snapshot deployed, with the values the models give
 * when run directly, and the command order still refuses a replay.
 *
 * <p>The snapshot was written with {@code -Dsavepoints.write=true} before the code was
 * restructured; it is a Java serialization of Flink's {@link OperatorSubtaskState}, so a new Flink
 * version may need it written again. Its deployments name models under {@link #MODELS}, which the
 * test writes again (the demo models are deterministic).
 */
@Timeout(120)
class SavepointCompatibilityTest {
    private static final String RESOURCE = "/savepoints/inference-operator-0.1.0.snapshot";
    private static final Path MODELS =
            Path.of(
                    System.getProperty("java.io.tmpdir"),
                    "streaminference-savepoint-0.1.0",
                    "models");
    private static final String PLAN =
            """
            {"routes": [{"eventTypes": ["purchase"], "to": ["fraud", "churn", "risk"]},
                        {"eventTypes": ["login"], "to": ["churn"]}],
             "ensembles": [{"name": "risk", "members": [{"model": "fraud", "weight": 3}, {"model": "churn"}]}]}
            """;
    private static final int OWED = 6;

    /**
     * The PUBLISH of churn:2 the snapshot obeyed, sent again after the restore (a fixed id and
     * sequence).
     */
    private static ModelCommand publishChurn() {
        ModelCommand publish =
                ModelCommands.publish(
                        "churn", "2", MODELS.resolve("churn/2").toUri().toString(), null, null);
        publish.setId("savepoint-0.1.0-publish-churn-2");
        publish.setSequence(1_765_000_000_000L);
        publish.setIssuedAt(System.currentTimeMillis());
        return publish;
    }

    @Test
    @EnabledIfSystemProperty(named = "savepoints.write", matches = "true")
    void writeTheSnapshot() throws Exception {
        writeModels();
        try (InferenceHarness h = harness()) {
            h.open();
            h.commandAndWait(publishChurn());
            for (int i = 0; i < OWED; i++) {
                h.processElement(event(i), 100 + i); // waits in a batch of 64: owed at the snapshot
            }
            OperatorSubtaskState snapshot = h.snapshot(1, 1);
            assertThat(h.predictions()).isEmpty();
            try (var out =
                    new ObjectOutputStream(
                            Files.newOutputStream(Path.of("src/test/resources" + RESOURCE)))) {
                out.writeObject(snapshot);
            }
        }
    }

    @Test
    void stateOfTheLastReleaseRestoresAndAnswersWhatItOwes() throws Exception {
        OperatorSubtaskState snapshot;
        try (InputStream in = SavepointCompatibilityTest.class.getResourceAsStream(RESOURCE)) {
            assertThat(in).as("the stored snapshot %s", RESOURCE).isNotNull();
            snapshot = (OperatorSubtaskState) new ObjectInputStream(in).readObject();
        }
        writeModels();
        try (LoadedModel fraud = load("fraud/1");
                LoadedModel churn = load("churn/2");
                InferenceHarness restored = harness()) {
            restored.initializeState(snapshot);
            restored.open();
            restored.commandAndWait(publishChurn());
            assertThat(restored.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .as("the restored command order knows the PUBLISH")
                    .containsExactly("REPLAYED");
            restored.endInput();

            List<Prediction> predictions = new ArrayList<>(restored.predictions());
            predictions.sort(
                    Comparator.comparing(Prediction::getEventId)
                            .thenComparing(Prediction::getModelName));
            List<String> expectedAnswers = new ArrayList<>();
            for (int i = 0; i < OWED; i++) {
                String id = "e" + i;
                expectedAnswers.addAll(
                        i % 2 == 0
                                ? List.of(
                                        id + "/churn:2",
                                        id + "/fraud:1",
                                        id + "/risk:fraud:1,churn:2")
                                : List.of(id + "/churn:2"));
            }
            assertThat(predictions)
                    .extracting(
                            p ->
                                    p.getEventId()
                                            + "/"
                                            + p.getModelName()
                                            + ":"
                                            + p.getModelVersion())
                    .containsExactlyElementsOf(expectedAnswers);
            for (Prediction p : predictions) {
                EnrichedEvent e = event(Integer.parseInt(p.getEventId().substring(1)));
                double[] f = direct(fraud, e);
                double[] c = direct(churn, e);
                for (int k = 0; k < 2; k++) {
                    double expected =
                            switch (p.getModelName()) {
                                case "fraud" -> f[k];
                                case "churn" -> c[k];
                                default -> (3 * f[k] + c[k]) / 4;
                            };
                    assertThat(p.getProbabilities().get(k))
                            .as("%s from %s, class %d", p.getEventId(), p.getModelName(), k)
                            .isCloseTo(expected, within(1e-6));
                }
            }
        }
    }

    private static InferenceHarness harness() throws Exception {
        ServingPlan plan = ServingPlans.fromJson(PLAN.getBytes(StandardCharsets.UTF_8));
        BatchingConfig batches =
                BatchingConfig.builder()
                        .maxBatchSize(64)
                        .maxDelayMillis(3_600_000)
                        .concurrentBatches(1)
                        .timeoutMillis(60_000)
                        .retries(0)
                        .ordered(true)
                        .capacity(4096)
                        .build();
        ModelLoaderConfig options =
                ModelLoaderConfig.defaults()
                        .withAllowedLocations(List.of("file"), List.of(MODELS.toUri().toString()));
        ModelProvider provider =
                new SharedModelProvider(
                        options,
                        new FeatureContract(
                                DemoModels.SPEC, FeatureLayout.floats(DemoModels.FEATURES)));
        return new InferenceHarness(
                provider, List.of(MODELS.resolve("fraud/1").toUri().toString()), plan, batches);
    }

    private static void writeModels() throws Exception {
        if (Files.exists(MODELS)) {
            try (Stream<Path> files = Files.walk(MODELS)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        DemoModels.writeAs(MODELS, "fraud", 1);
        DemoModels.writeAs(MODELS, "churn", 2);
    }

    private static LoadedModel load(String version) throws Exception {
        return new ModelLoader(ModelLoaderConfig.defaults())
                .load(MODELS.resolve(version).toUri().toString());
    }

    /** Even events are purchases (fraud, churn, risk), odd ones logins (churn). */
    private static EnrichedEvent event(int i) {
        return EnrichedEvent.newBuilder()
                .setEvent(
                        InputEvent.newBuilder()
                                .setEventId("e" + i)
                                .setEntityId("u" + i % 3)
                                .setEventTime(1000L + i)
                                .setEventType(i % 2 == 0 ? "purchase" : "login")
                                .setNumericFields(Map.of())
                                .setCategoricalFields(Map.of())
                                .build())
                .setSource(new SourcePosition("events", 0, (long) i, null, null))
                .setFeatures(DemoVectors.of(5f + i, 1f + i % 3, (float) i, 2f))
                .build();
    }

    private static double[] direct(LoadedModel model, EnrichedEvent e) throws Exception {
        float[] row = new float[e.getFeatures().size()];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) (double) e.getFeatures().get(i);
        }
        float[] out = model.run(FloatBuffer.wrap(row), 1)[0];
        return new double[] {out[0], out[1]};
    }
}
