package org.streaminference.bench;

import org.streaminference.embedded.DemoEvents;
import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.StreamInferenceJob;
import org.streaminference.model.DemoModels;
import org.streaminference.schemas.InputEvent;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The result store stays bounded: the job (the demo spec, entityTtl 7 days) serves one event each
 * for a million distinct entities, then a few events a week of event time later move its watermark
 * past their entityTtl. Measured: {@code latest_prediction}'s rows over time (every row of the
 * million must go, the late entities' stay), the time the job's retention takes to delete them in
 * chunks while the job runs, the table's size, and {@code prediction_history} under a short
 * wall-clock retention. A row count is read from PostgreSQL itself, not from the job.
 */
@Command(
        name = "retention-benchmark",
        mixinStandardHelpOptions = true,
        description =
                "latest_prediction and prediction_history kept bounded at a million entities.")
final class RetentionBenchmark implements Callable<Integer> {
    private static final long T0 = 1_760_000_000_000L;
    private static final Duration ENTITY_TTL = Duration.ofDays(7); // the demo spec's

    @Option(
            names = "--entities",
            defaultValue = "1000000",
            description = "Distinct entities, one event each.")
    int entities;

    @Option(
            names = "--tail",
            defaultValue = "64",
            description = "Entities whose events come a week later.")
    int tail;

    @Option(names = "--parallelism", defaultValue = "2", description = "The job's parallelism.")
    int parallelism;

    @Option(
            names = "--history-retention",
            defaultValue = "PT10M",
            description =
                    "result-store.history.retention for the run (wall clock; default ${DEFAULT-VALUE}).")
    Duration historyRetention;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where the report goes.")
    Path out;

    private EmbeddedKafkaBroker kafka;
    private EmbeddedPostgres postgres;

    public static void main(String[] args) {
        System.exit(new CommandLine(new RetentionBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("retention-bench");
        int cores = Runtime.getRuntime().availableProcessors();
        StringBuilder md =
                new StringBuilder("# Result store retention at ")
                        .append(String.format("%,d", entities))
                        .append(" entities\n\n`bench/run.sh retention` on ")
                        .append(cores)
                        .append(" cores, ")
                        .append(LocalDate.now())
                        .append(". The job (`StreamInferenceJob`, parallelism ")
                        .append(parallelism)
                        .append(
                                ", the demo spec: entityTtl 7 days, so `result-store.latest-prediction.retention` is 7 days)")
                        .append(
                                " in a MiniCluster on a real Kafka broker and PostgreSQL; one event for each of ")
                        .append(String.format("%,d", entities))
                        .append(" distinct entities over an hour of event time, then ")
                        .append(tail)
                        .append(
                                " events of other entities 7 days and 10 minutes later, which move the job's")
                        .append(
                                " event time past the million's entityTtl. `result-store.retention.interval` 10 s,")
                        .append(" `result-store.history.retention` ")
                        .append(historyRetention.toSeconds())
                        .append(" s. Counts are PostgreSQL's own (`count(*)`).\n\n");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0);
                EmbeddedPostgres db =
                        EmbeddedPostgres.builder()
                                .setDataDirectory(work.resolve("pg"))
                                .setCleanDataDirectory(true)
                                .start()) {
            kafka = broker;
            postgres = db;
            kafka.createTopics(
                    parallelism, "events", "predictions", "dead-letters", "predictions-shadow");
            kafka.createTopics(1, "model-control", "model-events");
            Path model = DemoModels.write(work.resolve("models"), 1);
            long produceStart = System.nanoTime();
            produce(0, entities, i -> T0 + 3_600_000L * i / entities, "r");
            System.out.printf(
                    "Produced %,d events in %.1f s%n",
                    entities, (System.nanoTime() - produceStart) / 1e9);

            JobClient job = start(model, work);
            try {
                long started = System.nanoTime();
                long[] peak = {0};
                awaitCount(
                        "latest_prediction",
                        n -> n >= entities,
                        Duration.ofMinutes(40),
                        n -> peak[0] = n);
                double ingest = (System.nanoTime() - started) / 1e9;
                long bytesFull = tableBytes("latest_prediction");
                long history = count("prediction_history");
                System.out.printf(
                        "latest_prediction holds %,d rows (%,d MB) after %.0f s; prediction_history %,d%n",
                        peak[0], bytesFull >> 20, ingest, history);

                long tailSent = System.nanoTime();
                long tailTime = T0 + 3_600_000L + ENTITY_TTL.toMillis() + 600_000L;
                produce(0, tail, i -> tailTime + i, "tail");
                List<long[]> samples = new ArrayList<>();
                awaitCount(
                        "latest_prediction",
                        n -> n <= tail,
                        Duration.ofMinutes(30),
                        n -> samples.add(new long[] {System.nanoTime() - tailSent, n}));
                double expired = (System.nanoTime() - tailSent) / 1e9;
                long left = count("latest_prediction");
                long leftOfMillion = countWhere("latest_prediction", "entity_id LIKE 'r-%'");
                long bytesAfter = tableBytes("latest_prediction");
                // from the last poll that still saw every row to the first that saw none: an upper
                // bound, to the
                // polls' resolution (count(*) of a million rows takes a while itself)
                long lastFull =
                        samples.stream()
                                .filter(s -> s[1] >= entities)
                                .mapToLong(s -> s[0])
                                .max()
                                .orElse(0);
                double deleting = expired - lastFull / 1e9;
                System.out.printf(
                        "latest_prediction: %,d rows %.0f s after the late events (deleting took at"
                                + " most %.1f s, at least %,.0f rows/s); %,d of the million left%n",
                        left,
                        expired,
                        deleting,
                        (entities - leftOfMillion) / Math.max(deleting, 1e-3),
                        leftOfMillion);

                awaitCount(
                        "prediction_history",
                        n -> n <= tail,
                        historyRetention.plus(Duration.ofMinutes(10)),
                        n -> {});
                long historyLeft = count("prediction_history");
                md.append("| | |\n|---|---|\n")
                        .append(
                                row(
                                        "events produced",
                                        String.format("%,d + %d late", entities, tail)))
                        .append(
                                row(
                                        "latest_prediction at its peak",
                                        String.format(
                                                "%,d rows, %,d MB (table and"
                                                        + " indexes) after %.0f s of serving",
                                                peak[0], bytesFull >> 20, ingest)))
                        .append(
                                row(
                                        "prediction_history at the peak",
                                        String.format(
                                                "%,d of the %,d rows written"
                                                        + " (the events' times are over a year old by the wall clock, so the history"
                                                        + " retention deletes their rows every interval while the job serves)",
                                                history, entities)))
                        .append(
                                row(
                                        "latest_prediction after the late events",
                                        String.format(
                                                "%,d rows (%,d of the"
                                                        + " million) %.0f s after they were produced",
                                                left, leftOfMillion, expired)))
                        .append(
                                row(
                                        "deleting the million",
                                        String.format(
                                                "at most %.1f s (from the last poll that"
                                                        + " saw every row to the first that saw none), at least %,.0f rows/s, in chunks of"
                                                        + " 10,000 while the job kept serving",
                                                deleting,
                                                (entities - leftOfMillion)
                                                        / Math.max(deleting, 1e-3))))
                        .append(
                                row(
                                        "latest_prediction size after",
                                        String.format(
                                                "%,d MB (PostgreSQL reuses the"
                                                        + " space after autovacuum; it returns it to the OS only with VACUUM FULL)",
                                                bytesAfter >> 20)))
                        .append(
                                row(
                                        "prediction_history after its retention",
                                        String.format("%,d rows", historyLeft)))
                        .append('\n');
                md.append(
                        "Rows of `latest_prediction` over time after the late events (seconds, rows):\n\n");
                int step = Math.max(1, samples.size() / 20);
                for (int i = 0; i < samples.size(); i += step) {
                    md.append(
                            String.format(
                                    "%.0f s: %,d; ", samples.get(i)[0] / 1e9, samples.get(i)[1]));
                }
                md.append('\n');
            } finally {
                job.cancel().get(1, TimeUnit.MINUTES);
            }
        }
        Files.createDirectories(out);
        Path file = out.resolve("retention-" + LocalDate.now() + "-" + cores + "cores.md");
        Files.writeString(file, md);
        System.out.println(md);
        System.out.println("Report: " + file);
        return 0;
    }

