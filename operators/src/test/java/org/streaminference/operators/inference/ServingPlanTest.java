package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OnnxMlpWriter;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;
import org.streaminference.model.control.InvalidCommandException;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.FeatureProblem;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.MemberPrediction;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.assertj.core.api.Assertions;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * One operator serving two models and an ensemble by a serving plan: routes by event type and by a
 * field, fan-out, the ensemble's weighted mean against the members run directly, UNKNOWN_MODEL for
 * events no route matches and for commands naming a model the plan does not serve, plan changes,
 * and a restore that runs only the answers still owed.
 */
@Timeout(120)
class ServingPlanTest {
    private static final long NEVER = 3_600_000;

    @TempDir static Path root;
    private static String fraud1;
    private static String churn2;
    private static LoadedModel directFraud;
    private static LoadedModel directChurn;

    /** purchase → fraud, churn, risk; login from the app → churn; risk = 3×fraud + 1×churn. */
    private static final String PLAN =
            """
            {"routes": [{"eventTypes": ["purchase"], "to": ["fraud", "churn", "risk"]},
                        {"eventTypes": ["login"], "field": "channel", "values": ["app"], "to": ["churn"]}],
             "ensembles": [{"name": "risk", "members": [{"model": "fraud", "weight": 3}, {"model": "churn"}]}]}
            """;

    @BeforeAll
    static void writeModels() throws Exception {
        Path models = root.resolve("models");
        fraud1 = DemoModels.writeAs(models, "fraud", 1).toUri().toString();
        churn2 = DemoModels.writeAs(models, "churn", 2).toUri().toString();
        directFraud = new ModelLoader(ModelLoaderConfig.defaults()).load(fraud1);
        directChurn = new ModelLoader(ModelLoaderConfig.defaults()).load(churn2);
    }

    @AfterAll
    static void closeModels() throws Exception {
        directFraud.close();
        directChurn.close();
    }

