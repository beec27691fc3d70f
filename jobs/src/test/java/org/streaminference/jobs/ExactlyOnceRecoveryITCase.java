package org.streaminference.jobs;

import org.streaminference.cli.ModelsCli;
import org.streaminference.model.DemoModels;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Kills the TaskManager while events are flowing, records wait in inference batches and Kafka
 * transactions are open, starts a new one, and proves the output is still exact: every event once
 * (read_committed), features as if nothing had happened (keyed state restored from the checkpoint,
 * not double-counted), and latest_prediction correct.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ExactlyOnceRecoveryITCase {
    private static final int PARALLELISM = 2;

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    /** Our own MiniCluster: the test needs to kill and start TaskManagers. */
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

    @Test
    void outputStaysExactWhenTheTaskManagerDiesMidStream() throws Exception {
        DefaultTopics.create(SERVICES.kafka(), 3, 2);
        Path modelDir = DemoModels.write(SERVICES.dir().resolve("models"), 1);
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input("events", 3_000, 40, 23, "eo");
        int total = input.records().size();

        Configuration options = new Configuration();

        // no Kryo anywhere: every record, state and side output has a Flink or Avro serializer, or
        // the job fails

        options.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(300));
        // long enough that records sit in batches, and batches run, when the TaskManager dies
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(200));
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
        try {
            // Events flow at 400/s; the producer holds at 1,200 until the kill, so that the kill is
            // mid-stream
            // however slow the machine, with records in flight and transactions open when the
            // TaskManager dies.
            PipelineTestSupport.SteadyProducer producer =
                    new PipelineTestSupport.SteadyProducer(
                            SERVICES.bootstrapServers(), input.records(), 400, 1_200);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> committedPredictions() >= 600);
            producer.allowMore(400);
            int committedAtKill = committedPredictions();
            cluster.terminateTaskManager(0).get(1, TimeUnit.MINUTES);
            cluster.startTaskManager();
            producer.allowAll();
            assertThat(committedAtKill).as("the kill happened mid-stream").isLessThan(total / 2);

            producer.done.get(2, TimeUnit.MINUTES);
            Map<String, String> positions =
                    PipelineTestSupport.positions(SERVICES.bootstrapServers(), input.records());
            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> committedPredictions() + committedDeadLetters() >= total);
            assertThat(cluster.getJobStatus(job).get()).isEqualTo(JobStatus.RUNNING);

            List<Prediction> predictions =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
            List<DeadLetter> deadLetters =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(),
                            "dead-letters",
                            DeadLetter::fromByteBuffer);
            // latest_prediction is written at-least-once; wait until its newest rows have been
            // flushed
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
                                                modelDir,
                                                "1",
                                                db));
            }
            // the operator's check: events the job consumed (its committed group offsets) =
            // predictions + dead letters
            StringWriter report = new StringWriter();
            await().atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () -> {
                                report.getBuffer().setLength(0);
                                var cli = ModelsCli.commandLine();
                                cli.setOut(new PrintWriter(report, true));
                                return cli.execute(
                                                "reconcile",
                                                "--bootstrap-servers",
                                                SERVICES.bootstrapServers())
                                        == 0;
                            });
            assertThat(report.toString())
                    .contains("events consumed " + String.format("%,d", total))
                    .contains("balanced");
        } finally {
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
        }
    }

    private static int committedPredictions() throws Exception {
        return PipelineTestSupport.readCommitted(SERVICES.bootstrapServers(), "predictions", b -> b)
                .size();
    }

    private static int committedDeadLetters() throws Exception {
        return PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), "dead-letters", b -> b)
                .size();
    }
}
