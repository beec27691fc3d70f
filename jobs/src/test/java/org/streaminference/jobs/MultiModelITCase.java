package org.streaminference.jobs;

import org.streaminference.cli.ModelsCli;
import org.streaminference.model.DemoModels;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.MemberPrediction;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * One job serving two models and a weighted ensemble of them, on a MiniCluster with a real Kafka
 * broker and PostgreSQL: purchases fan out to both models and the ensemble, refunds go to the
 * second model alone, other events match no route. Checks that every event reaches exactly the
 * targets its route names, that each prediction equals ONNX Runtime run directly with the version
 * it names and the ensemble the weighted mean of its members run directly, that a member
 * hot-swapped mid-stream changes the ensemble while the others serve, and that the output stays
 * exact across a TaskManager kill with all three targets in flight.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MultiModelITCase {
    private static final int PARALLELISM = 2;
    private static final String FIRST = DemoModels.NAME;
    private static final String SECOND = "demo-risk";
    private static final String ENSEMBLE = "blend";
    private static final String PLAN =
            """
            routes:
              - eventTypes: [purchase]
                to: [%s, %s, %s]
              - eventTypes: [refund]
                to: [%s]
            ensembles:
              - name: %s
                members:
                  - {model: %s, weight: 2}
                  - {model: %s}
            """
                    .formatted(FIRST, SECOND, ENSEMBLE, SECOND, ENSEMBLE, FIRST, SECOND);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    private static MiniCluster cluster;

    @BeforeAll
    static void startCluster() throws Exception {
        cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(PARALLELISM)
                                .build());
        cluster.start();
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.closeAsync().get(1, TimeUnit.MINUTES);
        }
    }

    /** The targets an event's route names: what the plan says, computed here. */
    private static List<String> targets(InputEvent e) {
        return switch (e.getEventType()) {
            case "purchase" -> List.of(FIRST, SECOND, ENSEMBLE);
            case "refund" -> List.of(SECOND);
            default -> List.of();
        };
    }

    private record Run(
            JobID job,
            PipelineTestSupport.TestInput input,
            Map<String, Path> secondVersions,
            Path first) {}

    /**
     * @param store whether the run writes the result store (one run at a time may: they share the
     *     database)
     */
    private Run start(String prefix, int events, boolean writeStore) throws Exception {
        String topic = prefix + "-events";
        SERVICES.kafka().createTopics(3, topic);
        SERVICES.kafka()
                .createTopics(
                        2, prefix + "-predictions", prefix + "-dead-letters", prefix + "-shadow");
        SERVICES.kafka().createTopics(1, prefix + "-control", prefix + "-model-events");
        Path store = SERVICES.dir().resolve(prefix + "-models");
        Path first = DemoModels.write(store, 1);
        Path second = DemoModels.writeAs(store, SECOND, 2);
        Path plan = SERVICES.dir().resolve(prefix + "-plan.yaml");
        Files.writeString(plan, PLAN);
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input(topic, events, 40, 31, prefix);

        Configuration options = new Configuration();
        options.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, topic);
        options.set(PipelineOptions.GROUP_ID, prefix);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, prefix + "-predictions");
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, prefix + "-dead-letters");
        options.set(PipelineOptions.SHADOW_PREDICTIONS_TOPIC, prefix + "-shadow");
        options.set(PipelineOptions.MODEL_CONTROL_TOPIC, prefix + "-control");
        options.set(PipelineOptions.MODEL_EVENTS_TOPIC, prefix + "-model-events");
        options.set(PipelineOptions.MODEL_URI, List.of(first.toString(), second.toString()));
        options.set(PipelineOptions.MODEL_SERVING_PLAN, plan.toString());
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.RESULT_STORE_ENABLED, writeStore);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(300));
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(100));
        options.set(PipelineOptions.INFERENCE_MAX_BATCH_SIZE, 32);
        options.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        options.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 20);
        options.set(
                RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(500));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(PARALLELISM);
        StreamInferenceJob.prepare(env, options);
        JobID job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
        return new Run(job, input, new HashMap<>(Map.of("2", second)), first);
    }

    /**
     * Answers each event is owed: one per target (a dead letter from each where the event lacks a
     * field every model here reads), or one dead letter where no route matches or it is bad.
     */
    private static int expectedAnswers(PipelineTestSupport.TestInput input) {
        int n = input.badByBytes().size();
        for (InputEvent e : input.counted()) {
            n += Math.max(1, targets(e).size());
        }
        return n;
    }

    private static int committed(String topic) throws Exception {
        return PipelineTestSupport.readCommitted(SERVICES.bootstrapServers(), topic, b -> b).size();
    }

    @Test
    void everyEventReachesItsTargetsAndAMemberHotSwapsWhileTheOthersServe() throws Exception {
        Run run = start("mm", 1_500, true);
        try {
            PipelineTestSupport.SteadyProducer producer =
                    new PipelineTestSupport.SteadyProducer(
                            SERVICES.bootstrapServers(), run.input().records(), 600, 700);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> committed("mm-predictions") >= 600);
            // a new version of the second model, published as a user would, while the first and the
            // ensemble serve
            Path newer =
                    DemoModels.writeAs(SERVICES.dir().resolve("mm-exports"), SECOND, 1)
                            .resolve("model.onnx");
            String answer =
                    PipelineTestSupport.models(
                            "publish",
                            "--name",
                            SECOND,
                            "--version",
                            "3",
                            "--file",
                            newer.toString(),
                            "--store",
                            SERVICES.dir().resolve("mm-models").toUri().toString(),
                            "--feature-spec",
                            DemoModels.SPEC,
                            "--labels",
                            String.join(",", DemoModels.LABELS),
                            "--output-kind",
                            "PROBABILITIES",
                            "--bootstrap-servers",
                            SERVICES.bootstrapServers(),
                            "--control-topic",
                            "mm-control",
                            "--events-topic",
                            "mm-model-events",
                            "--wait",
                            "PT60S");
            assertThat(answer).contains("serves demo-risk: active 3, previous 2");
            run.secondVersions()
                    .put("3", SERVICES.dir().resolve("mm-models").resolve(SECOND).resolve("3"));
            producer.allowAll();
            producer.done.get(2, TimeUnit.MINUTES);
            int expected = expectedAnswers(run.input());
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    committed("mm-predictions") + committed("mm-dead-letters")
                                            >= expected);

            Outputs outputs = checkOutputs(run, "mm");
            Set<String> blendedWith = new HashSet<>();
            outputs.ensembles.forEach(p -> blendedWith.add(p.getMembers().get(1).getVersion()));
            assertThat(blendedWith)
                    .as("the ensemble blended both versions of its swapped member")
                    .containsExactlyInAnyOrder("2", "3");
            System.out.printf(
                    "MULTI-MODEL: %d events -> %d predictions (%s) + %d dead letters; ensemble member"
                            + " versions %s%n",
                    run.input().size(),
                    outputs.predictions.size(),
                    outputs.byTarget,
                    outputs.deadLetters.size(),
                    blendedWith);

            // the store: each entity's newest prediction of each target, and the query API filters
            // by model
            try (Connection db = SERVICES.connection()) {
                await().atMost(Duration.ofMinutes(1))
                        .pollInterval(Duration.ofMillis(500))
                        .untilAsserted(() -> assertLatestRows(db, run.input(), outputs));
            }

            // the CLI: a new plan answered by every subtask, a model no plan names refused, the
            // list per model
            Path refundsToTheEnsemble = SERVICES.dir().resolve("mm-plan-2.yaml");
            Files.writeString(
                    refundsToTheEnsemble,
                    PLAN.replace("to: [" + SECOND + "]", "to: [" + ENSEMBLE + "]"));
            String[] connection = {
                "--bootstrap-servers",
                SERVICES.bootstrapServers(),
                "--control-topic",
                "mm-control",
                "--events-topic",
                "mm-model-events"
            };
            String planned =
                    PipelineTestSupport.models(
                            concat(
                                    new String[] {
                                        "plan", "--file", refundsToTheEnsemble.toString()
                                    },
                                    connection));
            assertThat(
                            planned.lines()
                                    .filter(
                                            l ->
                                                    l.contains(
                                                            "serving plan: purchase -> "
                                                                    + FIRST
                                                                    + ", "
                                                                    + SECOND
                                                                    + ", "
                                                                    + ENSEMBLE
                                                                    + "; refund -> "
                                                                    + ENSEMBLE
                                                                    + "; "
                                                                    + ENSEMBLE
                                                                    + " = 2*"
                                                                    + FIRST
                                                                    + " + 1*"
                                                                    + SECOND)))
                    .hasSize(PARALLELISM);
            StringWriter refused = new StringWriter();
            var cli = ModelsCli.commandLine();
            cli.setOut(new PrintWriter(refused, true));
            assertThat(
                            cli.execute(
                                    concat(
                                            new String[] {
                                                "rollback", "--name", "spam", "--to", "1"
                                            },
                                            connection)))
                    .isEqualTo(2);
            assertThat(refused.toString())
                    .contains("do not serve spam (UNKNOWN_MODEL)")
                    .contains("No job serves spam");
            String list = PipelineTestSupport.models(concat(new String[] {"list"}, connection));
            assertThat(list)
                    .contains("serving plan: purchase -> ")
                    .contains(FIRST + ": active 1")
                    .contains(SECOND + ": active 3, previous 2");
        } finally {
            cluster.cancelJob(run.job()).get(1, TimeUnit.MINUTES);
        }
    }

    @Test
    void outputStaysExactWhenTheTaskManagerDiesWithSeveralModelsInFlight() throws Exception {
        Run run = start("mk", 2_000, false);
        try {
            PipelineTestSupport.SteadyProducer producer =
                    new PipelineTestSupport.SteadyProducer(
                            SERVICES.bootstrapServers(), run.input().records(), 400, 900);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> committed("mk-predictions") >= 900);
            producer.allowMore(300);
            int atKill = committed("mk-predictions");
            cluster.terminateTaskManager(0).get(1, TimeUnit.MINUTES);
            cluster.startTaskManager();
            producer.allowAll();
            int expected = expectedAnswers(run.input());
            assertThat(atKill).as("the kill happened mid-stream").isLessThan(expected / 2);
            producer.done.get(2, TimeUnit.MINUTES);
            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    committed("mk-predictions") + committed("mk-dead-letters")
                                            >= expected);
            assertThat(cluster.getJobStatus(run.job()).get()).isEqualTo(JobStatus.RUNNING);
            checkOutputs(run, "mk");

            StringWriter report = new StringWriter();
            await().atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () -> {
                                report.getBuffer().setLength(0);
                                var cli = ModelsCli.commandLine();
                                cli.setOut(new PrintWriter(report, true));
                                Path conf =
                                        Files.createDirectories(SERVICES.dir().resolve("mk-conf"));
                                Files.writeString(
                                        conf.resolve("config.yaml"),
                                        String.join(
                                                "\n",
                                                PipelineOptions.EVENTS_TOPIC.key() + ": mk-events",
                                                PipelineOptions.GROUP_ID.key() + ": mk",
                                                PipelineOptions.PREDICTIONS_TOPIC.key()
                                                        + ": mk-predictions",
                                                PipelineOptions.DEAD_LETTERS_TOPIC.key()
                                                        + ": mk-dead-letters",
                                                ""));
                                return cli.execute(
                                                "reconcile",
                                                "--config-dir",
                                                conf.toString(),
                                                "--bootstrap-servers",
                                                SERVICES.bootstrapServers())
                                        == 0;
                            });
            int events = run.input().size();
            assertThat(report.toString())
                    .contains(
                            "events consumed "
                                    + String.format("%,d", events)
                                    + " = events answered "
                                    + String.format("%,d", events))
                    .contains("balanced")
                    .contains("answers repeated for an event and model: 0");
            System.out.printf(
                    "MULTI-MODEL exactly-once: %d committed predictions at the kill; %s%n",
                    atKill,
                    report.toString()
                            .lines()
                            .filter(l -> l.startsWith("events consumed"))
                            .findFirst()
                            .orElse(""));
        } finally {
            cluster.cancelJob(run.job()).get(1, TimeUnit.MINUTES);
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private record Outputs(
            List<Prediction> predictions,
            List<DeadLetter> deadLetters,
            List<Prediction> ensembles,
            Map<String, Integer> byTarget) {}

    /**
     * Every valid event answered by exactly its route's targets (or one UNKNOWN_MODEL dead letter),
     * every bad record by its dead letter, nothing twice; each prediction as ONNX Runtime computes
     * it directly with the version it names, the ensemble's as the weighted mean of its members
     * computed directly.
     */
    private static Outputs checkOutputs(Run run, String prefix) throws Exception {
        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(),
                        prefix + "-predictions",
                        Prediction::fromByteBuffer);
        List<DeadLetter> deadLetters =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(),
                        prefix + "-dead-letters",
                        DeadLetter::fromByteBuffer);
        Map<String, List<String>> answered = new HashMap<>();
        Map<String, Integer> byTarget = new TreeMap<>();
        for (Prediction p : predictions) {
            answered.computeIfAbsent(p.getEventId(), k -> new ArrayList<>()).add(p.getModelName());
            byTarget.merge(p.getModelName(), 1, Integer::sum);
        }
        Map<String, Long> unrouted = new HashMap<>();
        Map<String, List<String>> missing = new HashMap<>();
        for (DeadLetter d : deadLetters) {
            if (d.getReasonCode() == ReasonCode.UNKNOWN_MODEL) {
                assertThat(d.getModel()).isNull();
                unrouted.merge(d.getEventId(), 1L, Long::sum);
            } else if (d.getReasonCode() == ReasonCode.MISSING_FIELD
                    && d.getModel() != null) { // from a model
                missing.computeIfAbsent(d.getEventId(), k -> new ArrayList<>()).add(d.getModel());
            }
        }
        // an event without the amount every model reads: a dead letter from each of its targets,
        // none if unrouted
        for (InputEvent e : run.input().incomplete()) {
            assertThat(missing.getOrDefault(e.getEventId(), List.of()))
                    .as("MISSING_FIELD of %s (%s)", e.getEventId(), e.getEventType())
                    .containsExactlyInAnyOrderElementsOf(targets(e));
            assertThat(unrouted.getOrDefault(e.getEventId(), 0L))
                    .isEqualTo(targets(e).isEmpty() ? 1L : 0L);
        }
        for (InputEvent e : run.input().valid()) {
            List<String> want = targets(e);
            assertThat(answered.getOrDefault(e.getEventId(), List.of()))
                    .as("targets of %s (%s)", e.getEventId(), e.getEventType())
                    .containsExactlyInAnyOrderElementsOf(want);
            assertThat(unrouted.getOrDefault(e.getEventId(), 0L))
                    .as("unrouted dead letters of %s", e.getEventId())
                    .isEqualTo(want.isEmpty() ? 1L : 0L);
        }
        assertThat(
                        deadLetters.size()
                                - unrouted.values().stream().mapToLong(Long::longValue).sum()
                                - missing.values().stream().mapToLong(List::size).sum())
                .as("one dead letter per bad record")
                .isEqualTo(run.input().badByBytes().size());

        Map<String, float[]> features = PipelineTestSupport.expectedFeatures(run.input().counted());
        Map<String, float[]> first = PipelineTestSupport.runDirectly(run.first(), features);
        Map<String, Map<String, float[]>> second = new HashMap<>();
        for (Map.Entry<String, Path> v : run.secondVersions().entrySet()) {
            second.put(v.getKey(), PipelineTestSupport.runDirectly(v.getValue(), features));
        }
        Map<String, String> secondVersionOf = new HashMap<>();
        List<Prediction> ensembles = new ArrayList<>();
        for (Prediction p : predictions) {
            assertThat(p.getSource()).as("the source of %s", p.getEventId()).isNotNull();
            if (p.getModelName().equals(SECOND)) {
                secondVersionOf.put(p.getEventId(), p.getModelVersion());
            }
        }
        for (Prediction p : predictions) {
            String id = p.getEventId();
            float[] want;
            switch (p.getModelName()) {
                case FIRST -> want = first.get(id);
                case SECOND -> want = second.get(p.getModelVersion()).get(id);
                case ENSEMBLE -> {
                    ensembles.add(p);
                    List<MemberPrediction> members = p.getMembers();
                    assertThat(members)
                            .extracting(MemberPrediction::getModel)
                            .containsExactly(FIRST, SECOND);
                    String secondVersion = members.get(1).getVersion();
                    assertThat(secondVersion)
                            .as("the ensemble of %s used the version that answered it alone", id)
                            .isEqualTo(secondVersionOf.get(id));
                    float[] a = first.get(id);
                    float[] b = second.get(secondVersion).get(id);
                    want = new float[a.length];
                    for (int c = 0; c < a.length; c++) {
                        want[c] = (float) ((2.0 * a[c] + b[c]) / 3.0);
                    }
                    assertThat(p.getModelVersion())
                            .isEqualTo(FIRST + ":1," + SECOND + ":" + secondVersion);
                }
                default -> throw new AssertionError("unexpected target " + p.getModelName());
            }
            for (int c = 0; c < want.length; c++) {
                assertThat(p.getProbabilities().get(c))
                        .as("%s of %s, class %d", p.getModelName(), id, c)
                        .isCloseTo(want[c], within(1e-6));
            }
        }
        // Kafka: keyed by entity and model, in the entity's partition (where its events are)
        for (ConsumerRecord<byte[], byte[]> r :
                PipelineTestSupport.readCommittedRecords(
                        SERVICES.bootstrapServers(), prefix + "-predictions")) {
            Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
            assertThat(new String(r.key(), StandardCharsets.UTF_8))
                    .isEqualTo(p.getEntityId() + "/" + p.getModelName());
        }
        return new Outputs(predictions, deadLetters, ensembles, byTarget);
    }

    /** latest_prediction: per entity and target, the newest event the target answered. */
    private static void assertLatestRows(
            Connection db, PipelineTestSupport.TestInput input, Outputs outputs) throws Exception {
        Map<String, InputEvent> newest = new HashMap<>();
        for (InputEvent e : input.valid()) {
            for (String target : targets(e)) {
                newest.merge(
                        e.getEntityId() + "/" + target,
                        e,
                        (a, b) -> b.getEventTime() >= a.getEventTime() ? b : a);
            }
        }
        Map<String, String> rows = new HashMap<>();
        try (Statement s = db.createStatement();
                ResultSet rs =
                        s.executeQuery(
                                "SELECT entity_id, model_name, event_id FROM latest_prediction")) {
            while (rs.next()) {
                rows.put(rs.getString(1) + "/" + rs.getString(2), rs.getString(3));
            }
        }
        Map<String, String> want = new HashMap<>();
        newest.forEach((key, e) -> want.put(key, e.getEventId()));
        assertThat(rows).isEqualTo(want);
    }
}