    private static ModelProvider provider() {
        ModelLoaderConfig options =
                ModelLoaderConfig.defaults()
                        .withAllowedLocations(
                                List.of("file"),
                                List.of(root.resolve("models").toUri().toString()));
        return new SharedModelProvider(
                options,
                new FeatureContract(DemoModels.SPEC, FeatureLayout.floats(DemoModels.FEATURES)));
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

    private static ServingPlan plan(String json) throws InvalidCommandException {
        return ServingPlans.fromJson(json.getBytes(StandardCharsets.UTF_8));
    }

    /** The rows each model ran, by model name: what fan-out and ensembles cost. */
    private static final Map<String, InstrumentedModel> RUNS = new ConcurrentHashMap<>();

    /** {@link #provider()}, counting the rows each version runs. */
    private static ModelProvider countingProvider() {
        ModelProvider shared = provider();
        return (context, location) -> {
            ModelProvider.Handle handle = shared.open(context, location);
            InstrumentedModel counted = new InstrumentedModel((LoadedModel) handle.model());
            RUNS.put(counted.manifest().name(), counted);
            return new ModelProvider.Handle() {
                @Override
                public InferenceModel model() {
                    return counted;
                }

                @Override
                public FeatureLayout layout() {
                    return handle.layout();
                }

                @Override
                public void close() throws Exception {
                    handle.close();
                }
            };
        };
    }

    private static int rowsRun(String model) {
        return RUNS.get(model).batchSizes.stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Fraud serves from the start; churn gets its first version from a PUBLISH, as a new model
     * would.
     */
    private static InferenceHarness open(BatchingConfig options) throws Exception {
        InferenceHarness h =
                new InferenceHarness(countingProvider(), List.of(fraud1), plan(PLAN), options);
        h.open();
        h.commandAndWait(ModelCommands.publish("churn", "2", churn2, null, null));
        return h;
    }

    static EnrichedEvent event(int i, String type, String channel) {
        return EnrichedEvent.newBuilder()
                .setEvent(
                        InputEvent.newBuilder()
                                .setEventId("e" + i)
                                .setEntityId("u" + i % 13)
                                .setEventTime(1000L + i)
                                .setEventType(type)
                                .setNumericFields(Map.of())
                                .setCategoricalFields(
                                        channel == null ? Map.of() : Map.of("channel", channel))
                                .build())
                .setSource(new SourcePosition("events", 0, (long) i, null, null))
                .setFeatures(DemoVectors.of(5f + i % 11, 1f + i % 3, (float) i, 2f))
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

    /** The target each event should reach, by the plan's rules. */
    private static List<String> expectedTargets(EnrichedEvent e) {
        String type = e.getEvent().getEventType();
        if (type.equals("purchase")) {
            return List.of("fraud", "churn", "risk");
        }
        if (type.equals("login")
                && "app".equals(e.getEvent().getCategoricalFields().get("channel"))) {
            return List.of("churn");
        }
        return List.of();
    }

    @Test
    void everyEventReachesExactlyTheTargetsItsRouteNamesAndTheEnsembleIsTheWeightedMean()
            throws Exception {
        Map<String, EnrichedEvent> sent = new HashMap<>();
        try (InferenceHarness h = open(batches(16, 5))) {
            String[][] kinds = {
                {"purchase", null}, {"login", "app"}, {"login", "web"}, {"refund", null}
            };
            for (int i = 0; i < 200; i++) {
                String[] kind = kinds[i % kinds.length];
                EnrichedEvent e = event(i, kind[0], kind[1]);
                sent.put("e" + i, e);
                h.processElement(e, i);
            }
            h.endInput();

            Map<String, List<String>> answered = new HashMap<>();
            for (Prediction p : h.predictions()) {
                answered.computeIfAbsent(p.getEventId(), k -> new ArrayList<>())
                        .add(p.getModelName());
            }
            List<DeadLetter> unrouted = h.deadLetters();
            for (EnrichedEvent e : sent.values()) {
                String id = e.getEvent().getEventId();
                List<String> expected = expectedTargets(e);
                assertThat(answered.getOrDefault(id, List.of()))
                        .as("the models %s reached", id)
                        .containsExactlyInAnyOrderElementsOf(expected);
                long dead = unrouted.stream().filter(d -> d.getEventId().equals(id)).count();
                assertThat(dead).as("dead letters of %s", id).isEqualTo(expected.isEmpty() ? 1 : 0);
            }
            assertThat(unrouted)
                    .allSatisfy(
                            d -> {
                                assertThat(d.getReasonCode()).isEqualTo(ReasonCode.UNKNOWN_MODEL);
                                assertThat(d.getModel()).isNull();
                                assertThat(d.getMessage()).contains("no route");
                            });
            int ensembles = 0;
            for (Prediction p : h.predictions()) {
                EnrichedEvent e = sent.get(p.getEventId());
                double[] fraud = direct(directFraud, e);
                double[] churn = direct(directChurn, e);
                switch (p.getModelName()) {
                    case "fraud" ->
                            assertThat(p.getProbabilities().get(1))
                                    .isCloseTo(fraud[1], within(1e-6));
                    case "churn" ->
                            assertThat(p.getProbabilities().get(1))
                                    .isCloseTo(churn[1], within(1e-6));
                    case "risk" -> {
                        ensembles++;
                        for (int c = 0; c < 2; c++) {
                            assertThat(p.getProbabilities().get(c))
                                    .as("risk of %s, class %s", p.getEventId(), c)
                                    .isCloseTo((3 * fraud[c] + churn[c]) / 4, within(1e-6));
                        }
                        int best =
                                p.getProbabilities().get(1) > p.getProbabilities().get(0) ? 1 : 0;
                        assertThat(p.getPredictedClass()).isEqualTo(best);
                        assertThat(p.getPredictedLabel()).isIn(DemoModels.LABELS.get(best), null);
                        assertThat(p.getModelVersion()).isEqualTo("fraud:1,churn:2");
                        assertThat(p.getMembers())
                                .extracting(MemberPrediction::getModel, MemberPrediction::getWeight)
                                .containsExactly(
                                        Tuple.tuple("fraud", 3.0), Tuple.tuple("churn", 1.0));
                        assertThat(p.getMembers().get(0).getProbabilities().get(1))
                                .isCloseTo(fraud[1], within(1e-6));
                    }
                    default -> throw new AssertionError("unexpected target " + p.getModelName());
                }
            }
            assertThat(ensembles).isEqualTo(50);
            assertThat(rowsRun("fraud"))
                    .as("fraud runs once per purchase, for itself and the ensemble")
                    .isEqualTo(50);
            assertThat(rowsRun("churn")).as("churn once per purchase and app login").isEqualTo(100);
        }
    }

    @Test
    void aNewPlanRoutesAtOnceAndAModelItDropsIsReleasedAndItsCommandsRejected() throws Exception {
        try (InferenceHarness h = open(batches(8, 2))) {
            h.processElement(event(0, "purchase", null), 0);
            h.commandAndWait(
                    ModelCommands.setPlan(
                            plan(
                                    """
                    {"routes": [{"to": ["fraud"]}]}""")));
            h.processElement(event(1, "purchase", null), 1);
            h.processElement(event(2, "login", "app"), 2);
            h.commandAndWait(ModelCommands.rollback("churn"));
            h.endInput();
            h.runMailsUntil(() -> h.modelEvents(ModelEventType.RELEASED).size() == 1);

            assertThat(
                            h.predictions().stream()
                                    .collect(
                                            Collectors.groupingBy(
                                                    Prediction::getEventId,
                                                    Collectors.mapping(
                                                            Prediction::getModelName,
                                                            Collectors.toList()))))
                    .containsEntry("e0", List.of("fraud", "churn", "risk"))
                    .containsEntry("e1", List.of("fraud"))
                    .containsEntry("e2", List.of("fraud"));
            ModelEvent planned =
                    h.modelEvents(ModelEventType.DEPLOYED).stream()
                            .filter(
                                    e ->
                                            e.getCommand() != null
                                                    && e.getCommand().startsWith("SET_PLAN"))
                            .findFirst()
                            .orElseThrow();
            assertThat(planned.getMessage()).isEqualTo("serving plan: * -> fraud");
            assertThat(h.modelEvents(ModelEventType.RELEASED))
                    .extracting(ModelEvent::getModel, ModelEvent::getVersion)
                    .containsExactly(Tuple.tuple("churn", "2"));
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .singleElement()
                    .satisfies(
                            e -> {
                                assertThat(e.getReason()).isEqualTo("UNKNOWN_MODEL");
                                assertThat(e.getMessage()).contains("it serves [fraud]");
                            });
        }
    }

    /** The DEPLOYED events of {@code model}'s deployments (not the plan's), in order. */
    private static List<ModelEvent> deployedVersions(InferenceHarness h, String model) {
        return h.modelEvents(ModelEventType.DEPLOYED).stream()
                .filter(e -> model.equals(e.getModel()) && e.getDeployment() != null)
                .toList();
    }

    @Test
    void aPlanThatStopsRoutingToAModelKeepsItsDeploymentAndOneThatRoutesToItAgainBringsItBack()
            throws Exception {
        OperatorSubtaskState snapshot;
        try (InferenceHarness h = open(batches(1, 2))) {
            h.commandAndWait(
                    ModelCommands.setPlan(
                            plan(
                                    """
                    {"routes": [{"to": ["fraud"]}]}""")));
            h.runMailsUntil(
                    () ->
                            h.modelEvents(ModelEventType.RELEASED).size()
                                    == 1); // churn:2's memory is freed
            snapshot = h.snapshot(1, 1);

            h.commandAndWait(ModelCommands.setPlan(plan(PLAN))); // no PUBLISH: churn:2 comes back
            h.runMailsUntil(() -> deployedVersions(h, "churn").size() == 2);
            assertThat(deployedVersions(h, "churn").get(1).getDeployment().getActive())
                    .isEqualTo("2");
            assertThat(deployedVersions(h, "churn").get(1).getCommandId()).isNull();
            h.processElement(event(1, "login", "app"), 1);
            h.endInput();
            assertThat(h.predictions())
                    .filteredOn(p -> p.getEventId().equals("e1"))
                    .extracting(p -> p.getModelName() + ":" + p.getModelVersion())
                    .containsExactly("churn:2");
        }
        try (InferenceHarness restored =
                new InferenceHarness(provider(), List.of(fraud1), plan(PLAN), batches(1, 2))) {
            restored.initializeState(snapshot); // churn out of the plan, its deployment kept
            restored.open();
            restored.processElement(event(2, "login", "app"), 2);
            restored.commandAndWait(ModelCommands.setPlan(plan(PLAN)));
            restored.runMailsUntil(() -> deployedVersions(restored, "churn").size() == 1);
            restored.processElement(event(3, "login", "app"), 3);
            restored.endInput();
            assertThat(restored.predictions())
                    .extracting(
                            p ->
                                    p.getEventId()
                                            + "/"
                                            + p.getModelName()
                                            + ":"
                                            + p.getModelVersion())
                    .containsExactly("e2/fraud:1", "e3/churn:2");
        }
    }

    @Test
    void aCommandIsObeyedOnceAndInOrderAlsoAfterARestore() throws Exception {
        ModelCommand dropChurn =
                ModelCommands.setPlan(
                        plan(
                                """
                {"routes": [{"to": ["fraud"]}]}"""));
        ModelCommand routeChurn = ModelCommands.setPlan(plan(PLAN));
        ModelCommand endCanary;
        OperatorSubtaskState snapshot;
        try (InferenceHarness h = open(batches(8, 2))) {
            endCanary = ModelCommands.setCanary("churn", "2", 0); // after open's PUBLISH of churn:2
            h.commandAndWait(dropChurn);
            h.commandAndWait(routeChurn);
            h.runMailsUntil(() -> deployedVersions(h, "churn").size() == 2);
            h.commandAndWait(dropChurn); // the replay of an older plan: churn stays routed
            h.commandAndWait(endCanary);
            snapshot = h.snapshot(1, 1);
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly("REPLAYED");
            assertThat(h.modelEvents(ModelEventType.RELEASED))
                    .hasSize(1); // only the first drop released churn
        }
        try (InferenceHarness restored =
                new InferenceHarness(provider(), List.of(fraud1), plan(PLAN), batches(8, 2))) {
            restored.initializeState(snapshot);
            restored.open();
            restored.commandAndWait(endCanary);
            ModelCommand olderPlan =
                    ModelCommands.setPlan(
                            plan(
                                    """
                    {"routes": [{"to": ["fraud"]}]}"""));
            olderPlan.setSequence(routeChurn.getSequence() - 1);
            restored.commandAndWait(olderPlan);
            ModelCommand olderRetire = ModelCommands.retire("churn", "2");
            olderRetire.setSequence(endCanary.getSequence());
            restored.commandAndWait(olderRetire);
            assertThat(restored.modelEvents(ModelEventType.REJECTED))
                    .extracting(ModelEvent::getReason)
                    .containsExactly("REPLAYED", "OUT_OF_ORDER", "OUT_OF_ORDER");
            assertThat(restored.modelEvents(ModelEventType.REJECTED).get(1).getMessage())
                    .contains("the last accepted for the serving plan");
            restored.processElement(event(4, "login", "app"), 4);
            restored.endInput();
            assertThat(restored.predictions())
                    .extracting(p -> p.getModelName() + ":" + p.getModelVersion())
                    .containsExactly("churn:2");
        }
    }

    @Test
    void aJobStartedWithoutStateRefusesCommandsIssuedBeforeItsConfiguration() throws Exception {
        long configured = System.currentTimeMillis();
        ModelCommand before =
                ModelCommands.setPlan(
                        plan(
                                """
                {"routes": [{"to": ["nothing"]}]}"""));
        before.setIssuedAt(configured - 60_000);
        try (InferenceHarness h =
                new InferenceHarness(
                        provider(),
                        fraud1,
                        batches(8, 2),
                        new ModelControlLimits(Duration.ofMinutes(1), 65536, 100, configured))) {
            h.open();
            h.commandAndWait(before);
            h.processElement(event(5, "purchase", null), 5);
            h.endInput();
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getReason()).isEqualTo("STALE"));
            assertThat(h.predictions())
                    .extracting(Prediction::getModelName)
                    .containsExactly("fraud");
        }
    }

    @Test
    void aRoutedModelWithoutAVersionAndAnInvalidPlanAreAnswered() throws Exception {
        try (InferenceHarness h =
                new InferenceHarness(
                        provider(),
                        List.of(fraud1),
                        plan(
                                """
                {"routes": [{"to": ["fraud", "churn"]}]}"""),
                        batches(8, 2))) {
            h.open();
            h.command(
                    "{\"command\":\"SET_PLAN\",\"plan\":{\"routes\":[{\"to\":[\"risk\"]}],"
                            + "\"ensembles\":[{\"name\":\"risk\",\"members\":[{\"model\":\"fraud\",\"weight\":0}]}]}}");
            h.processElement(event(0, "purchase", null), 0);
            h.endInput();
            assertThat(h.predictions())
                    .extracting(Prediction::getModelName)
                    .containsExactly("fraud");
            assertThat(h.deadLetters())
                    .singleElement()
                    .satisfies(
                            d -> {
                                assertThat(d.getReasonCode()).isEqualTo(ReasonCode.UNKNOWN_MODEL);
                                assertThat(d.getModel()).isEqualTo("churn");
                                assertThat(d.getMessage()).contains("no version of model 'churn'");
                            });
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .singleElement()
                    .satisfies(
                            e -> {
                                assertThat(e.getReason()).isEqualTo("INVALID_COMMAND");
                                assertThat(e.getMessage())
                                        .contains(
                                                "weight of fraud in ensemble 'risk' must be a finite number above 0");
                            });
        }
    }

    @Test
    void aRestoreRunsOnlyTheAnswersStillOwedOnThePlanOfTheCheckpoint() throws Exception {
        OperatorSubtaskState snapshot;
        // 4 purchases and 4 scans fill fraud's batch of 8 (the ensemble shares fraud's request) and
        // leave churn's 4
        // waiting, so the snapshot holds each purchase's churn answer and nothing else
        BatchingConfig unordered =
                BatchingConfig.builder()
                        .maxBatchSize(8)
                        .maxDelayMillis(NEVER)
                        .concurrentBatches(1)
                        .timeoutMillis(60_000)
                        .retries(0)
                        .ordered(false)
                        .capacity(4096)
                        .build();
        try (InferenceHarness h = open(unordered)) {
            h.commandAndWait(
                    ModelCommands.setPlan(
                            plan(
                                    """
                    {"routes": [{"eventTypes": ["purchase"], "to": ["fraud", "churn", "solo"]},
                                {"eventTypes": ["scan"], "to": ["fraud"]},
                                {"eventTypes": ["refund"], "to": ["churn"]}],
                     "ensembles": [{"name": "solo", "members": [{"model": "fraud"}]}]}""")));
            for (int i = 0; i < 8; i++) {
                h.processElement(event(i, i < 4 ? "purchase" : "scan", null), i);
            }
            h.runMailsUntil(() -> h.predictions().size() == 12);
            assertThat(h.predictions())
                    .extracting(Prediction::getModelName)
                    .containsOnly("fraud", "solo");
            snapshot = h.snapshot(1, 1);
        }
        try (InferenceHarness restored =
                new InferenceHarness(
                        provider(),
                        List.of(fraud1),
                        plan(
                                """
                {"routes": [{"to": ["fraud"]}]}"""),
                        unordered)) {
            restored.initializeState(snapshot);
            restored.open(); // configured with another plan: the checkpoint's wins
            restored.processElement(event(8, "refund", null), 8);
            restored.endInput();
            assertThat(restored.predictions())
                    .extracting(p -> p.getEventId() + "/" + p.getModelName())
                    .containsExactlyInAnyOrder(
                            "e0/churn", "e1/churn", "e2/churn", "e3/churn", "e8/churn");
        }
    }

    @Test
    void aJobStartsWithOneVersionPerModelAndRefusesStartingVersionsThePlanDoesNotServe()
            throws Exception {
        try (InferenceHarness h =
                new InferenceHarness(
                        provider(), List.of(fraud1, churn2), plan(PLAN), batches(8, 2))) {
            h.open();
            h.processElement(event(0, "purchase", null), 0);
            h.endInput();
            assertThat(h.predictions())
                    .extracting(Prediction::getModelName)
                    .containsExactly("fraud", "churn", "risk");
            assertThat(h.modelEvents(ModelEventType.DEPLOYED))
                    .extracting(ModelEvent::getModel)
                    .containsExactly("fraud", "churn");
        }
        try (InferenceHarness h =
                new InferenceHarness(provider(), List.of(fraud1, churn2), null, batches(8, 2))) {
            Assertions.assertThatThrownBy(h::open)
                    .hasMessageContaining(
                            "several starting models [fraud, churn] and no serving plan");
        }
        try (InferenceHarness h =
                new InferenceHarness(
                        provider(),
                        List.of(fraud1, churn2),
                        plan("{\"routes\": [{\"to\": [\"fraud\"]}]}"),
                        batches(8, 2))) {
            Assertions.assertThatThrownBy(h::open)
                    .hasMessageContaining("are not all served by the plan, which serves [fraud]");
        }
    }

    @Test
    void aFeatureNoModelCanTakeIsADeadLetterFromEachTargetAndTheEnsembleNamesItsMember()
            throws Exception {
        try (InferenceHarness h = open(batches(8, 2))) {
            EnrichedEvent e = event(0, "purchase", null);
            List<Double> features = new ArrayList<>(e.getFeatures());
            features.set(3, Double.NaN);
            e.setFeatures(features);
            h.processElement(e, 0);
            h.processElement(event(1, "purchase", null), 1);
            h.endInput();
            assertThat(h.predictions())
                    .extracting(Prediction::getEventId)
                    .containsOnly("e1")
                    .hasSize(3);
            assertThat(h.deadLetters())
                    .extracting(DeadLetter::getModel)
                    .containsExactly("fraud", "churn", "risk");
            assertThat(h.deadLetters())
                    .allSatisfy(
                            d -> {
                                assertThat(d.getEventId()).isEqualTo("e0");
                                assertThat(d.getReasonCode())
                                        .isEqualTo(ReasonCode.NON_FINITE_FEATURE);
                            });
            assertThat(h.deadLetters().get(2).getMessage())
                    .startsWith("ensemble 'risk': member fraud:1 failed: ");
        }
    }

    /**
     * Members that cannot be combined are refused before they could answer: a member's new version
     * of other classes (its PUBLISH is REJECTED), a plan whose ensemble mixes a classifier and a
     * scorer (the plan served before stays), and such a plan with such starting versions (the start
     * fails); each reason names the members.
     */
    @Test
    void ensemblesWhoseMembersCannotBeCombinedAreRefusedWhenAPlanOrAVersionWouldMakeThem()
            throws Exception {
        Path models = root.resolve("models");
        Path otherClasses = DemoModels.writeAs(models, "churn", 1);
        ModelManifest churn1 =
                new ModelLoader(ModelLoaderConfig.defaults())
                        .readManifest(otherClasses.toUri().toString());
        DemoModels.writeManifest(
                otherClasses, churn1.toBuilder().labels(List.of("stays", "leaves")).build());
        String scorer = writeScorer(models.resolve("scorer").resolve("1"));
        try (InferenceHarness h = open(batches(8, 2))) {
            h.commandAndWait(
                    ModelCommands.publish(
                            "churn", "1", otherClasses.toUri().toString(), null, null));
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .singleElement()
                    .satisfies(
                            e -> {
                                assertThat(e.getReason()).isEqualTo("ENSEMBLE_MISMATCH");
                                assertThat(e.getMessage())
                                        .isEqualTo(
                                                "ensemble 'risk' cannot combine members of different classes:"
                                                        + " fraud:1 (class probabilities of [normal, suspicious]), churn:1 (class probabilities of"
                                                        + " [stays, leaves]), churn:2 (class probabilities of [normal, suspicious])");
                            });
            h.commandAndWait(
                    ModelCommands.setPlan(
                            plan(
                                    PLAN.replace(
                                            "\"ensembles\"",
                                            "\"models\": [\"scorer\"]," + " \"ensembles\""))));
            h.commandAndWait(ModelCommands.publish("scorer", "1", scorer, null, null));
            h.commandAndWait(
                    ModelCommands.setPlan(
                            plan(
                                    """
                    {"routes": [{"to": ["mixed"]}], "models": ["churn"],
                     "ensembles": [{"name": "mixed", "members": [{"model": "fraud"}, {"model": "scorer"}]}]}""")));
            assertThat(h.modelEvents(ModelEventType.REJECTED))
                    .hasSize(2)
                    .last()
                    .satisfies(
                            e -> {
                                assertThat(e.getReason()).isEqualTo("ENSEMBLE_MISMATCH");
                                assertThat(e.getMessage())
                                        .isEqualTo(
                                                "ensemble 'mixed' cannot combine members that answer in"
                                                        + " different kinds: fraud:1 (class probabilities of [normal, suspicious]), scorer:1 (a"
                                                        + " score)");
                            });
            h.processElement(event(0, "purchase", null), 0);
            h.endInput();
            assertThat(h.predictions())
                    .as("the plan before the refused one, and churn's version before")
                    .extracting(p -> p.getModelName() + ":" + p.getModelVersion())
                    .containsExactly("fraud:1", "churn:2", "risk:fraud:1,churn:2");
        }
        try (InferenceHarness h =
                new InferenceHarness(
                        provider(),
                        List.of(fraud1, scorer),
                        plan(
                                """
                {"routes": [{"to": ["mixed"]}],
                 "ensembles": [{"name": "mixed", "members": [{"model": "fraud"}, {"model": "scorer"}]}]}"""),
                        batches(8, 2))) {
            Assertions.assertThatThrownBy(h::open)
                    .hasMessageContaining(
                            "Cannot start: ensemble 'mixed' cannot combine members that answer in"
                                    + " different kinds");
        }
    }

    /** A regressor of the demo's features: one score per row, [N,1]. */
    private static String writeScorer(Path dir) throws Exception {
        Random random = new Random(3);
        float[][] w = new float[DemoModels.FEATURES][1];
        for (float[] row : w) {
            row[0] = (float) random.nextGaussian() * 0.1f;
        }
        byte[] bytes =
                new OnnxMlpWriter(DemoModels.INPUT, "score").dense(w, new float[] {0.5f}).toBytes();
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name("scorer")
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(
                                new TensorSignature(
                                        DemoModels.INPUT,
                                        "FLOAT",
                                        new long[] {-1, DemoModels.FEATURES}))
                        .output(
                                new TensorSignature("score", "FLOAT", new long[] {-1, 1}),
                                OutputRole.SCORE)
                        .featureSpec(DemoModels.SPEC)
                        .build());
        return dir.toUri().toString();
    }

