package org.streaminference.jobs;

import org.streaminference.model.DemoModels;
import org.streaminference.model.StuckModels;
import org.streaminference.model.control.ModelCommands;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * A TaskManager shuts down cleanly while a model's warm-up that never ends is running: the job is
 * cancelled and the MiniCluster closed, the operator's close stops the run through ONNX Runtime's
 * run termination and waits for its loader, and no loader or warm-up thread is left (before, the
 * warm-up kept a core busy for the life of the TaskManager, and the TaskManager JVM died with
 * SIGSEGV inside ONNX Runtime at its shutdown; here that would be this test's own JVM).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class StuckModelITCase {

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    private static boolean threadAlive(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith(prefix) && t.isAlive());
    }

    @Test
    void theTaskManagerShutsDownCleanlyWhileAWarmUpThatNeverEndsRuns() throws Exception {
        DefaultTopics.create(SERVICES.kafka(), 2, 2);
        Path models = SERVICES.dir().resolve("models");
        Path v1 = DemoModels.write(models, 1);
        Path stuck = StuckModels.neverWarmsUp(models, DemoModels.NAME, "2");

        MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(2)
                                .build());
        cluster.start();
        try {
            Configuration options = new Configuration();
            options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
            options.set(PipelineOptions.MODEL_URI, List.of(v1.toString()));
            options.set(
                    PipelineOptions.MODEL_ALLOWED_ROOTS,
                    List.of(SERVICES.dir().toUri().toString()));
            options.set(
                    PipelineOptions.MODEL_ALLOW_UNSIGNED,
                    true); // trust is not what this test is about
            options.set(
                    PipelineOptions.MODEL_LOAD_TIMEOUT,
                    Duration.ofMinutes(10)); // still running at the end
            options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.getExecutionEnvironment(options);
            env.setParallelism(2);
            StreamInferenceJob.prepare(env, options);
            JobID job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
            await().atMost(Duration.ofMinutes(1))
                    .until(() -> cluster.getJobStatus(job).get() == JobStatus.RUNNING);

            try (KafkaProducer<String, String> producer =
                    new KafkaProducer<>(
                            Map.of(
                                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    SERVICES.bootstrapServers()),
                            new StringSerializer(),
                            new StringSerializer())) {
                producer.send(
                                new ProducerRecord<>(
                                        "model-control",
                                        DemoModels.NAME,
                                        new String(
                                                ModelCommands.toJson(
                                                        ModelCommands.publish(
                                                                DemoModels.NAME,
                                                                "2",
                                                                stuck.toString(),
                                                                null,
                                                                null)),
                                                StandardCharsets.UTF_8)))
                        .get(1, TimeUnit.MINUTES);
            }
            // both subtasks' loaders are in the warm-up (or waiting for the one that is): it never
            // ends by itself
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> threadAlive("model-warm-up-watchdog"));

            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
            await().atMost(Duration.ofMinutes(1))
                    .until(() -> cluster.getJobStatus(job).get() == JobStatus.CANCELED);
        } finally {
            cluster.closeAsync().get(2, TimeUnit.MINUTES);
        }
        await().atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(100))
                .until(
                        () ->
                                !threadAlive("model-loader-")
                                        && !threadAlive("model-warm-up-watchdog"));
    }
}
