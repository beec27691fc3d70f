package org.streaminference.jobs;

import org.streaminference.jobs.PipelineTestSupport.SteadyProducer;
import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.operators.inference.routing.CanaryRouting;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.schemas.Prediction;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * Model versions swapped in a running job (MiniCluster, real Kafka) through the control topic while
 * events flow: nothing lost or duplicated, every prediction computed by the version it names, and
 * after a TaskManager failure the job serves what it served before without a new announcement.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ModelHotSwapITCase {
    private static final int PARALLELISM = 2;
    private static final String MODEL = DemoModels.NAME;

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    private static MiniCluster cluster;
    private static Path models;
    private static String v1;
    private static String v2;

    @BeforeAll
    static void start() throws Exception {
        cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(PARALLELISM)
                                .build());
        cluster.start();
        models = SERVICES.dir().resolve("models");
        v1 = DemoModels.write(models, 1).toUri().toString();
        v2 = DemoModels.write(models, 2).toUri().toString();
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) {
            cluster.closeAsync().get(1, TimeUnit.MINUTES);
        }
    }

    /** One job's topics and options. */
    private record Run(String name, Configuration options) {
        String topic(String kind) {
            return name + "-" + kind;
        }
    }

    private static Run run(String name) throws Exception {
        Run run = new Run(name, new Configuration());
        Configuration o = run.options();
        o.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        o.set(PipelineOptions.EVENTS_TOPIC, run.topic("events"));
        o.set(PipelineOptions.PREDICTIONS_TOPIC, run.topic("predictions"));
        o.set(PipelineOptions.DEAD_LETTERS_TOPIC, run.topic("dead-letters"));
        o.set(PipelineOptions.SHADOW_PREDICTIONS_TOPIC, run.topic("shadow"));
        o.set(PipelineOptions.MODEL_CONTROL_TOPIC, run.topic("control"));
        o.set(PipelineOptions.MODEL_EVENTS_TOPIC, run.topic("model-events"));
        o.set(PipelineOptions.GROUP_ID, name);
        o.set(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX, name);
        o.set(PipelineOptions.MODEL_URI, List.of(v1));
        o.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        o.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(models.toUri().toString()));
        o.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        o.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        o.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(5));
        o.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        o.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 20);
        o.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(500));
        SERVICES.kafka().createTopics(3, run.topic("events"));
        SERVICES.kafka()
                .createTopics(
                        2,
                        run.topic("predictions"),
                        run.topic("dead-letters"),
                        run.topic("shadow"));
        SERVICES.kafka().createTopics(1, run.topic("control"), run.topic("model-events"));
        return run;
    }

    private static JobID submit(Run run) throws Exception {
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(run.options());
        env.setParallelism(PARALLELISM);
        StreamInferenceJob.prepare(env, run.options());
        return cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
    }

    private static void send(Run run, ModelCommand command) throws Exception {
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                SERVICES.bootstrapServers()),
                        new StringSerializer(),
                        new StringSerializer())) {
            producer.send(
                            new ProducerRecord<>(
                                    run.topic("control"),
                                    command.getModel(),
                                    new String(
                                            ModelCommands.toJson(command), StandardCharsets.UTF_8)))
                    .get(30, TimeUnit.SECONDS);
        }
    }

    private static List<ModelEvent> modelEvents(Run run) throws Exception {
        return PipelineTestSupport.readCommitted(
                SERVICES.bootstrapServers(),
                run.topic("model-events"),
                b -> ModelEvents.fromJson(PipelineTestSupport.bytes(b)));
    }

    /**
     * Waits until every subtask has reported an event matching {@code what} and returns the
     * producer's count then.
     */
    private static int awaitAllSubtasks(
            Run run, SteadyProducer producer, Predicate<ModelEvent> what) {
        await().atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(100))
                .until(
                        () ->
                                modelEvents(run).stream()
                                                .filter(what)
                                                .map(ModelEvent::getSubtask)
                                                .distinct()
                                                .count()
                                        == PARALLELISM);
        return producer.sent.get();
    }

    private static Predicate<ModelEvent> answers(ModelCommand command, ModelEventType type) {
        return e -> e.getType() == type && command.getId().equals(e.getCommandId());
    }

    private static List<Prediction> predictions(Run run, String kind) throws Exception {
        return PipelineTestSupport.readCommitted(
                SERVICES.bootstrapServers(), run.topic(kind), Prediction::fromByteBuffer);
    }

    /** Position of each valid event in the produced records. */
    private static Map<String, Integer> producedIndex(PipelineTestSupport.TestInput input)
            throws Exception {
        Map<String, Integer> byBytes = new HashMap<>();
        for (int i = 0; i < input.records().size(); i++) {
            byBytes.put(
                    PipelineTestSupport.base64(ByteBuffer.wrap(input.records().get(i).value())), i);
        }
        Map<String, Integer> index = new HashMap<>();
        for (InputEvent e : input.valid()) {
            index.put(e.getEventId(), byBytes.get(PipelineTestSupport.base64(e.toByteBuffer())));
        }
        return index;
    }

    /**
     * Each prediction's probabilities equal ONNX Runtime's on the version it names and the features
     * it had.
     */
    private static void assertComputedByNamedVersion(
            PipelineTestSupport.TestInput input, List<Prediction> predictions) throws Exception {
        Map<String, float[]> features = PipelineTestSupport.expectedFeatures(input.counted());
        try (LoadedModel m1 = new ModelLoader(ModelLoaderConfig.defaults()).load(v1);
                LoadedModel m2 = new ModelLoader(ModelLoaderConfig.defaults()).load(v2)) {
            for (Prediction p : predictions) {
                LoadedModel m =
                        switch (p.getModelVersion()) {
                            case "1" -> m1;
                            case "2" -> m2;
                            default ->
                                    throw new AssertionError(
                                            "unexpected version " + p.getModelVersion());
                        };
                float[] want = m.run(FloatBuffer.wrap(features.get(p.getEventId())), 1)[0];
                assertThat(p.getProbabilities().get(1))
                        .as("%s by version %s", p.getEventId(), p.getModelVersion())
                        .isCloseTo(want[1], within(1e-6));
            }
        }
    }

    @Test
    void versionsSwapUnderASteadyStreamWithNothingLostOrDuplicated() throws Exception {
        Run run = run("swap");
        String corrupt = corruptCopyOf(v2, "3");
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input(run.topic("events"), 6_000, 100, 31, "swap");
        Map<String, Integer> index = producedIndex(input);
        JobID job = submit(run);
        try {
            SteadyProducer producer =
                    new SteadyProducer(SERVICES.bootstrapServers(), input.records(), 500, 1_500);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> predictions(run, "predictions").size() >= 600);

            String wrongSignature =
                    copyOf(
                            v2,
                            "4",
                            false,
                            m -> m.replace("[ -1, " + DemoModels.FEATURES + " ]", "[ -1, 5 ]"));
            String missing = models.resolve(MODEL).resolve("5").toUri().toString();
            Map<String, String> rejections = new LinkedHashMap<>();
            List<ModelCommand> bad =
                    List.of(
                            ModelCommands.publish(MODEL, "3", corrupt, null, null),
                            ModelCommands.publish(MODEL, "4", wrongSignature, null, null),
                            ModelCommands.publish(MODEL, "5", missing, null, null));
            for (ModelCommand command : bad) {
                send(run, command);
            }
            awaitAllSubtasks(run, producer, answers(bad.get(2), ModelEventType.REJECTED));
            List<ModelEvent> events = modelEvents(run);
            for (ModelCommand command : bad) {
                events.stream()
                        .filter(answers(command, ModelEventType.REJECTED))
                        .forEach(e -> rejections.put(command.getVersion(), e.getReason()));
            }
            assertThat(rejections)
                    .containsExactly(
                            Map.entry("3", "CHECKSUM_MISMATCH"),
                            Map.entry("4", "INTERFACE_MISMATCH"),
                            Map.entry("5", "NOT_FOUND"));

            int beforeV2 = producer.sent.get();
            awaitAnswered(
                    run, index,
                    beforeV2); // so that no event sent before the command can reach version 2
            producer.allowMore(1_500);
            ModelCommand publish = ModelCommands.publish(MODEL, "2", v2, null, null);
            send(run, publish);
            int afterV2 =
                    awaitAllSubtasks(run, producer, answers(publish, ModelEventType.DEPLOYED));

            ModelCommand shadow = ModelCommands.setShadow(MODEL, "1");
            send(run, shadow);
            awaitAllSubtasks(run, producer, answers(shadow, ModelEventType.DEPLOYED));

            producer.allowMore(1_500);
            await().atMost(Duration.ofMinutes(2)).until(() -> producer.sent.get() >= afterV2 + 800);
            int beforeRollback = producer.sent.get();
            awaitAnswered(run, index, beforeRollback);
            producer.allowMore(1_500);
            ModelCommand rollback = ModelCommands.rollback(MODEL);
            send(run, rollback);
            int afterRollback =
                    awaitAllSubtasks(run, producer, answers(rollback, ModelEventType.DEPLOYED));
            producer.allowAll();

            producer.done.get(2, TimeUnit.MINUTES);
            int total = input.records().size();
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    predictions(run, "predictions").size() + deadLetterCount(run)
                                            >= total);
            assertThat(cluster.getJobStatus(job).get()).isEqualTo(JobStatus.RUNNING);

            List<Prediction> out = predictions(run, "predictions");
            assertThat(out.size() + deadLetterCount(run))
                    .as("events in = predictions + dead letters")
                    .isEqualTo(total);
            assertThat(out)
                    .extracting(Prediction::getEventId)
                    .doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(
                            input.valid().stream().map(InputEvent::getEventId).toList());
            assertComputedByNamedVersion(input, out);
            // events answered before a command was sent have the old version; events produced after
            // every subtask
            // reported the switch have the new one; per entity, versions change only in command
            // order
            Map<String, Integer> byVersion = new HashMap<>();
            Map<String, List<Prediction>> byEntity = new HashMap<>();
            for (Prediction p : out) {
                int i = index.get(p.getEventId());
                String expected =
                        i < beforeV2
                                ? "1"
                                : i >= afterV2 && i < beforeRollback
                                        ? "2"
                                        : i >= afterRollback ? "1" : null;
                if (expected != null) {
                    assertThat(p.getModelVersion())
                            .as("%s, produced %d-th", p.getEventId(), i)
                            .isEqualTo(expected);
                }
                byVersion.merge(p.getModelVersion(), 1, Integer::sum);
                byEntity.computeIfAbsent(p.getEntityId(), k -> new ArrayList<>()).add(p);
            }
            assertThat(byVersion.get("1"))
                    .as("predictions by version 1, which kept serving through the" + " rejections")
                    .isGreaterThan(1000);
            assertThat(byVersion.get("2")).as("predictions by version 2").isGreaterThan(500);
            byEntity.forEach(
                    (entity, predictions) -> {
                        predictions.sort(Comparator.comparing(p -> index.get(p.getEventId())));
                        String sequence =
                                predictions.stream()
                                        .map(Prediction::getModelVersion)
                                        .collect(Collectors.joining());
                        assertThat(sequence)
                                .as("versions of %s in event order", entity)
                                .matches("1*2*1*");
                    });

            List<Prediction> shadows = predictions(run, "shadow");
            assertThat(shadows)
                    .isNotEmpty()
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("1"));
            assertComputedByNamedVersion(input, shadows);
            assertThat(modelEvents(run))
                    .filteredOn(e -> e.getType() == ModelEventType.RELEASED)
                    .extracting(ModelEvent::getVersion)
                    .containsOnly("2");

        } finally {
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
        }
    }

    @Test
    void afterATaskManagerFailureTheJobServesTheSwappedVersionWithoutANewAnnouncement()
            throws Exception {
        Run run = run("restore");
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input(run.topic("events"), 2_000, 50, 37, "rs");
        Map<String, Integer> index = producedIndex(input);
        JobID job = submit(run);
        try {
            SteadyProducer producer =
                    new SteadyProducer(SERVICES.bootstrapServers(), input.records(), 300, 1_000);
            ModelCommand publish = ModelCommands.publish(MODEL, "2", v2, null, null);
            send(run, publish);
            int afterV2 =
                    awaitAllSubtasks(run, producer, answers(publish, ModelEventType.DEPLOYED));
            // a checkpoint holding the new deployment has completed once version 2's predictions
            // are committed
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(
                            () ->
                                    predictions(run, "predictions").stream()
                                                    .filter(p -> p.getModelVersion().equals("2"))
                                                    .count()
                                            >= 100);
            int eventsBeforeKill = modelEvents(run).size();
            producer.allowMore(600); // events flow while the TaskManager dies
            cluster.terminateTaskManager(0).get(1, TimeUnit.MINUTES);
            cluster.startTaskManager();
            producer.allowAll();

            producer.done.get(2, TimeUnit.MINUTES);
            int total = input.records().size();
            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    predictions(run, "predictions").size() + deadLetterCount(run)
                                            >= total);

            List<Prediction> out = predictions(run, "predictions");
            assertThat(out.size() + deadLetterCount(run)).isEqualTo(total);
            assertThat(out)
                    .extracting(Prediction::getEventId)
                    .doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(
                            input.valid().stream().map(InputEvent::getEventId).toList());
            assertComputedByNamedVersion(input, out);
            assertThat(out)
                    .filteredOn(p -> index.get(p.getEventId()) >= afterV2)
                    .isNotEmpty()
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("2"));

            List<ModelEvent> afterKill =
                    modelEvents(run).subList(eventsBeforeKill, modelEvents(run).size());
            assertThat(afterKill)
                    .filteredOn(e -> e.getType() == ModelEventType.DEPLOYED)
                    .as("restored deployments, none in answer to a command")
                    .hasSizeGreaterThanOrEqualTo(PARALLELISM)
                    .allSatisfy(
                            e -> {
                                assertThat(e.getCommandId()).isNull();
                                assertThat(e.getDeployment().getActive()).isEqualTo("2");
                            });
        } finally {
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
        }
    }

    /**
     * Waits until every valid event among the first {@code produced} records has a committed
     * prediction.
     */
    private static void awaitAnswered(Run run, Map<String, Integer> index, int produced) {
        List<String> due =
                index.entrySet().stream()
                        .filter(e -> e.getValue() < produced)
                        .map(Map.Entry::getKey)
                        .toList();
        await().atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(200))
                .untilAsserted(
                        () -> {
                            Set<String> predicted =
                                    predictions(run, "predictions").stream()
                                            .map(Prediction::getEventId)
                                            .collect(Collectors.toSet());
                            List<String> missing =
                                    due.stream().filter(id -> !predicted.contains(id)).toList();
                            if (!missing.isEmpty()) {
                                Map<String, String> deadLettered = new HashMap<>();
                                for (DeadLetter d :
                                        PipelineTestSupport.readCommitted(
                                                SERVICES.bootstrapServers(),
                                                run.topic("dead-letters"),
                                                DeadLetter::fromByteBuffer)) {
                                    if (missing.contains(d.getEventId())) {
                                        deadLettered.put(
                                                d.getEventId(),
                                                d.getReasonCode() + ": " + d.getMessage());
                                    }
                                }
                                throw new AssertionError(
                                        missing.size()
                                                + " of "
                                                + due.size()
                                                + " events without a prediction, e.g. "
                                                + missing.subList(0, Math.min(10, missing.size()))
                                                + "; dead letters among them: "
                                                + deadLettered);
                            }
                        });
    }

    @Test
    void aCanaryAnswersForItsShareOfEntitiesUntilItIsPromoted() throws Exception {
        Run run = run("canary");
        JobID job = submit(run);
        try {
            ModelCommand canary = ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 20);
            send(run, canary);
            SteadyProducer idle = new SteadyProducer(SERVICES.bootstrapServers(), List.of(), 1, 0);
            awaitAllSubtasks(run, idle, answers(canary, ModelEventType.DEPLOYED));

            int entities = 1_000;
            PipelineTestSupport.TestInput input =
                    PipelineTestSupport.input(run.topic("events"), 3_000, entities, 41, "cn");
            PipelineTestSupport.produce(SERVICES.bootstrapServers(), input.records(), 0);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () ->
                                    predictions(run, "predictions").size() + deadLetterCount(run)
                                            >= input.records().size());
            List<Prediction> out = predictions(run, "predictions");
            assertThat(out).hasSize(input.valid().size());
            assertComputedByNamedVersion(input, out);
            Map<String, Set<String>> versionsByEntity =
                    out.stream()
                            .collect(
                                    Collectors.groupingBy(
                                            Prediction::getEntityId,
                                            Collectors.mapping(
                                                    Prediction::getModelVersion,
                                                    Collectors.toSet())));
            versionsByEntity.forEach(
                    (entity, versions) ->
                            assertThat(versions)
                                    .as(entity)
                                    .containsExactly(
                                            CanaryRouting.bucket(entity) < 20 ? "2" : "1"));
            double share =
                    100.0
                            * versionsByEntity.values().stream()
                                    .filter(v -> v.contains("2"))
                                    .count()
                            / versionsByEntity.size();
            // binomial over ~1,000 entities: standard deviation 1.3 points; 4 points is 3 standard
            // deviations
            assertThat(share).as("percent of entities on the canary").isBetween(16.0, 24.0);

            ModelCommand promote = ModelCommands.promote(MODEL);
            send(run, promote);
            awaitAllSubtasks(run, idle, answers(promote, ModelEventType.DEPLOYED));
            PipelineTestSupport.TestInput after =
                    PipelineTestSupport.input(run.topic("events"), 500, entities, 43, "cn2");
            PipelineTestSupport.produce(SERVICES.bootstrapServers(), after.records(), 0);
            Set<String> afterIds =
                    after.valid().stream().map(InputEvent::getEventId).collect(Collectors.toSet());
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () ->
                                    predictions(run, "predictions").stream()
                                                    .filter(p -> afterIds.contains(p.getEventId()))
                                                    .count()
                                            == afterIds.size());
            assertThat(predictions(run, "predictions"))
                    .filteredOn(p -> afterIds.contains(p.getEventId()))
                    .allSatisfy(p -> assertThat(p.getModelVersion()).isEqualTo("2"));
        } finally {
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
        }
    }

    private static int deadLetterCount(Run run) throws Exception {
        return PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), run.topic("dead-letters"), b -> b)
                .size();
    }

    /**
     * A copy of a version directory under another version, its model file altered after the
     * checksum was taken.
     */
    private static String corruptCopyOf(String version, String newVersion) throws Exception {
        return copyOf(version, newVersion, true, manifest -> manifest);
    }

    private static String copyOf(
            String version,
            String newVersion,
            boolean corruptFile,
            UnaryOperator<String> changeManifest)
            throws Exception {
        Path source = Path.of(URI.create(version));
        Path dir = models.resolve(MODEL).resolve(newVersion);
        Files.createDirectories(dir);
        byte[] bytes = Files.readAllBytes(source.resolve("model.onnx"));
        if (corruptFile) {
            bytes[bytes.length - 3] ^= 0x40;
        }
        Files.write(dir.resolve("model.onnx"), bytes);
        String original = Files.readString(source.resolve("manifest.json"));
        String manifest =
                changeManifest.apply(
                        original.replaceFirst(
                                "\"version\" : \"\\d+\"", "\"version\" : \"" + newVersion + "\""));
        assertThat(manifest).isNotEqualTo(original);
        Files.writeString(dir.resolve("manifest.json"), manifest);
        return dir.toUri().toString();
    }
}