    @Test
    void eachModelReadsItsOwnGroupOfTheJobsSpec() throws Exception {
        Path models = root.resolve("grouped");
        String left = regroup(DemoModels.writeAs(models, "fraud", 1), "left");
        String right = regroup(DemoModels.writeAs(models, "churn", 2), "right");
        int width = DemoModels.FEATURES;
        int[] leftIndices = IntStream.range(0, width).toArray();
        int[] rightIndices = IntStream.range(width, 2 * width).toArray();
        FeatureLayout layout =
                new FeatureLayout(
                        List.of(
                                new FeatureLayout.Group(
                                        "left", FeatureLayout.ValueType.FLOAT, leftIndices),
                                new FeatureLayout.Group(
                                        "right", FeatureLayout.ValueType.FLOAT, rightIndices)));
        ModelProvider provider =
                new SharedModelProvider(
                        ModelLoaderConfig.defaults()
                                .withAllowedLocations(
                                        List.of("file"), List.of(models.toUri().toString())),
                        new FeatureContract(DemoModels.SPEC, layout));
        try (InferenceHarness h =
                new InferenceHarness(
                        provider,
                        List.of(left, right),
                        plan("{\"routes\": [{\"to\": [\"fraud\", \"churn\"]}]}"),
                        batches(8, 2))) {
            h.open();
            EnrichedEvent e = event(0, "purchase", null);
            List<Double> leftValues = DemoVectors.of(3f, 1f, 4f, 1f);
            List<Double> rightValues = DemoVectors.of(9f, 2f, 6f, 5f);
            List<Double> both = new ArrayList<>(leftValues);
            both.addAll(rightValues);
            e.setFeatures(both);
            h.processElement(e, 0);
            h.endInput();
            Map<String, Prediction> byModel =
                    h.predictions().stream()
                            .collect(Collectors.toMap(Prediction::getModelName, p -> p));
            assertThat(byModel.get("fraud").getProbabilities().get(1))
                    .isCloseTo(
                            direct(
                                    directFraud,
                                    EnrichedEvent.newBuilder(e).setFeatures(leftValues).build())[1],
                            within(1e-6));
            assertThat(byModel.get("churn").getProbabilities().get(1))
                    .isCloseTo(
                            direct(
                                    directChurn,
                                    EnrichedEvent.newBuilder(e).setFeatures(rightValues).build())[
                                    1],
                            within(1e-6));
        }
    }