    private JobClient start(Path model, Path work) throws Exception {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(model.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(model.getParent().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED,
                true); // benchmark models are made by the benchmark
        options.set(
                PipelineOptions.RESULT_STORE_JDBC_URL, postgres.getJdbcUrl("postgres", "postgres"));
        options.set(PipelineOptions.RESULT_STORE_RETENTION_INTERVAL, Duration.ofSeconds(10));
        options.set(PipelineOptions.RESULT_STORE_HISTORY_RETENTION, historyRetention);
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(10));
        // a million entities' feature state is far over what Flink's default, the JobManager's
        // memory, takes (5 MB)
        options.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        options.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                work.resolve("checkpoints").toUri().toString());
        options.set(PipelineOptions.FEATURES_WATERMARK_IDLENESS, Duration.ofSeconds(5));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
        StreamInferenceJob.prepare(env, options);
        return env.executeAsync("retention-bench");
    }

    interface EventTime {
        long of(int index);
    }

    private void produce(int first, int count, EventTime time, String prefix) throws Exception {
        DemoEvents demo = new DemoEvents(7, 1_000, prefix);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                kafka.bootstrapServers(),
                                ProducerConfig.LINGER_MS_CONFIG,
                                20,
                                ProducerConfig.BATCH_SIZE_CONFIG,
                                256 * 1024,
                                ProducerConfig.ACKS_CONFIG,
                                "1"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            for (int i = first; i < first + count; i++) {
                InputEvent event = demo.next(time.of(i));
                event.setEntityId(String.format("%s-%07d", prefix, i));
                ByteBuffer value = event.toByteBuffer();
                byte[] bytes = new byte[value.remaining()];
                value.get(bytes);
                producer.send(
                        new ProducerRecord<>(
                                "events",
                                event.getEntityId().getBytes(StandardCharsets.UTF_8),
                                bytes));
            }
            producer.flush();
        }
    }

    interface Check {
        boolean done(long rows);
    }

    interface Sample {
        void take(long rows);
    }

    /**
     * Polls the table's row count every second until {@code done}; each count is handed to {@code
     * sample}.
     */
    private void awaitCount(String table, Check done, Duration timeout, Sample sample)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long n = count(table);
            sample.take(n);
            if (done.done(n)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(
                        table + " still holds " + n + " rows after " + timeout);
            }
            LockSupport.parkNanos(1_000_000_000L); // polls a condition
        }
    }

    private long count(String table) throws Exception {
        return countWhere(table, "true");
    }

    private long countWhere(String table, String condition) throws Exception {
        return single("SELECT count(*) FROM " + table + " WHERE " + condition);
    }

    private long tableBytes(String table) throws Exception {
        return single("SELECT pg_total_relation_size('" + table + "')");
    }

    private long single(String sql) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String row(String what, String value) {
        return "| " + what + " | " + value + " |\n";
    }
}
