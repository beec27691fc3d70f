package org.streaminference.jobs;

import org.streaminference.jobs.PipelineTestSupport.SteadyProducer;
import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The shaded job jar on a real standalone Flink cluster (a JobManager and a TaskManager process,
 * started by {@code standalone-cluster.sh} from Maven artifacts with the project's flink-conf),
 * submitted through the REST API as {@code flink run} does. The TaskManager process is killed with
 * SIGKILL mid-stream and a new one started: every event still ends up exactly once as a prediction
 * or a dead letter, in Kafka and in PostgreSQL.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class StandaloneClusterIT {
    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @Test
    void
            theJobSurvivesAKilledTaskManagerProcessDuringASwapWithExactlyOnceOutputAndUpgradesFromASavepoint()
                    throws Exception {
        Path jar = StandaloneCluster.jobJar();
        Path work = SERVICES.dir().resolve("cluster");
        Files.createDirectories(work);
        DefaultTopics.create(SERVICES.kafka(), 3, 2);
        Path models = SERVICES.dir().resolve("models");
        TrustedPublisher publisher = TrustedPublisher.create(SERVICES.dir().resolve("trusted.pub"));
        Path modelDir = publisher.signedDemoVersion(models, 1);
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input("events", 3_000, 40, 61, "cl");
        int total = input.records().size();

        // job options set only in the cluster's config.yaml, not in the submission: they must reach
        // the job
        Path clusterOptions =
                Files.writeString(
                        work.resolve("cluster-options.yaml"),
                        String.join(
                                "\n",
                                "model.allowed-roots: " + models.toUri(),
                                "model.trusted-keys: " + publisher.trustedKeys(),
                                "validation.max-future-skew: 10 min",
                                ""));
        StandaloneCluster cluster = StandaloneCluster.start(work, clusterOptions);
        String job = null;
        // a stopped job's id is cleared, so that the finally block only cancels what is running
        try {
            job =
                    cluster.submit(
                            jar,
                            List.of(
                                    "--kafka.bootstrap-servers", SERVICES.bootstrapServers(),
                                    "--model.uri", modelDir.toUri().toString(),
                                    "--result-store.jdbc-url", SERVICES.jdbcUrl()),
                            2,
                            null);
            String jobId = job;
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> cluster.allRunning(jobId));
            for (JsonNode vertex : cluster.get("/jobs/" + jobId).path("vertices")) {
                // the control source and the drift monitor run alone by design
                if (!vertex.path("name").asText().contains("model-commands")
                        && !vertex.path("name").asText().contains("drift-monitor")) {
                    assertThat(vertex.path("parallelism").asInt())
                            .as("the parallelism of the request: %s", vertex.path("name").asText())
                            .isEqualTo(2);
                }
            }
            // the model location policy and the trusted keys of the cluster's config.yaml are in
            // force
            Path unsigned = DemoModels.write(models.resolve("unsigned"), 2);
            Path outside = publisher.signedDemoVersion(SERVICES.dir().resolve("elsewhere"), 2);
            ModelCommand unsignedPublish =
                    ModelCommands.publish(
                            DemoModels.NAME, "2", unsigned.toUri().toString(), null, null);
            ModelCommand outsidePublish =
                    ModelCommands.publish(
                            DemoModels.NAME, "2", outside.toUri().toString(), null, null);
            sendCommand(publisher, unsignedPublish);
            sendCommand(publisher, outsidePublish);
            await().atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () ->
                                    modelEvents().stream()
                                                    .filter(
                                                            e ->
                                                                    e.getType()
                                                                            == ModelEventType
                                                                                    .REJECTED)
                                                    .count()
                                            == 4);
            assertThat(modelEvents())
                    .filteredOn(e -> e.getType() == ModelEventType.REJECTED)
                    .extracting(e -> e.getCommandId() + " " + e.getReason())
                    .containsOnly(
                            unsignedPublish.getId() + " UNSIGNED",
                            outsidePublish.getId() + " URI_NOT_ALLOWED");
            System.out.println(
                    "CLUSTER CONFIGURATION: model.allowed-roots and model.trusted-keys from the cluster's"
                            + " config.yaml took effect");

            SteadyProducer producer =
                    new SteadyProducer(SERVICES.bootstrapServers(), input.records(), 400, 1_200);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> committed("predictions") >= 600);
            producer.allowMore(400);

            // a model swap in flight: version 2 is announced just before the TaskManager dies
            Path v2 = publisher.signedDemoVersion(models, 2);
            ModelCommand swap =
                    ModelCommands.publish(DemoModels.NAME, "2", v2.toUri().toString(), null, null);
            sendCommand(publisher, swap);
            ProcessHandle taskManager = cluster.taskManager(0);
            long pid = taskManager.pid();
            long killedAt = System.nanoTime();
            assertThat(taskManager.destroyForcibly())
                    .as("SIGKILL to TaskManager pid %d", pid)
                    .isTrue();
            taskManager.onExit().get(1, TimeUnit.MINUTES);
            int committedAtKill = committed("predictions");
            cluster.startTaskManager();
            producer.allowAll();
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(100))
                    .until(
                            () ->
                                    cluster.allRunning(jobId)
                                            && committed("predictions") > committedAtKill);
            double recoverySeconds = (System.nanoTime() - killedAt) / 1e9;
            System.out.printf(
                    "RECOVERY: TaskManager pid %d killed with SIGKILL; job running again on a new"
                            + " TaskManager and committing predictions %.1f s later%n",
                    pid, recoverySeconds);
            assertThat(committedAtKill).as("the kill happened mid-stream").isLessThan(total / 2);

            producer.done.get(2, TimeUnit.MINUTES);
            Map<String, String> positions =
                    PipelineTestSupport.positions(SERVICES.bootstrapServers(), input.records());
            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> committed("predictions") + committed("dead-letters") >= total);
            List<Prediction> predictions =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
            List<DeadLetter> deadLetters =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(),
                            "dead-letters",
                            DeadLetter::fromByteBuffer);
            System.out.printf(
                    "EXACTLY-ONCE: events %d = predictions %d + dead letters %d%n",
                    total, predictions.size(), deadLetters.size());
            try (Connection db = SERVICES.connection()) {
                await().atMost(Duration.ofMinutes(1))
                        .pollInterval(Duration.ofMillis(500))
                        .untilAsserted(
                                () ->
                                        PipelineTestSupport.assertOutputsExact(
                                                input,
                                                positions,
                                                predictions,
                                                deadLetters,
                                                Map.of("1", modelDir, "2", v2),
                                                db));
            }
            assertThat(predictions)
                    .as("version 2 took over after the swap that was in flight at the kill")
                    .anyMatch(p -> p.getModelVersion().equals("2"));

            // upgrade: version 2 (announced again: nothing to load), stop with a savepoint, start
            // the jar from it
            ModelCommand publish =
                    ModelCommands.publish(DemoModels.NAME, "2", v2.toUri().toString(), null, null);
            sendCommand(publisher, publish);
            await().atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () ->
                                    modelEvents().stream()
                                                    .filter(
                                                            e ->
                                                                    e.getType()
                                                                                    == ModelEventType
                                                                                            .DEPLOYED
                                                                            && publish.getId()
                                                                                    .equals(
                                                                                            e
                                                                                                    .getCommandId()))
                                                    .map(ModelEvent::getSubtask)
                                                    .distinct()
                                                    .count()
                                            == 2);
            String savepoint = cluster.stopWithSavepoint(job);
            job = null;
            int eventsBefore = modelEvents().size();
            job =
                    cluster.submit(
                            jar,
                            List.of(
                                    "--kafka.bootstrap-servers", SERVICES.bootstrapServers(),
                                    "--model.uri",
                                            modelDir.toUri()
                                                    .toString(), // still version 1: the savepoint
                                    // must win
                                    "--result-store.jdbc-url", SERVICES.jdbcUrl()),
                            2,
                            savepoint);
            PipelineTestSupport.TestInput after =
                    PipelineTestSupport.input("events", 300, 40, 67, "cl2");
            PipelineTestSupport.produce(SERVICES.bootstrapServers(), after.records(), 0);
            Set<String> afterIds =
                    after.valid().stream().map(e -> e.getEventId()).collect(Collectors.toSet());
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    PipelineTestSupport.readCommitted(
                                                            SERVICES.bootstrapServers(),
                                                            "predictions",
                                                            Prediction::fromByteBuffer)
                                                    .stream()
                                                    .filter(p -> afterIds.contains(p.getEventId()))
                                                    .count()
                                            == afterIds.size());
            List<InputEvent> all = new ArrayList<>(input.counted());
            all.addAll(after.counted());
            Map<String, float[]> features = PipelineTestSupport.expectedFeatures(all);
            try (LoadedModel direct =
                    new ModelLoader(ModelLoaderConfig.defaults()).load(v2.toString())) {
                for (Prediction p :
                        PipelineTestSupport.readCommitted(
                                SERVICES.bootstrapServers(),
                                "predictions",
                                Prediction::fromByteBuffer)) {
                    if (afterIds.contains(p.getEventId())) {
                        assertThat(p.getModelVersion())
                                .as("served after the upgrade")
                                .isEqualTo("2");
                        float[] want =
                                direct.run(FloatBuffer.wrap(features.get(p.getEventId())), 1)[0];
                        assertThat(p.getProbabilities().get(1))
                                .as("%s: features continued from the savepoint", p.getEventId())
                                .isCloseTo(want[1], Assertions.within(1e-6));
                    }
                }
            }
            List<ModelEvent> restored = modelEvents().subList(eventsBefore, modelEvents().size());
            assertThat(restored)
                    .filteredOn(e -> e.getType() == ModelEventType.DEPLOYED)
                    .isNotEmpty()
                    .allSatisfy(
                            e -> {
                                assertThat(e.getCommandId())
                                        .as("restored, not re-announced")
                                        .isNull();
                                assertThat(e.getDeployment().getActive()).isEqualTo("2");
                            });
            System.out.printf(
                    "UPGRADE: stopped with savepoint %s, restarted from it; %d new events all served by"
                            + " version 2 with features continued%n",
                    savepoint, afterIds.size());
        } finally {
            if (job != null) {
                cluster.cancel(job);
            }
            cluster.close();
        }
    }

    /**
     * Sends {@code command} signed by {@code publisher}, as the models CLI does: the cluster trusts
     * its key.
     */
    private static void sendCommand(TrustedPublisher publisher, ModelCommand command)
            throws Exception {
        try (var producer =
                new KafkaProducer<String, String>(
                        Map.of("bootstrap.servers", SERVICES.bootstrapServers()),
                        new StringSerializer(),
                        new StringSerializer())) {
            producer.send(
                            new ProducerRecord<>(
                                    "model-control",
                                    command.getModel(),
                                    new String(publisher.sign(command), StandardCharsets.UTF_8)))
                    .get(30, TimeUnit.SECONDS);
        }
    }

    private static List<ModelEvent> modelEvents() throws Exception {
        return PipelineTestSupport.readCommitted(
                SERVICES.bootstrapServers(),
                "model-events",
                b -> ModelEvents.fromJson(PipelineTestSupport.bytes(b)));
    }

    private static int committed(String topic) throws Exception {
        return PipelineTestSupport.readCommitted(SERVICES.bootstrapServers(), topic, b -> b).size();
    }
}
