package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.ReferenceFeatures;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OnnxMlpWriter;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServedFeatures;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
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
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The whole job as it lives, checked by value: real Kafka and PostgreSQL, a Flink MiniCluster,
 * events produced in real time by a producer that pauses longer than the watermark idleness, a
 * broker that goes away and comes back, a TaskManager killed mid-stream, new model versions
 * published while events flow, and (in long runs) a database outage. Entities of one group at a
 * time fall silent for longer than the spec's {@code entityTtl}, so that state expires for real.
 * Afterwards every event's answer is compared with a recomputation from the events that were sent:
 * the served feature vector with {@link ReferenceFeatures} (a plain computation over the list of an
 * entity's events, sharing none of the feature engine's state logic), the prediction with ONNX
 * Runtime run directly on those features with the version the prediction names, the dead letters
 * with the reason each bad record was made to have, and {@code latest_prediction} with each
 * entity's newest event. {@link SoakITCase} runs a short plan in CI; {@code bench/run.sh soak} runs
 * a long one and writes its report.
 */
public final class SoakRun implements AutoCloseable {
    /** The feature spec of the soak: windows of seconds, entityTtl 30 s. */
    static final String SPEC_RESOURCE = "/soak/soak-spec.yaml";

    static final String MODEL = "soak-classifier";
    static final List<String> LABELS = List.of("normal", "suspicious");
    private static final int PARALLELISM = 2;
    private static final List<String> COUNTRIES = List.of("NL", "DE", "FR", "US");

    /**
     * What happens. A cycle is: steady events; a lull (no events at all); steady, then the broker
     * stops for {@code brokerOutage} while the producer keeps producing into its buffer; steady,
     * then a new model version is published; steady, then the TaskManager is killed and a new one
     * started; steady, then (if {@code databaseOutage} is positive) PostgreSQL stops for that long.
     * One group of a tenth of the entities is silent from a cycle's start until its publish, longer
     * than the spec's entityTtl.
     *
     * @param idleness the job's {@code features.watermark-idleness}; the lull must be longer
     */
    public record Plan(
            int cycles,
            Duration steady,
            Duration lull,
            Duration brokerOutage,
            Duration databaseOutage,
            double eventsPerSecond,
            int entities,
            Duration idleness,
            long seed) {
        public Plan {
            if (lull.compareTo(idleness.multipliedBy(2)) < 0) {
                throw new IllegalArgumentException(
                        "a lull of "
                                + lull
                                + " is not clearly longer than the idleness "
                                + idleness);
            }
            if (steady.multipliedBy(3)
                            .plus(lull)
                            .plus(brokerOutage)
                            .compareTo(Duration.ofSeconds(40))
                    < 0) {
                throw new IllegalArgumentException(
                        "the silent group must stay silent longer than the spec's"
                                + " entityTtl (30 s) with a margin: 3 x steady + lull + broker outage >= 40 s");
            }
        }

        /** About two minutes: one cycle without a database outage, then a last steady stretch. */
        public static Plan quick() {
            return new Plan(
                    1,
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(8),
                    Duration.ofSeconds(5),
                    Duration.ZERO,
                    60,
                    120,
                    Duration.ofSeconds(2),
                    2026_12_06L);
        }

        public Duration cycleLength() {
            return steady.multipliedBy(5).plus(lull).plus(brokerOutage).plus(databaseOutage);
        }

        /** The whole timeline: a first steady stretch, the cycles, a last steady stretch. */
        public Duration length() {
            return steady.multipliedBy(2).plus(cycleLength().multipliedBy(cycles));
        }
    }

