package org.streaminference.jobs;

import org.streaminference.features.ReferenceFeatures;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.assertj.core.api.Assertions;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Events as a shop's services produce them, not in the job's envelope: in the shop's own Avro
 * schema (nested records, an enum, an array of floats, an optional field, fields nobody reads) and
 * as JSON objects, through the whole job on a MiniCluster with a real broker. A feature spec names
 * the fields by path; every prediction equals ONNX Runtime run directly on the features computed
 * here from the same values, and each bad record is a dead letter with its reason.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class UserEventsPipelineITCase {
    private static final int EVENTS = 300;
    private static final int ENTITIES = 15;
    private static final long BASE_TIME = 1_760_000_000_000L;
    private static final String[] CURRENCIES = {"EUR", "USD", "GBP", "CHF"};

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    /**
     * One payment's values, from which both its encoding and the event the features are computed
     * from are made.
     */
    private record Payment(
            String id,
            String customer,
            String segment,
            float[] embedding,
            long ts,
            double amount,
            String currency,
            Double coupon) {
        InputEvent asEvent() {
            Map<String, Double> numeric = new HashMap<>(Map.of("payment.amount", amount));
            if (coupon != null) {
                numeric.put("coupon", coupon);
            }
            List<Float> vector = new ArrayList<>();
            for (float v : embedding) {
                vector.add(v);
            }
            return new InputEvent(
                    id,
                    customer,
                    ts,
                    "purchase",
                    numeric,
                    Map.of("payment.currency", currency, "customer.segment", segment),
                    Map.of("customer.embedding", vector));
        }
    }

    private static List<Payment> payments(String prefix) {
        Random random = new Random(11);
        List<Payment> payments = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            float[] embedding = new float[4];
            for (int v = 0; v < 4; v++) {
                embedding[v] = (float) random.nextGaussian();
            }
            payments.add(
                    new Payment(
                            prefix + "-" + i,
                            "cust-" + (i % ENTITIES),
                            i % 3 == 0 ? "RETAIL" : "BUSINESS",
                            embedding,
                            BASE_TIME + i * 7_000L,
                            Math.round(random.nextDouble() * 20_000) / 100.0,
                            CURRENCIES[random.nextInt(CURRENCIES.length)],
                            i % 4 == 0 ? null : (double) (i % 5)));
        }
        return payments;
    }

    private static Schema schema() throws Exception {
        try (InputStream in =
                UserEventsPipelineITCase.class.getResourceAsStream("/user-events/payment.avsc")) {
            return new Schema.Parser().parse(in);
        }
    }

    private static byte[] avro(Schema schema, Payment p) throws Exception {
        Schema customerSchema = schema.getField("customer").schema();
        GenericRecord customer = new GenericData.Record(customerSchema);
        customer.put("id", p.customer());
        customer.put(
                "segment",
                new GenericData.EnumSymbol(
                        customerSchema.getField("segment").schema(), p.segment()));
        List<Float> embedding = new ArrayList<>();
        for (float v : p.embedding()) {
            embedding.add(v);
        }
        customer.put("embedding", embedding);
        customer.put("notes", "a note no feature reads");
        GenericRecord money = new GenericData.Record(schema.getField("payment").schema());
        money.put("amount", p.amount());
        money.put("currency", p.currency());
        GenericRecord record = new GenericData.Record(schema);
        record.put("id", p.id());
        record.put("customer", customer);
        record.put("ts", p.ts());
        record.put("kind", "purchase");
        record.put("payment", money);
        record.put("coupon", p.coupon());
        record.put("attachment", ByteBuffer.wrap(new byte[64]));
        record.put("tags", Map.of("source", "checkout"));
        if (schema.getField("channel") != null) {
            record.put("channel", "app"); // version 2
        }
        return PipelineTestSupport.bytes(
                new BinaryMessageEncoder<GenericRecord>(GenericData.get(), schema).encode(record));
    }

    private static byte[] json(Payment p) {
        StringBuilder embedding = new StringBuilder();
        for (float v : p.embedding()) {
            embedding.append(embedding.length() == 0 ? "" : ", ").append(v);
        }
        return ("{\"id\": \""
                        + p.id()
                        + "\", \"kind\": \"purchase\", \"ts\": "
                        + p.ts()
                        + ", \"customer\": {\"id\": \""
                        + p.customer()
                        + "\", \"segment\": \""
                        + p.segment()
                        + "\", \"embedding\": ["
                        + embedding
                        + "], \"notes\": {\"long\": [1, 2, {\"x\": \"y\"}]}},"
                        + " \"payment\": {\"amount\": "
                        + p.amount()
                        + ", \"currency\": \""
                        + p.currency()
                        + "\"},"
                        + " \"coupon\": "
                        + p.coupon()
                        + ", \"tags\": {\"source\": \"checkout\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A bad record and the reason it must get. A record that fails after validation (its model
     * finds a field it reads missing or unusable) is matched by its event id: its dead letter holds
     * the fields read, in the job's envelope, not the record's own bytes; {@code counted} is the
     * event as the features count it in its entity's state (it is an event; only the model that
     * reads the field cannot answer it).
     */
    private record Bad(byte[] bytes, String failsLaterAs, ReasonCode reason, InputEvent counted) {
        static Bad at(byte[] bytes, ReasonCode reason) {
            return new Bad(bytes, null, reason, null);
        }

        /** A record that decodes but lacks or spoils a field the model reads. */
        static Bad later(byte[] bytes, InputEvent counted, ReasonCode reason) {
            return new Bad(bytes, counted.getEventId(), reason, counted);
        }

        String label() {
            return failsLaterAs != null
                    ? "event " + failsLaterAs
                    : "record " + PipelineTestSupport.base64(ByteBuffer.wrap(bytes));
        }
    }

    private void run(
            String prefix,
            EventFormatOptions.Format format,
            List<Bad> bad,
            Function<Payment, byte[]> encode)
            throws Exception {
        run(prefix, format, List.of("payment.avsc"), bad, (i, p) -> encode.apply(p));
    }

    /** How a test's records reach the events topic. */
    @FunctionalInterface
    private interface Sender {
        void send(String topic, List<ProducerRecord<byte[], byte[]>> records) throws Exception;
    }

    private void run(
            String prefix,
            EventFormatOptions.Format format,
            List<String> schemas,
            List<Bad> bad,
            BiFunction<Integer, Payment, byte[]> encode)
            throws Exception {
        run(
                prefix,
                format,
                schemas,
                bad,
                encode,
                (topic, records) ->
                        PipelineTestSupport.produce(SERVICES.bootstrapServers(), records, 0));
    }

    /**
     * Produces the payments (each encoded by {@code encode}, given its index) with the bad records
     * among them, runs the job on them with the schema versions {@code schemas} (resources of
     * user-events/), and checks every answer.
     */
    private void run(
            String prefix,
            EventFormatOptions.Format format,
            List<String> schemas,
            List<Bad> bad,
            BiFunction<Integer, Payment, byte[]> encode,
            Sender sender)
            throws Exception {
        String topic = prefix + "-events";
        SERVICES.kafka().createTopics(2, topic, prefix + "-predictions", prefix + "-dead-letters");
        Path spec = SERVICES.dir().resolve("payments.yaml");
        Path schemaDir = Files.createDirectories(SERVICES.dir().resolve(prefix + "-schemas"));
        for (String schema : schemas) {
            try (InputStream in = getClass().getResourceAsStream("/user-events/" + schema)) {
                Files.write(schemaDir.resolve(schema), in.readAllBytes());
            }
        }
        for (String[] resource : new String[][] {{"/user-events/payments.yaml", spec.toString()}}) {
            try (InputStream in = getClass().getResourceAsStream(resource[0])) {
                Files.write(Path.of(resource[1]), in.readAllBytes());
            }
        }
        FeatureSpec featureSpec = FeatureSpecs.load(spec.toString());
        Path model =
                PipelineTestSupport.scoreModel(
                        SERVICES.dir().resolve("models"), "payments-score", featureSpec);

        List<Payment> payments = payments(prefix);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        Map<String, ReasonCode> expectedBad = new LinkedHashMap<>();
        List<InputEvent> counted = new ArrayList<>(); // what the features count, in produce order
        int b = 0;
        for (int i = 0; i < payments.size(); i++) {
            Payment p = payments.get(i);
            records.add(
                    new ProducerRecord<>(
                            topic,
                            p.customer().getBytes(StandardCharsets.UTF_8),
                            encode.apply(i, p)));
            counted.add(p.asEvent());
            if (i == badAfter(b) && b < bad.size()) {
                Bad record = bad.get(b++);
                records.add(
                        new ProducerRecord<>(
                                topic, "cust-1".getBytes(StandardCharsets.UTF_8), record.bytes()));
                expectedBad.put(record.label(), record.reason());
                if (record.counted() != null) {
                    counted.add(record.counted());
                }
            }
        }
        assertThat(b).as("every bad record sent").isEqualTo(bad.size());
        sender.send(topic, records);

        Configuration options =
                jobOptions(prefix, format, spec, schemaDir, model); // a directory of versions
        options.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        env.execute(prefix); // bounded: ends when every record read is answered

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
        Map<String, ReasonCode> actualBad = new LinkedHashMap<>();
        for (DeadLetter d : deadLetters) {
            String byEvent = "event " + d.getEventId();
            actualBad.put(
                    expectedBad.containsKey(byEvent)
                            ? byEvent
                            : "record " + PipelineTestSupport.base64(d.getOriginalBytes()),
                    d.getReasonCode());
        }
        assertThat(actualBad)
                .as("one dead letter per bad record, with its reason")
                .isEqualTo(expectedBad);

        Map<String, double[]> features = ReferenceFeatures.compute(featureSpec, counted, Map.of());
        features.keySet().retainAll(payments.stream().map(Payment::id).toList());
        Map<String, Float> direct = new HashMap<>();
        try (LoadedModel loaded =
                new ModelLoader(ModelLoaderConfig.defaults()).load(model.toString())) {
            for (Map.Entry<String, double[]> f : features.entrySet()) {
                float[] row = new float[f.getValue().length];
                for (int i = 0; i < row.length; i++) {
                    row[i] = (float) f.getValue()[i];
                }
                direct.put(f.getKey(), loaded.run(FloatBuffer.wrap(row), 1)[0][0]);
            }
        }
        assertThat(predictions)
                .extracting(Prediction::getEventId)
                .doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(payments.stream().map(Payment::id).toList());
        for (Prediction p : predictions) {
            assertThat(p.getEntityId())
                    .isEqualTo(
                            "cust-"
                                    + (Integer.parseInt(
                                                    p.getEventId().substring(prefix.length() + 1))
                                            % ENTITIES));
            assertThat(p.getScore())
                    .as("score of %s", p.getEventId())
                    .isCloseTo(direct.get(p.getEventId()), within(1e-5));
        }
        System.out.printf(
                "USER EVENTS %s: %d events -> %d predictions equal to ONNX Runtime run directly, %d dead"
                        + " letters %s%n",
                format, records.size(), predictions.size(), deadLetters.size(), actualBad.values());
    }

    @Test
    void eventsInTheUsersOwnAvroSchemaAreScoredByPath() throws Exception {
        Schema schema = schema();
        byte[] good = avro(schema, payments("bad").get(1));
        List<Bad> bad =
                List.of(
                        Bad.at(
                                PipelineTestSupport.bytes(
                                        InputEvent.newBuilder()
                                                .setEventId("x")
                                                .setEntityId("cust-1")
                                                .setEventTime(BASE_TIME)
                                                .setEventType("t")
                                                .build()
                                                .toByteBuffer()),
                                ReasonCode.UNKNOWN_SCHEMA),
                        Bad.at(Arrays.copyOf(good, good.length - 3), ReasonCode.MALFORMED_AVRO),
                        Bad.at(
                                "{\"id\": \"json in an Avro topic\"}"
                                        .getBytes(StandardCharsets.UTF_8),
                                ReasonCode.MALFORMED_AVRO));
        run(
                "ua",
                EventFormatOptions.Format.AVRO,
                bad,
                p -> {
                    try {
                        return avro(schema, p);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
    }

    /**
     * A rolling producer upgrade: the first third of the payments in version 1 of the schema, the
     * middle third alternating between the versions (producers upgraded one by one), the rest in
     * version 2 (a field added with a default). The job, given both versions, answers every one: no
     * dead letter.
     */
    @Test
    void aRollingProducerUpgradeBetweenTwoSchemaVersionsLeavesNoDeadLetter() throws Exception {
        Schema v1 = schema();
        Schema v2;
        try (InputStream in = getClass().getResourceAsStream("/user-events/payment-v2.avsc")) {
            v2 = new Schema.Parser().parse(in);
        }
        assertThat(SchemaNormalization.parsingFingerprint64(v2))
                .isNotEqualTo(SchemaNormalization.parsingFingerprint64(v1));
        int[] byVersion = new int[2];
        run(
                "uv",
                EventFormatOptions.Format.AVRO,
                List.of("payment.avsc", "payment-v2.avsc"),
                List.of(),
                (i, p) -> {
                    boolean newer = i >= 2 * EVENTS / 3 || (i >= EVENTS / 3 && i % 2 == 1);
                    byVersion[newer ? 1 : 0]++;
                    try {
                        return avro(newer ? v2 : v1, p);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
        System.out.printf(
                "ROLLING UPGRADE: %d payments in schema version 1, %d in version 2, interleaved in the"
                        + " middle third; 0 dead letters%n",
                byVersion[0], byVersion[1]);
        assertThat(byVersion[0]).isPositive();
        assertThat(byVersion[1]).isPositive();
    }

    /**
     * A producer upgraded before the job: its payments (a third of the customers) are in a schema
     * version the job does not know, so each is a dead letter UNKNOWN_SCHEMA. The version is added
     * (the job upgraded from a savepoint), the dead letters replayed with {@code models replay},
     * and every payment is then answered once, equal to ONNX Runtime on its features; the counts
     * reconcile, the replays counted as events.
     */
    @Test
    void deadLettersOfAMissingSchemaVersionAreReplayedAfterItIsAddedAndEveryPaymentIsAnsweredOnce()
            throws Exception {
        String prefix = "ur";
        String topic = prefix + "-events";
        SERVICES.kafka().createTopics(2, topic, prefix + "-predictions", prefix + "-dead-letters");
        Path spec = SERVICES.dir().resolve("payments.yaml");
        try (InputStream in = getClass().getResourceAsStream("/user-events/payments.yaml")) {
            Files.write(spec, in.readAllBytes());
        }
        Path oldOnly = Files.createDirectories(SERVICES.dir().resolve(prefix + "-schemas-1"));
        Path both = Files.createDirectories(SERVICES.dir().resolve(prefix + "-schemas-2"));
        for (String version : List.of("payment.avsc", "payment-v2.avsc")) {
            try (InputStream in = getClass().getResourceAsStream("/user-events/" + version)) {
                byte[] bytes = in.readAllBytes();
                Files.write(both.resolve(version), bytes);
                if (version.equals("payment.avsc")) {
                    Files.write(oldOnly.resolve(version), bytes);
                }
            }
        }
        Schema v1 = schema();
        Schema v2 = new Schema.Parser().parse(both.resolve("payment-v2.avsc").toFile());
        FeatureSpec featureSpec = FeatureSpecs.load(spec.toString());
        Path model =
                PipelineTestSupport.scoreModel(
                        SERVICES.dir().resolve("models"), "payments-score", featureSpec);
        List<Payment> payments = payments(prefix);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        int upgraded = 0;
        for (int i = 0; i < payments.size(); i++) {
            Payment p = payments.get(i);
            boolean newer = (i % ENTITIES) % 3 == 0; // the customers the upgraded producer serves
            upgraded += newer ? 1 : 0;
            records.add(
                    new ProducerRecord<>(
                            topic,
                            p.customer().getBytes(StandardCharsets.UTF_8),
                            avro(newer ? v2 : v1, p)));
        }
        PipelineTestSupport.produce(SERVICES.bootstrapServers(), records, 0);
        Path configDir = Files.createDirectories(SERVICES.dir().resolve(prefix + "-conf"));
        Files.writeString(
                configDir.resolve("config.yaml"),
                "kafka.bootstrap-servers: "
                        + SERVICES.bootstrapServers()
                        + "\nkafka.topic.events: "
                        + topic
                        + "\nkafka.topic.dead-letters: "
                        + prefix
                        + "-dead-letters\n");

        MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(2)
                                .build());
        cluster.start();
        try {
            JobID first =
                    cluster.submitJob(upgradeJob(prefix, spec, oldOnly, model, null))
                            .get()
                            .getJobID();
            int expectedDeadLetters = upgraded;
            Awaitility.await()
                    .atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () ->
                                    committed(prefix + "-predictions")
                                                    + committed(prefix + "-dead-letters")
                                            >= payments.size());
            List<DeadLetter> refused =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(),
                            prefix + "-dead-letters",
                            DeadLetter::fromByteBuffer);
            assertThat(refused)
                    .hasSize(expectedDeadLetters)
                    .allSatisfy(
                            d ->
                                    assertThat(d.getReasonCode())
                                            .isEqualTo(ReasonCode.UNKNOWN_SCHEMA));
            String savepoint =
                    cluster.stopWithSavepoint(
                                    first,
                                    SERVICES.dir()
                                            .resolve(prefix + "-savepoints")
                                            .toUri()
                                            .toString(),
                                    false,
                                    SavepointFormatType.CANONICAL)
                            .get();

            // the version added: the job upgraded from its savepoint, then the dead letters
            // replayed
            JobID second =
                    cluster.submitJob(upgradeJob(prefix, spec, both, model, savepoint))
                            .get()
                            .getJobID();
            String replayed =
                    PipelineTestSupport.models(
                            "replay",
                            "--reason",
                            "UNKNOWN_SCHEMA",
                            "--config-dir",
                            configDir.toString());
            Awaitility.await()
                    .atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(300))
                    .until(() -> committed(prefix + "-predictions") >= payments.size());
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
            cluster.cancelJob(second).get(1, TimeUnit.MINUTES);

            assertThat(predictions)
                    .extracting(Prediction::getEventId)
                    .doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(
                            payments.stream().map(Payment::id).toList());
            assertThat(deadLetters)
                    .as("no dead letter but the ones replayed")
                    .hasSize(expectedDeadLetters);
            Map<String, double[]> features =
                    ReferenceFeatures.compute(
                            featureSpec,
                            payments.stream().map(Payment::asEvent).toList(),
                            Map.of());
            try (LoadedModel loaded =
                    new ModelLoader(ModelLoaderConfig.defaults()).load(model.toString())) {
                for (Prediction p : predictions) {
                    double[] f = features.get(p.getEventId());
                    float[] row = new float[f.length];
                    for (int i = 0; i < row.length; i++) {
                        row[i] = (float) f[i];
                    }
                    assertThat(p.getScore())
                            .as("score of %s", p.getEventId())
                            .isCloseTo(loaded.run(FloatBuffer.wrap(row), 1)[0][0], within(1e-5));
                }
            }
            int eventsIn = records.size() + expectedDeadLetters;
            System.out.printf(
                    "REPLAY: %d payments, %d in a schema version the job did not know -> %d dead letters"
                            + " UNKNOWN_SCHEMA; version added (upgrade from savepoint), %s; events in %d (%d + %d replayed)"
                            + " = predictions %d + dead letters %d; every payment answered once%n",
                    payments.size(),
                    upgraded,
                    expectedDeadLetters,
                    replayed.lines()
                            .reduce((a, b) -> b)
                            .orElse("")
                            .replaceAll("\\. The job answers.*", ""),
                    eventsIn,
                    records.size(),
                    expectedDeadLetters,
                    predictions.size(),
                    deadLetters.size());
            assertThat(predictions.size() + deadLetters.size()).isEqualTo(eventsIn);
        } finally {
            cluster.closeAsync().get(1, TimeUnit.MINUTES);
        }
    }

    /**
     * The job over {@code prefix}'s topics reading the payments with the schema versions in {@code
     * schemas}.
     */
    private static Configuration jobOptions(
            String prefix, EventFormatOptions.Format format, Path spec, Path schemas, Path model) {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, prefix + "-events");
        options.set(PipelineOptions.GROUP_ID, prefix);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, prefix + "-predictions");
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, prefix + "-dead-letters");
        options.set(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX, prefix);
        options.set(PipelineOptions.MODEL_CONTROL_TOPIC, "");
        options.set(PipelineOptions.FEATURES_SPEC, spec.toString());
        options.set(EventFormatOptions.FORMAT, format);
        options.set(EventFormatOptions.AVRO_SCHEMA, List.of(schemas.toString()));
        options.set(EventFormatOptions.EVENT_ID_FIELD, "id");
        options.set(EventFormatOptions.ENTITY_ID_FIELD, "customer.id");
        options.set(EventFormatOptions.EVENT_TIME_FIELD, "ts");
        options.set(EventFormatOptions.EVENT_TYPE_FIELD, "kind");
        options.set(PipelineOptions.MODEL_URI, List.of(model.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(300));
        return options;
    }

    private static JobGraph upgradeJob(
            String prefix, Path spec, Path schemas, Path model, String savepoint) throws Exception {
        Configuration options =
                jobOptions(prefix, EventFormatOptions.Format.AVRO, spec, schemas, model);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        JobGraph graph = env.getStreamGraph().getJobGraph();
        if (savepoint != null) {
            graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint));
        }
        return graph;
    }

    /** Records committed to {@code topic} so far. */
    private static int committed(String topic) {
        return PipelineTestSupport.readCommittedRecords(SERVICES.bootstrapServers(), topic).size();
    }

    /**
     * The payments sent by the repository's example Python producer (schemas/examples/python,
     * Debian's python3-avro and python3-confluent-kafka), whose library puts its own canonical
     * form's fingerprint in front: every one is answered, equal to ONNX Runtime on its features, as
     * the Java producer's are. Skipped where that Python is not installed.
     */
    @Test
    void aPythonProducersPaymentsAreAnsweredAsAJavaProducersAre() throws Exception {
        String python = null;
        for (String candidate : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p =
                        new ProcessBuilder(candidate, "-c", "import avro.schema, confluent_kafka")
                                .redirectErrorStream(true)
                                .start();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    python = candidate;
                    break;
                }
            } catch (IOException e) {
                // not there
            }
        }
        Assumptions.assumeTrue(
                python != null,
                "no python3 with python3-avro and"
                        + " python3-confluent-kafka (Debian packages): the Python producer's test is skipped");
        String interpreter = python;
        Path script =
                Path.of("..", "schemas", "examples", "python", "produce_events.py")
                        .toAbsolutePath();
        String[] printed = new String[1];
        // each payment as the JSON the Python producer reads; it encodes and sends them
        run(
                "up",
                EventFormatOptions.Format.AVRO,
                List.of("payment.avsc"),
                List.of(),
                (i, p) -> pythonJson(p),
                (topic, records) -> {
                    Path lines = SERVICES.dir().resolve("up-payments.jsonl");
                    StringBuilder jsonl = new StringBuilder();
                    for (ProducerRecord<byte[], byte[]> record : records) {
                        jsonl.append(new String(record.value(), StandardCharsets.UTF_8))
                                .append('\n');
                    }
                    Files.writeString(lines, jsonl);
                    Path schema = SERVICES.dir().resolve("up-schemas").resolve("payment.avsc");
                    Process producer =
                            new ProcessBuilder(
                                            interpreter,
                                            script.toString(),
                                            "--bootstrap-servers",
                                            SERVICES.bootstrapServers(),
                                            "--topic",
                                            topic,
                                            "--schema",
                                            schema.toString(),
                                            "--entity-id",
                                            "customer.id",
                                            "--input",
                                            lines.toString())
                                    .redirectErrorStream(true)
                                    .start();
                    String output =
                            new String(
                                    producer.getInputStream().readAllBytes(),
                                    StandardCharsets.UTF_8);
                    assertThat(producer.waitFor(2, TimeUnit.MINUTES)).isTrue();
                    assertThat(producer.exitValue()).as(output).isZero();
                    printed[0] =
                            output.strip()
                                    .lines()
                                    .reduce((a, b) -> b)
                                    .orElse(""); // after librdkafka's logs
                });
        Schema v1 = schema();
        System.out.printf(
                "PYTHON PRODUCER: %s (python3-avro's fingerprint of the schema; Java's is %016x)%n",
                printed[0], SchemaNormalization.parsingFingerprint64(v1));
        assertThat(printed[0]).startsWith("sent " + EVENTS + " records");
    }

    /** A payment as JSON in the schema's own shape, for the Python producer. */
    private static byte[] pythonJson(Payment p) {
        StringBuilder embedding = new StringBuilder();
        for (float v : p.embedding()) {
            embedding.append(embedding.length() == 0 ? "" : ", ").append(v);
        }
        return ("{\"id\": \""
                        + p.id()
                        + "\", \"kind\": \"purchase\", \"ts\": "
                        + p.ts()
                        + ", \"customer\": {\"id\": \""
                        + p.customer()
                        + "\", \"segment\": \""
                        + p.segment()
                        + "\", \"embedding\": ["
                        + embedding
                        + "], \"notes\": \"a note no feature reads\"},"
                        + " \"payment\": {\"amount\": "
                        + p.amount()
                        + ", \"currency\": \""
                        + p.currency()
                        + "\"},"
                        + " \"coupon\": "
                        + (p.coupon() == null ? "null" : p.coupon().toString())
                        + ", \"attachment\": null, \"tags\": {\"source\": \"checkout\"}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    /** After which payment bad record {@code b} goes: the 25th, then every 50th. */
    private static int badAfter(int b) {
        return 25 + 50 * b;
    }

    /**
     * A time just after the payment bad record {@code b} follows: such a record is an ordinary
     * event in time.
     */
    private static long badTime(int b) {
        return BASE_TIME + badAfter(b) * 7_000L + 1;
    }

    @Test
    void jsonEventsAreScoredByPath() throws Exception {
        String head = "{\"kind\": \"purchase\", \"ts\": ";
        List<Bad> bad =
                List.of(
                        Bad.at(
                                "not json at all".getBytes(StandardCharsets.UTF_8),
                                ReasonCode.MALFORMED_JSON),
                        Bad.at(
                                (head
                                                + badTime(1)
                                                + ", \"id\": \"j-x\", \"customer\": {\"id\": \"cust-1\"}, \"payment\":"
                                                + " {\"amount\": \"12.50\"}}")
                                        .getBytes(StandardCharsets.UTF_8),
                                ReasonCode.INVALID_FIELD),
                        // no amount, which the model reads: counted in cust-1's state, then the
                        // model's MISSING_FIELD
                        Bad.later(
                                (head
                                                + badTime(2)
                                                + ", \"id\": \"j-y\", \"customer\": {\"id\": \"cust-1\"},"
                                                + " \"payment\": {\"currency\": \"EUR\"}}")
                                        .getBytes(StandardCharsets.UTF_8),
                                new InputEvent(
                                        "j-y",
                                        "cust-1",
                                        badTime(2),
                                        "purchase",
                                        Map.of(),
                                        Map.of("payment.currency", "EUR"),
                                        Map.of()),
                                ReasonCode.MISSING_FIELD),
                        // an embedding of 2 values where the spec takes 4: the model's
                        // INVALID_FIELD
                        Bad.later(
                                (head
                                                + badTime(3)
                                                + ", \"id\": \"j-z\", \"customer\": {\"id\": \"cust-1\", \"embedding\":"
                                                + " [1, 2]}, \"payment\": {\"amount\": 3}}")
                                        .getBytes(StandardCharsets.UTF_8),
                                new InputEvent(
                                        "j-z",
                                        "cust-1",
                                        badTime(3),
                                        "purchase",
                                        Map.of("payment.amount", 3.0),
                                        Map.of(),
                                        Map.of("customer.embedding", List.of(1f, 2f))),
                                ReasonCode.INVALID_FIELD));
        run("uj", EventFormatOptions.Format.JSON, bad, UserEventsPipelineITCase::json);
    }

    @Test
    void aSpecFieldTheSchemaDoesNotHaveFailsTheStartNamingIt() throws Exception {
        Path spec = SERVICES.dir().resolve("payments-total.yaml");
        try (InputStream in = getClass().getResourceAsStream("/user-events/payments.yaml")) {
            Files.writeString(
                    spec,
                    new String(in.readAllBytes(), StandardCharsets.UTF_8)
                            .replace(
                                    "field: payment.amount        # nested",
                                    "field: payment.total        # nested"));
        }
        Path schemaFile = SERVICES.dir().resolve("payment-schema-only.avsc");
        try (InputStream in = getClass().getResourceAsStream("/user-events/payment.avsc")) {
            Files.write(schemaFile, in.readAllBytes());
        }
        FeatureSpec featureSpec = FeatureSpecs.load(spec.toString());
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.FEATURES_SPEC, spec.toString());
        options.set(EventFormatOptions.FORMAT, EventFormatOptions.Format.AVRO);
        options.set(EventFormatOptions.AVRO_SCHEMA, List.of(schemaFile.toString()));
        options.set(EventFormatOptions.EVENT_ID_FIELD, "id");
        options.set(EventFormatOptions.ENTITY_ID_FIELD, "customer.id");
        options.set(EventFormatOptions.EVENT_TIME_FIELD, "ts");
        options.set(EventFormatOptions.EVENT_TYPE_FIELD, "kind");
        Assertions.assertThatThrownBy(
                        () -> PipelineSettings.eventDecoder(options, featureSpec.eventFields()))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining(
                        "'payment.total': record com.example.shop.Money of the events' schema has no"
                                + " field 'total'");
        options.set(
                EventFormatOptions.AVRO_SCHEMA,
                List.of(SERVICES.dir().resolve("missing.avsc").toString()));
        Assertions.assertThatThrownBy(
                        () -> PipelineSettings.eventDecoder(options, featureSpec.eventFields()))
                .hasMessageContaining("Cannot read the events' Avro schema (events.avro.schema = ");
    }
}
