package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.jobs.PipelineTestSupport.SteadyProducer;
import org.streaminference.model.DemoModels;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL stops mid-stream and comes back: the job keeps its predictions (the sink fails, the
 * job restarts from its last checkpoint until the database answers again), and in the end both
 * tables hold exactly one row per prediction, with at-least-once idempotent writes and with XA
 * exactly-once.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ResultStoreOutageITCase {
    @TempDir static Path dir;

    private static EmbeddedKafkaBroker kafka;
    private static Path modelDir;
    private static MiniCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(2)
                                .build());
        cluster.start();
        kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0);
        modelDir = DemoModels.write(dir.resolve("models"), 1);
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) {
            cluster.closeAsync().get(1, TimeUnit.MINUTES);
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    /**
     * PostgreSQL on a fixed port and data directory, so that it can be stopped and started again.
     */
    private static EmbeddedPostgres postgres(int port, Path data) throws Exception {
        return EmbeddedPostgres.builder()
                .setPort(port)
                .setDataDirectory(data)
                .setCleanDataDirectory(false)
                .setServerConfig("max_prepared_transactions", "64") // for the XA sink
                .start();
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static long count(String jdbcUrl, String table) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = DeliveryGuarantee.class,
            names = {"AT_LEAST_ONCE", "EXACTLY_ONCE"})
    void nothingIsLostOrDuplicatedWhenTheDatabaseGoesAwayAndComesBack(DeliveryGuarantee guarantee)
            throws Exception {
        String run = guarantee.name().toLowerCase().replace('_', '-');
        int port = freePort();
        Path data = dir.resolve("pg-" + run);
        String jdbcUrl = "jdbc:postgresql://localhost:" + port + "/postgres";
        EmbeddedPostgres postgres = postgres(port, data);
        JobID job = null;
        try {
            String events = run + "-events";
            kafka.createTopics(3, events);
            kafka.createTopics(2, run + "-predictions", run + "-dead-letters");
            PipelineTestSupport.TestInput input =
                    PipelineTestSupport.input(events, 2_000, 40, 53, run);

            Configuration options = new Configuration();
            options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            options.set(PipelineOptions.EVENTS_TOPIC, events);
            options.set(PipelineOptions.PREDICTIONS_TOPIC, run + "-predictions");
            options.set(PipelineOptions.DEAD_LETTERS_TOPIC, run + "-dead-letters");
            options.set(PipelineOptions.GROUP_ID, run);
            options.set(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX, run);
            options.set(PipelineOptions.MODEL_CONTROL_TOPIC, "");
            options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toString()));
            options.set(
                    PipelineOptions.MODEL_ALLOWED_ROOTS,
                    List.of(modelDir.getParent().getParent().toUri().toString()));
            options.set(
                    PipelineOptions.MODEL_ALLOW_UNSIGNED,
                    true); // trust is not what this test is about
            options.set(PipelineOptions.RESULT_STORE_JDBC_URL, jdbcUrl);
            options.set(PipelineOptions.RESULT_STORE_PASSWORD, "");
            options.set(PipelineOptions.RESULT_STORE_DELIVERY_GUARANTEE, guarantee);
            options.set(PipelineOptions.RESULT_STORE_MAX_RETRIES, 1);
            options.set(PipelineOptions.RESULT_STORE_BATCH_INTERVAL, Duration.ofMillis(100));
            options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
            options.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            options.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 1000);
            options.set(
                    RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY,
                    Duration.ofMillis(500));
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.getExecutionEnvironment(options);
            env.setParallelism(2);
            StreamInferenceJob.prepare(env, options);
            job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();

            SteadyProducer producer =
                    new SteadyProducer(kafka.bootstrapServers(), input.records(), 250, 600);
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> count(jdbcUrl, "prediction_history") >= 200);

            postgres.close(); // the database goes away while events flow
            int sentAtStop = producer.sent.get();
            producer.allowMore(500);
            await().atMost(Duration.ofMinutes(1))
                    .until(() -> producer.sent.get() >= sentAtStop + 400);
            postgres = postgres(port, data);
            producer.allowAll();

            producer.done.get(2, TimeUnit.MINUTES);
            Map<String, String> positions =
                    PipelineTestSupport.positions(kafka.bootstrapServers(), input.records());
            int total = input.records().size();
            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofMillis(500))
                    .until(
                            () ->
                                    count(jdbcUrl, "prediction_history") >= input.valid().size()
                                            && committed(run + "-predictions")
                                                            + committed(run + "-dead-letters")
                                                    >= total);

            List<Prediction> predictions =
                    PipelineTestSupport.readCommitted(
                            kafka.bootstrapServers(),
                            run + "-predictions",
                            Prediction::fromByteBuffer);
            List<DeadLetter> deadLetters =
                    PipelineTestSupport.readCommitted(
                            kafka.bootstrapServers(),
                            run + "-dead-letters",
                            DeadLetter::fromByteBuffer);
            try (Connection db = DriverManager.getConnection(jdbcUrl, "postgres", "")) {
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
        } finally {
            if (job != null) {
                cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
            }
            postgres.close();
        }
    }

    private static int committed(String topic) throws Exception {
        return PipelineTestSupport.readCommitted(kafka.bootstrapServers(), topic, b -> b).size();
    }
}