    /** What a run saw; {@link #mismatches} is empty when every answer was right. */
    public record Report(
            Duration ran,
            int cycles,
            int recordsSent,
            int validEvents,
            int badRecords,
            int lateEvents,
            int lulls,
            int brokerOutages,
            int taskManagerKills,
            int databaseOutages,
            List<String> versionsPublished,
            int predictionsCompared,
            double largestPredictionDifference,
            double largestFeatureDifference,
            int expiriesExpected,
            int expiriesSeen,
            int silentRowsExpired,
            Map<String, Integer> predictionsByVersion,
            Map<ReasonCode, Integer> deadLettersByReason,
            int mismatchCount,
            List<String> mismatches) {

        /** The report as the closing note and bench/results quote it. */
        public String summary() {
            return String.format(
                    "ran %.1f min, %d cycles: %,d records sent (%,d valid events, %,d bad records, %,d"
                            + " late events); %d lulls, %d broker outages, %d TaskManager kills, %d database outages,"
                            + " versions published %s; %,d predictions compared (by version %s), largest probability"
                            + " difference %.3g, largest feature difference %.3g (relative); state expiries expected"
                            + " %,d, seen %,d; latest_prediction rows expired with their silent entities %d of %d"
                            + " times; dead letters %s; %,d mismatches",
                    ran.toMillis() / 60_000.0,
                    cycles,
                    recordsSent,
                    validEvents,
                    badRecords,
                    lateEvents,
                    lulls,
                    brokerOutages,
                    taskManagerKills,
                    databaseOutages,
                    versionsPublished,
                    predictionsCompared,
                    predictionsByVersion,
                    largestPredictionDifference,
                    largestFeatureDifference,
                    expiriesExpected,
                    expiriesSeen,
                    silentRowsExpired,
                    cycles,
                    deadLettersByReason,
                    mismatchCount);
        }
    }

    private final Path dir;
    private final Plan plan;
    private final FeatureSpec spec;
    private final Path specFile;
    private final Map<String, Path> versions = new LinkedHashMap<>();
    private EmbeddedKafkaBroker kafka;
    private EmbeddedPostgres postgres;
    private int postgresPort;
    private MiniCluster cluster;
    private int taskManager;
    private JobID job;

    /** The records in the order they were produced, valid or not. */
    private final ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();

    private record Sent(InputEvent event, ReasonCode expected) {}

    public SoakRun(Path dir, Plan plan) throws Exception {
        this.dir = dir;
        this.plan = plan;
        this.specFile = dir.resolve("soak-spec.yaml");
        Files.createDirectories(dir);
        try (InputStream in = SoakRun.class.getResourceAsStream(SPEC_RESOURCE)) {
            Files.write(specFile, in.readAllBytes());
        }
        this.spec = FeatureSpecs.load(specFile.toString());
    }

    /** Runs the plan and compares every answer; the report says what differed. */
    public Report run() throws Exception {
        long started = System.nanoTime();
        startServices();
        writeVersion("1", 1);
        startJob();
        Counts counts = new Counts();
        Producer producer = new Producer();
        try {
            producer.steady(plan.steady()); // every entity has state before the first silence
            for (int c = 0; c < plan.cycles(); c++) {
                int silent = c % 10;
                producer.silence(silent);
                producer.steady(plan.steady());
                producer.pause(plan.lull());
                counts.lulls++;
                producer.steady(plan.steady());
                kafka.stop();
                producer.steady(plan.brokerOutage()); // the producer buffers and retries
                kafka.restart();
                counts.brokerOutages++;
                producer.steady(plan.steady());
                String version = Integer.toString(versions.size() + 1);
                writeVersion(version, versions.size() % 2 == 1 ? 2 : 1);
                publish(version);
                counts.silentRowsExpired += awaitSilentRowsExpired(silent);
                producer.silence(-1);
                producer.steady(plan.steady());
                cluster.terminateTaskManager(taskManager++).get(1, TimeUnit.MINUTES);
                cluster.startTaskManager();
                counts.taskManagerKills++;
                producer.steady(plan.steady());
                if (!plan.databaseOutage().isZero()) {
                    postgres.close();
                    producer.steady(plan.databaseOutage());
                    postgres = startPostgres();
                    counts.databaseOutages++;
                }
            }
            producer.steady(plan.steady());
            producer.finish();
            awaitAnswers(Duration.ofMinutes(3).plus(plan.cycleLength()));
            return verify(counts, Duration.ofNanos(System.nanoTime() - started));
        } finally {
            producer.finish();
        }
    }

    private static final class Counts {
        /**
         * Silences after which latest_prediction held no row of the silent group (they expired with
         * the entity).
         */
        int silentRowsExpired;

        int lulls;
        int brokerOutages;
        int taskManagerKills;
        int databaseOutages;
    }