    /**
     * Each model needs only its own fields: an event that lacks a field of group {@code right}
     * (which only churn reads) is served by fraud, and is a {@code MISSING_FIELD} dead letter from
     * churn, naming the field, the group and the input, and from an ensemble with churn as a
     * member; an event routed only to fraud is simply served.
     */
    @Test
    void anEventIsCheckedForTheFieldsOfTheModelsItReachesOnly() throws Exception {
        Path models = root.resolve("own-fields");
        String left = regroup(DemoModels.writeAs(models, "fraud", 1), "left");
        String right = regroup(DemoModels.writeAs(models, "churn", 2), "right");
        int width = DemoModels.FEATURES;
        FeatureLayout layout =
                new FeatureLayout(
                        List.of(
                                new FeatureLayout.Group(
                                        "left",
                                        FeatureLayout.ValueType.FLOAT,
                                        IntStream.range(0, width).toArray()),
                                new FeatureLayout.Group(
                                        "right",
                                        FeatureLayout.ValueType.FLOAT,
                                        IntStream.range(width, 2 * width).toArray())));
        ModelProvider provider =
                new SharedModelProvider(
                        ModelLoaderConfig.defaults()
                                .withAllowedLocations(
                                        List.of("file"), List.of(models.toUri().toString())),
                        new FeatureContract(DemoModels.SPEC, layout));
        try (InferenceHarness h =
                new InferenceHarness(
                        provider,
                        List.of(left, right),
                        plan(
                                """
                {"routes": [{"eventTypes": ["purchase"], "to": ["fraud", "churn", "both"]}, {"to": ["fraud"]}],
                 "ensembles": [{"name": "both", "members": [{"model": "fraud"}, {"model": "churn"}]}]}"""),
                        batches(8, 2))) {
            h.open();
            for (int i = 0; i < 2; i++) {
                EnrichedEvent e = event(i, i == 0 ? "purchase" : "view", null);
                List<Double> values = new ArrayList<>(DemoVectors.of(3f, 1f, 4f, 1f));
                for (int v = 0; v < width; v++) {
                    values.add(Double.NaN); // what the features stage gives for a missing required
                    // field
                }
                e.setFeatures(values);
                e.setProblems(
                        List.of(
                                new FeatureProblem(
                                        "right",
                                        ReasonCode.MISSING_FIELD,
                                        "numeric field 'tenure' is missing")));
                h.processElement(e, i);
            }
            h.endInput();
            assertThat(h.predictions())
                    .extracting(p -> p.getEventId() + "/" + p.getModelName())
                    .containsExactlyInAnyOrder("e0/fraud", "e1/fraud");
            assertThat(h.deadLetters())
                    .extracting(d -> d.getEventId() + "/" + d.getModel() + "/" + d.getReasonCode())
                    .containsExactlyInAnyOrder("e0/churn/MISSING_FIELD", "e0/both/MISSING_FIELD");
            assertThat(h.deadLetters())
                    .filteredOn(d -> d.getModel().equals("churn"))
                    .singleElement()
                    .satisfies(
                            d ->
                                    assertThat(d.getMessage())
                                            .isEqualTo(
                                                    "numeric field 'tenure' is missing (feature"
                                                            + " group 'right', which input 'features' of churn:2 reads)"));
            assertThat(h.deadLetters())
                    .filteredOn(d -> d.getModel().equals("both"))
                    .singleElement()
                    .satisfies(
                            d ->
                                    assertThat(d.getMessage())
                                            .startsWith(
                                                    "ensemble 'both': member churn:2 failed:"
                                                            + " numeric field 'tenure' is missing"));
        }
    }

    /** The version in {@code dir}, its one input fed by feature group {@code group}. */
    private static String regroup(Path dir, String group) throws Exception {
        ModelManifest m =
                new ModelLoader(ModelLoaderConfig.defaults()).readManifest(dir.toUri().toString());
        DemoModels.writeManifest(
                dir,
                m.toBuilder()
                        .inputs(
                                List.of(
                                        ModelInput.of(
                                                new TensorSignature(
                                                        DemoModels.INPUT,
                                                        "FLOAT",
                                                        new long[] {-1, DemoModels.FEATURES}),
                                                group)))
                        .build());
        return dir.toUri().toString();
    }
}