    // -------------------------------------------------------------------------------------------------------------
    // the services and the job
    // -------------------------------------------------------------------------------------------------------------

    private void startServices() throws Exception {
        kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0);
        kafka.createTopics(3, "events");
        kafka.createTopics(2, "predictions", "dead-letters", "served-features");
        kafka.createTopics(1, "model-control", "model-events", "predictions-shadow");
        try (ServerSocket socket = new ServerSocket(0)) {
            postgresPort = socket.getLocalPort();
        }
        postgres = startPostgres();
        cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(PARALLELISM)
                                .build());
        cluster.start();
    }

    /**
     * PostgreSQL on a fixed port and data directory, so that an outage can stop it and start it
     * again.
     */
    private EmbeddedPostgres startPostgres() throws IOException {
        return EmbeddedPostgres.builder()
                .setPort(postgresPort)
                .setDataDirectory(dir.resolve("postgres"))
                .setCleanDataDirectory(false)
                .start();
    }

    /**
     * Waits (at most a minute) until latest_prediction holds no row of the silent group's entities:
     * silent longer than the spec's entityTtl, their rows expire with their feature state
     * (result-store.latest-prediction.retention defaults to it). Returns 1 when they did, 0
     * otherwise (a mismatch then names it).
     */
    private int awaitSilentRowsExpired(int group) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        long left;
        do {
            left = 0;
            try (Connection db = DriverManager.getConnection(jdbcUrl());
                    Statement s = db.createStatement();
                    ResultSet rs = s.executeQuery("SELECT entity_id FROM latest_prediction")) {
                while (rs.next()) {
                    int e = Integer.parseInt(rs.getString(1).substring("soak-e".length()));
                    left += e % 10 == group ? 1 : 0;
                }
            } catch (SQLException databaseAway) {
                left = -1; // the database is away (an outage of the plan): asked again
            }
            if (left == 0) {
                return 1;
            }
            LockSupport.parkNanos(500_000_000L); // polls a condition
        } while (System.nanoTime() < deadline);
        silentRowsLeft.add(group + ": " + left + " rows");
        return 0;
    }

    /** Silent groups whose latest_prediction rows did not expire, for the report. */
    private final List<String> silentRowsLeft = new ArrayList<>();

    private String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + postgresPort + "/postgres?user=postgres";
    }

    private void startJob() throws Exception {
        Configuration options = new Configuration();
        options.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.FEATURES_SPEC, specFile.toString());
        options.set(PipelineOptions.FEATURES_WATERMARK_IDLENESS, plan.idleness());
        options.set(PipelineOptions.SERVED_FEATURES_TOPIC, "served-features");
        options.set(PipelineOptions.MODEL_URI, List.of(versions.get("1").toString()));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what the soak is about
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, jdbcUrl());
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(PipelineOptions.RESULT_STORE_RETENTION_INTERVAL, Duration.ofSeconds(2));
        options.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        options.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 10_000);
        options.set(
                RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofSeconds(1));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(PARALLELISM);
        StreamInferenceJob.prepare(env, options);
        job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
    }

    /**
     * Writes a version of the soak's classifier: an MLP over the soak spec's values whose weights
     * come from {@code weights} (1 or 2), so that consecutive versions answer differently for every
     * event.
     */
    private void writeVersion(String version, int weights) throws IOException {
        Random random = new Random(weights * 7_919L);
        int width = spec.width();
        float[][] w1 = new float[width][8];
        for (float[] row : w1) {
            for (int j = 0; j < row.length; j++) {
                row[j] = (float) random.nextGaussian() * 0.3f;
            }
        }
        float[] b1 = new float[8];
        float[][] w2 = new float[8][2];
        for (float[] row : w2) {
            row[0] = (float) random.nextGaussian();
            row[1] = (float) random.nextGaussian();
        }
        float[] b2 = {0.2f * weights, -0.2f * weights};
        byte[] model =
                new OnnxMlpWriter("features", "probabilities")
                        .dense(w1, b1)
                        .dense(w2, b2)
                        .softmax()
                        .toBytes();
        Path versionDir = dir.resolve("models").resolve(MODEL).resolve(version);
        Files.createDirectories(versionDir);
        Files.write(versionDir.resolve("model.onnx"), model);
        ModelManifest manifest =
                ModelManifest.builder()
                        .name(MODEL)
                        .version(version)
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(model))
                        .input(new TensorSignature("features", "FLOAT", new long[] {-1, width}))
                        .output(
                                new TensorSignature("probabilities", "FLOAT", new long[] {-1, 2}),
                                OutputRole.PROBABILITIES)
                        .labels(LABELS)
                        .featureSpec(spec.id())
                        .build();
        DemoModels.writeManifest(versionDir, manifest);
        versions.put(version, versionDir);
    }

    private void publish(String version) throws Exception {
        try (KafkaProducer<String, String> control =
                new KafkaProducer<>(
                        Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                        new StringSerializer(),
                        new StringSerializer())) {
            control.send(
                            new ProducerRecord<>(
                                    "model-control",
                                    MODEL,
                                    new String(
                                            ModelCommands.toJson(
                                                    ModelCommands.publish(
                                                            MODEL,
                                                            version,
                                                            versions.get(version).toString(),
                                                            null,
                                                            null)),
                                            StandardCharsets.UTF_8)))
                    .get(1, TimeUnit.MINUTES);
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // the events
    // -------------------------------------------------------------------------------------------------------------

    /**
     * Produces events in real time (event time = the wall clock when made) on a thread of its own,
     * as the plan steers it: steady, paused, or with one group of entities silent. About 5% of
     * events are out of order within the spec's bound, 0.5% are late beyond it, every 300th record
     * is not Avro at all.
     */
    private final class Producer {
        private final AtomicBoolean producing = new AtomicBoolean(false);
        private final AtomicBoolean done = new AtomicBoolean(false);
        private final AtomicReference<Integer> silentGroup = new AtomicReference<>(-1);
        private final AtomicReference<Exception> failure = new AtomicReference<>();
        private final CompletableFuture<Void> finished;
        private final KafkaProducer<byte[], byte[]> kafkaProducer;

        Producer() {
            kafkaProducer =
                    new KafkaProducer<>(
                            Map.of(
                                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    kafka.bootstrapServers(),
                                    ProducerConfig.ACKS_CONFIG,
                                    "all",
                                    ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                                    true,
                                    ProducerConfig.LINGER_MS_CONFIG,
                                    5,
                                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG,
                                    300_000,
                                    ProducerConfig.MAX_BLOCK_MS_CONFIG,
                                    300_000),
                            new ByteArraySerializer(),
                            new ByteArraySerializer());
            finished = CompletableFuture.runAsync(this::loop);
        }

        void silence(int group) {
            silentGroup.set(group);
        }

        /** Produces steadily for {@code duration}. */
        void steady(Duration duration) {
            producing.set(true);
            hold(duration);
        }

        /** Produces nothing for {@code duration}: a lull. */
        void pause(Duration duration) {
            producing.set(false);
            hold(duration);
            producing.set(true);
        }

        /** The plan's timeline: the run waits for the time a phase lasts, not for a condition. */
        private void hold(Duration duration) {
            long until = System.nanoTime() + duration.toNanos();
            while (System.nanoTime() < until) {
                LockSupport.parkNanos(Math.min(until - System.nanoTime(), 100_000_000));
                if (failure.get() != null) {
                    throw new IllegalStateException("producing failed", failure.get());
                }
            }
        }

        void finish() throws Exception {
            if (done.getAndSet(true)) {
                return;
            }
            finished.get(5, TimeUnit.MINUTES);
            kafkaProducer.flush();
            kafkaProducer.close(Duration.ofMinutes(1));
            if (failure.get() != null) {
                throw new IllegalStateException("producing failed", failure.get());
            }
        }

        private void loop() {
            Random random = new Random(plan.seed());
            Map<String, Long> newest = new HashMap<>();
            Map<String, Set<Long>> times = new HashMap<>();
            long intervalNanos = (long) (1e9 / plan.eventsPerSecond());
            long next = System.nanoTime();
            int n = 0;
            while (!done.get()) {
                if (!producing.get()) {
                    LockSupport.parkNanos(1_000_000); // a lull: the timeline resumes production
                    next = System.nanoTime();
                    continue;
                }
                next += intervalNanos;
                LockSupport.parkNanos(next - System.nanoTime()); // pacing
                n++;
                int e;
                do {
                    e = random.nextInt(plan.entities());
                } while (e % 10 == silentGroup.get());
                String entity = String.format("soak-e%04d", e);
                if (n % 300 == 0) {
                    byte[] garbage = ("soak-garbage-" + n).getBytes(StandardCharsets.UTF_8);
                    send(entity, garbage);
                    sent.add(new Sent(null, ReasonCode.MALFORMED_AVRO));
                    continue;
                }
                long now = System.currentTimeMillis();
                Long last = newest.get(entity);
                int roll = random.nextInt(1000);
                long time;
                ReasonCode expected = null;
                boolean recent =
                        last != null && now - last < 10_000; // stragglers of an entity still active
                if (recent && roll < 50) {
                    time =
                            last
                                    - random.nextInt(
                                            1_500); // out of order, within maxOutOfOrderness (2 s)
                } else if (recent && roll < 55) {
                    time = last - 3_000 - random.nextInt(3_000); // late beyond it
                    expected = ReasonCode.LATE_EVENT;
                } else {
                    time = Math.max(now, last == null ? now : last + 1);
                    newest.put(entity, time);
                }
                Set<Long> used = times.computeIfAbsent(entity, k -> new HashSet<>());
                while (!used.add(
                        time)) { // unique per entity: latest_prediction's order is then defined
                    time--;
                }
                Map<String, Double> numeric = new HashMap<>();
                numeric.put(
                        "amount", Math.round(Math.exp(3 + random.nextGaussian()) * 100) / 100.0);
                if (random.nextBoolean()) {
                    numeric.put("quantity", (double) (1 + random.nextInt(4)));
                }
                InputEvent event =
                        InputEvent.newBuilder()
                                .setEventId("soak-" + n)
                                .setEntityId(entity)
                                .setEventTime(time)
                                .setEventType("purchase")
                                .setNumericFields(numeric)
                                .setCategoricalFields(
                                        Map.of(
                                                "country",
                                                COUNTRIES.get(random.nextInt(COUNTRIES.size()))))
                                .build();
                try {
                    send(entity, PipelineTestSupport.bytes(event.toByteBuffer()));
                } catch (IOException ex) {
                    failure.compareAndSet(null, ex);
                    return;
                }
                sent.add(new Sent(event, expected));
            }
        }

        private void send(String key, byte[] value) {
            kafkaProducer.send(
                    new ProducerRecord<>("events", key.getBytes(StandardCharsets.UTF_8), value),
                    (metadata, exception) -> {
                        if (exception != null) {
                            failure.compareAndSet(null, exception);
                        }
                    });
        }
    }

    private void awaitAnswers(Duration timeout) throws Exception {
        int expected = sent.size();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (answered() < expected) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(
                        "only "
                                + answered()
                                + " of "
                                + expected
                                + " records were answered"
                                + " within "
                                + timeout
                                + "; job "
                                + cluster.getJobStatus(job).get());
            }
            LockSupport.parkNanos(1_000_000_000L); // polls a condition
        }
    }

    private int answered() throws Exception {
        return PipelineTestSupport.readCommittedRecords(kafka.bootstrapServers(), "predictions")
                        .size()
                + PipelineTestSupport.readCommittedRecords(kafka.bootstrapServers(), "dead-letters")
                        .size();
    }

    // -------------------------------------------------------------------------------------------------------------
    // the comparison
    // -------------------------------------------------------------------------------------------------------------

    private Report verify(Counts counts, Duration ran) throws Exception {
        List<String> mismatches = new ArrayList<>();
        int[] mismatchCount = {0};
        Consumer<String> mismatch =
                m -> {
                    if (mismatchCount[0]++ < 20) {
                        mismatches.add(m);
                    }
                };
        silentRowsLeft.forEach(
                g ->
                        mismatch.accept(
                                "latest_prediction rows of silent group "
                                        + g
                                        + " did not expire with their entities"));
        JobStatus status = cluster.getJobStatus(job).get();
        if (status != JobStatus.RUNNING) {
            mismatch.accept("the job is " + status + ", not RUNNING");
        }
        List<InputEvent> valid = new ArrayList<>();
        Map<ReasonCode, Integer> badExpected = new TreeMap<>();
        Set<String> lateExpected = new HashSet<>();
        int records = 0;
        for (Sent s : sent) {
            records++;
            if (s.event() != null) {
                valid.add(s.event());
            }
            if (s.expected() == ReasonCode.MALFORMED_AVRO) {
                badExpected.merge(s.expected(), 1, Integer::sum);
            }
        }
        Map<String, double[]> reference = ReferenceFeatures.compute(spec, valid, Map.of());
        Map<String, InputEvent> byId = new HashMap<>();
        for (InputEvent e : valid) {
            byId.put(e.getEventId(), e);
            if (reference.get(e.getEventId()) == null) {
                lateExpected.add(e.getEventId());
            }
        }

        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
        List<DeadLetter> deadLetters =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(), "dead-letters", DeadLetter::fromByteBuffer);
        List<ServedFeatures> served =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(),
                        "served-features",
                        ServedFeatures::fromByteBuffer);
        if (predictions.size() + deadLetters.size() != records) {
            mismatch.accept(
                    "records sent "
                            + records
                            + " != predictions "
                            + predictions.size()
                            + " + dead letters "
                            + deadLetters.size());
        }

        Map<ReasonCode, Integer> deadLettersByReason = new TreeMap<>();
        Set<String> lateSeen = new HashSet<>();
        for (DeadLetter d : deadLetters) {
            deadLettersByReason.merge(d.getReasonCode(), 1, Integer::sum);
            if (d.getReasonCode() == ReasonCode.LATE_EVENT) {
                lateSeen.add(d.getEventId());
            } else if (d.getReasonCode() != ReasonCode.MALFORMED_AVRO) {
                mismatch.accept(
                        "unexpected dead letter "
                                + d.getReasonCode()
                                + " for "
                                + d.getEventId()
                                + ": "
                                + d.getMessage());
            }
        }
        if (!lateSeen.equals(lateExpected)) {
            Set<String> missing = new HashSet<>(lateExpected);
            missing.removeAll(lateSeen);
            Set<String> extra = new HashSet<>(lateSeen);
            extra.removeAll(lateExpected);
            mismatch.accept(
                    "LATE_EVENT dead letters differ: "
                            + missing.size()
                            + " expected not seen (e.g. "
                            + first(missing)
                            + "), "
                            + extra.size()
                            + " seen not expected (e.g. "
                            + first(extra)
                            + ")");
        }
        if (!deadLettersByReason
                .getOrDefault(ReasonCode.MALFORMED_AVRO, 0)
                .equals(badExpected.getOrDefault(ReasonCode.MALFORMED_AVRO, 0))) {
            mismatch.accept(
                    "MALFORMED_AVRO dead letters "
                            + deadLettersByReason.get(ReasonCode.MALFORMED_AVRO)
                            + ", records sent bad "
                            + badExpected.get(ReasonCode.MALFORMED_AVRO));
        }

        // served feature vectors against the reference
        Map<String, ServedFeatures> servedById = new HashMap<>();
        double largestFeature = 0;
        int eventCount = spec.valueNames().indexOf("event_count");
        int expiriesSeen = 0;
        Set<String> firstEvents = firstEventOfEachEntity(valid, reference);
        for (ServedFeatures s : served) {
            if (servedById.put(s.getEventId(), s) != null) {
                mismatch.accept("two served feature vectors for " + s.getEventId());
            }
            double[] want = reference.get(s.getEventId());
            if (want == null) {
                mismatch.accept(
                        "a served vector for "
                                + s.getEventId()
                                + ", which should have been late or was"
                                + " never sent");
                continue;
            }
            for (int i = 0; i < want.length; i++) {
                double diff =
                        Math.abs(s.getFeatures().get(i) - want[i]) / Math.max(1, Math.abs(want[i]));
                largestFeature = Math.max(largestFeature, diff);
                if (diff > 1e-6) {
                    mismatch.accept(
                            String.format(
                                    "%s (%s at %d): feature %s is %s, the reference %s",
                                    s.getEventId(),
                                    s.getEntityId(),
                                    s.getEventTime(),
                                    spec.valueNames().get(i),
                                    s.getFeatures().get(i),
                                    want[i]));
                    break;
                }
            }
            if (Math.abs(s.getFeatures().get(eventCount) - Math.log1p(1)) < 1e-6
                    && !firstEvents.contains(s.getEventId())) {
                expiriesSeen++;
            }
        }

        // predictions against ONNX Runtime run directly on the reference features, with the version
        // each names
        Map<String, List<String>> idsByVersion = new HashMap<>();
        Map<String, Prediction> predictionById = new HashMap<>();
        for (Prediction p : predictions) {
            if (predictionById.put(p.getEventId(), p) != null) {
                mismatch.accept("two predictions for " + p.getEventId());
            }
            if (!versions.containsKey(p.getModelVersion())) {
                mismatch.accept(
                        "prediction of "
                                + p.getEventId()
                                + " by unknown version "
                                + p.getModelVersion());
                continue;
            }
            if (reference.get(p.getEventId()) == null) {
                mismatch.accept(
                        "a prediction for " + p.getEventId() + ", which should have been late");
                continue;
            }
            idsByVersion
                    .computeIfAbsent(p.getModelVersion(), v -> new ArrayList<>())
                    .add(p.getEventId());
        }
        for (String id : reference.keySet()) {
            if (reference.get(id) != null && !predictionById.containsKey(id)) {
                mismatch.accept("no prediction for " + id);
            }
        }
        double largestPrediction = 0;
        int compared = 0;
        Map<String, Integer> byVersion = new TreeMap<>();
        Map<String, float[]> expectedProbability = new HashMap<>();
        for (Map.Entry<String, List<String>> v : idsByVersion.entrySet()) {
            List<String> ids = v.getValue();
            byVersion.put(v.getKey(), ids.size());
            FloatBuffer batch = FloatBuffer.allocate(ids.size() * spec.width());
            for (String id : ids) {
                for (double value : reference.get(id)) {
                    batch.put((float) value);
                }
            }
            batch.flip();
            try (LoadedModel model =
                    new ModelLoader(ModelLoaderConfig.defaults())
                            .load(versions.get(v.getKey()).toString())) {
                float[][] out = model.run(batch, ids.size());
                for (int i = 0; i < ids.size(); i++) {
                    Prediction p = predictionById.get(ids.get(i));
                    expectedProbability.put(ids.get(i), out[i]);
                    for (int c = 0; c < out[i].length; c++) {
                        double diff = Math.abs(p.getProbabilities().get(c) - out[i][c]);
                        largestPrediction = Math.max(largestPrediction, diff);
                        if (diff > 1e-6) {
                            mismatch.accept(
                                    String.format(
                                            "%s (%s, version %s): probability of class %d is %s,"
                                                    + " recomputed %s",
                                            p.getEventId(),
                                            p.getEntityId(),
                                            v.getKey(),
                                            c,
                                            p.getProbabilities().get(c),
                                            out[i][c]));
                            break;
                        }
                    }
                    compared++;
                }
            }
        }
        if (!servedById.keySet().equals(predictionById.keySet())) {
            mismatch.accept(
                    "served feature vectors "
                            + servedById.size()
                            + " for predictions "
                            + predictionById.size()
                            + ": they differ");
        }

        // latest_prediction: each entity's newest predicted event, as the event-time guarded upsert
        // keeps it
        Map<String, InputEvent> newest = new HashMap<>();
        for (InputEvent e : valid) {
            if (reference.get(e.getEventId()) != null) {
                newest.merge(
                        e.getEntityId(), e, (a, b) -> b.getEventTime() >= a.getEventTime() ? b : a);
            }
        }
        awaitLatestPredictions(newest, predictionById, expectedProbability, mismatch);

        int expiriesExpected = expectedExpiries(valid, reference);
        return new Report(
                ran,
                plan.cycles(),
                records,
                valid.size(),
                badExpected.values().stream().mapToInt(Integer::intValue).sum(),
                lateExpected.size(),
                counts.lulls,
                counts.brokerOutages,
                counts.taskManagerKills,
                counts.databaseOutages,
                List.copyOf(versions.keySet()),
                compared,
                largestPrediction,
                largestFeature,
                expiriesExpected,
                expiriesSeen,
                counts.silentRowsExpired,
                byVersion,
                deadLettersByReason,
                mismatchCount[0],
                mismatches);
    }

    /**
     * Waits until the table holds what it should (it is written at-least-once, after the topic),
     * then compares.
     */
    private void awaitLatestPredictions(
            Map<String, InputEvent> newest,
            Map<String, Prediction> predictions,
            Map<String, float[]> expected,
            Consumer<String> mismatch)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        List<String> problems = new ArrayList<>();
        do {
            problems.clear();
            Map<String, String[]> rows = new HashMap<>();
            try (Connection db = DriverManager.getConnection(jdbcUrl());
                    Statement s = db.createStatement();
                    ResultSet rs =
                            s.executeQuery(
                                    "SELECT entity_id, event_id, model_version, probabilities[2]"
                                            + " FROM latest_prediction WHERE model_name = '"
                                            + MODEL
                                            + "'")) {
                while (rs.next()) {
                    rows.put(
                            rs.getString(1),
                            new String[] {rs.getString(2), rs.getString(3), rs.getString(4)});
                }
            }
            if (rows.size() != newest.size()) {
                problems.add(
                        "latest_prediction has "
                                + rows.size()
                                + " rows for "
                                + newest.size()
                                + " entities");
            }
            for (InputEvent e : newest.values()) {
                String[] row = rows.get(e.getEntityId());
                Prediction p = predictions.get(e.getEventId());
                if (row == null
                        || p == null
                        || !row[0].equals(e.getEventId())
                        || !row[1].equals(p.getModelVersion())
                        || Math.abs(Double.parseDouble(row[2]) - expected.get(e.getEventId())[1])
                                > 1e-6) {
                    problems.add(
                            "latest_prediction of "
                                    + e.getEntityId()
                                    + " is "
                                    + (row == null ? "missing" : String.join("/", row))
                                    + ", its newest event "
                                    + e.getEventId());
                    break;
                }
            }
            if (problems.isEmpty()) {
                return;
            }
            LockSupport.parkNanos(500_000_000L); // polls a condition
        } while (System.nanoTime() < deadline);
        problems.forEach(mismatch);
    }

    /**
     * Events that are their entity's first with state (the reference's first vector of each
     * entity).
     */
    private static Set<String> firstEventOfEachEntity(
            List<InputEvent> valid, Map<String, double[]> reference) {
        Set<String> seen = new HashSet<>();
        Set<String> first = new HashSet<>();
        for (InputEvent e : valid) {
            if (reference.get(e.getEventId()) != null && seen.add(e.getEntityId())) {
                first.add(e.getEventId());
            }
        }
        return first;
    }

    /**
     * How many events should find their entity's state expired: those that come {@code entityTtl}
     * or more after the entity's newest counted event (the README's rule, computed here from the
     * events alone).
     */
    private int expectedExpiries(List<InputEvent> valid, Map<String, double[]> reference) {
        Map<String, Long> newest = new HashMap<>();
        int expiries = 0;
        for (InputEvent e : valid) {
            if (reference.get(e.getEventId()) == null) {
                continue; // late: counted nowhere
            }
            Long last = newest.get(e.getEntityId());
            if (last != null && e.getEventTime() - last >= spec.entityTtlMillis()) {
                expiries++;
                last = null;
            }
            newest.put(
                    e.getEntityId(),
                    last == null ? e.getEventTime() : Math.max(last, e.getEventTime()));
        }
        return expiries;
    }

    private static String first(Set<String> set) {
        return set.isEmpty() ? "-" : set.iterator().next();
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        try {
            if (cluster != null) {
                if (job != null) {
                    try {
                        cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
                    } catch (Exception e) {
                        failure = e;
                    }
                }
                cluster.closeAsync().get(2, TimeUnit.MINUTES);
            }
        } finally {
            if (postgres != null) {
                postgres.close();
            }
            if (kafka != null) {
                kafka.close();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
