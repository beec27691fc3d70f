package org.streaminference.jobs;

import org.streaminference.cli.ModelsCli;
import org.streaminference.embedded.DemoEvents;
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
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Input making, output reading and the checks shared by the pipeline tests. */
final class PipelineTestSupport {
    private PipelineTestSupport() {}

    /**
     * Records to produce, in order, with what each should become.
     *
     * @param valid events every model can answer
     * @param badByBytes records refused before the features (by their bytes, Base64), with their
     *     reason
     * @param incomplete events without a field the demo model needs (amount): counted in their
     *     entity's state, and a {@code MISSING_FIELD} dead letter from each model that reads it
     * @param counted the events the features count, in produce order: the valid and the incomplete
     *     ones
     */
    record TestInput(
            List<ProducerRecord<byte[], byte[]>> records,
            List<InputEvent> valid,
            Map<String, ReasonCode> badByBytes,
            List<InputEvent> incomplete,
            List<InputEvent> counted) {

        /** Every record produced. */
        int size() {
            return valid.size() + badByBytes.size() + incomplete.size();
        }
    }

    /**
     * {@code validEvents} valid events over {@code entities} entities, with a bad record of one of
     * seven kinds after every 50th: undecodable, truncated, another schema, missing amount, NaN
     * amount, blank entity, wrong key.
     */
    static TestInput input(String topic, int validEvents, int entities, long seed, String runId)
            throws IOException {
        DemoEvents demo = new DemoEvents(seed, entities, runId);
        List<InputEvent> valid = new ArrayList<>();
        List<InputEvent> incomplete = new ArrayList<>();
        List<InputEvent> counted = new ArrayList<>();
        Map<String, ReasonCode> bad = new LinkedHashMap<>();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        long baseTime = 1_760_000_000_000L;
        for (int i = 0; i < validEvents; i++) {
            InputEvent event = demo.next(baseTime + i * 10L);
            valid.add(event);
            counted.add(event);
            records.add(record(topic, event.getEntityId(), bytes(event.toByteBuffer())));
            if (i % 50 != 25) {
                continue;
            }
            InputEvent broken = demo.next(baseTime + i * 10L + 1);
            String key = broken.getEntityId();
            byte[] value;
            ReasonCode reason;
            switch ((i / 50) % 7) {
                case 0 -> {
                    value = (runId + "-garbage-" + i).getBytes(StandardCharsets.UTF_8);
                    reason = ReasonCode.MALFORMED_AVRO;
                }
                case 1 -> {
                    byte[] full = bytes(broken.toByteBuffer());
                    value = Arrays.copyOf(full, full.length - 4);
                    reason = ReasonCode.MALFORMED_AVRO;
                }
                case 2 -> {
                    value =
                            bytes(
                                    Prediction.newBuilder()
                                            .setEventId(broken.getEventId())
                                            .setEntityId(key)
                                            .setModelName("x")
                                            .setModelVersion("1")
                                            .setScore(0)
                                            .setEventTime(1)
                                            .setInferenceTime(1)
                                            .build()
                                            .toByteBuffer());
                    reason = ReasonCode.UNKNOWN_SCHEMA;
                }
                case 3 -> {
                    broken.setNumericFields(Map.of("quantity", 2.0));
                    incomplete.add(broken);
                    counted.add(broken);
                    records.add(record(topic, key, bytes(broken.toByteBuffer())));
                    continue;
                }
                case 4 -> {
                    Map<String, Double> nan = new HashMap<>();
                    nan.put("amount", Double.NaN);
                    broken.setNumericFields(nan);
                    value = bytes(broken.toByteBuffer());
                    reason = ReasonCode.INVALID_FIELD;
                }
                case 5 -> {
                    broken.setEntityId("");
                    value = bytes(broken.toByteBuffer());
                    reason = ReasonCode.MISSING_FIELD;
                }
                default -> {
                    value = bytes(broken.toByteBuffer());
                    key = "not-" + key;
                    reason = ReasonCode.INVALID_FIELD;
                }
            }
            bad.put(base64(ByteBuffer.wrap(value)), reason);
            records.add(record(topic, key, value));
        }
        return new TestInput(records, valid, bad, incomplete, counted);
    }

    /**
     * A score model of the spec's width (width → 16 → 1, fixed weights), written as an exporter
     * would to {@code modelsRoot/name/1} with a manifest naming the spec.
     */
    static Path scoreModel(Path modelsRoot, String name, FeatureSpec spec) throws Exception {
        Random random = new Random(5);
        int width = spec.width();
        float[][] w1 = new float[width][16];
        float[][] w2 = new float[16][1];
        for (float[][] w : new float[][][] {w1, w2}) {
            for (float[] row : w) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = (float) (random.nextGaussian() / Math.sqrt(w.length));
                }
            }
        }
        byte[] bytes =
                new OnnxMlpWriter("x", "score")
                        .dense(w1, new float[16])
                        .dense(w2, new float[1])
                        .toBytes();
        Path dir = Files.createDirectories(modelsRoot.resolve(name).resolve("1"));
        Files.write(dir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name(name)
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature("x", "FLOAT", new long[] {-1, width}))
                        .output(
                                new TensorSignature("score", "FLOAT", new long[] {-1, 1}),
                                OutputRole.SCORE)
                        .featureSpec(spec.id())
                        .build());
        return dir;
    }

    /**
     * Produces the records in order, at most {@code ratePerSecond} a second (0: as fast as
     * possible), and returns each record's position as "topic/partition/offset", by its value's
     * Base64.
     */
    static Map<String, String> produce(
            String bootstrap, List<ProducerRecord<byte[], byte[]>> records, double ratePerSecond)
            throws Exception {
        Map<String, String> positions = new HashMap<>();
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ProducerConfig.ACKS_CONFIG,
                                "all",
                                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                                true),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < records.size(); i++) {
                if (ratePerSecond > 0) {
                    long due = start + (long) (i / ratePerSecond * 1e9);
                    LockSupport.parkNanos(
                            due - System.nanoTime()); // pacing, not waiting for a condition
                }
                acks.add(producer.send(records.get(i)));
            }
            producer.flush();
            for (int i = 0; i < records.size(); i++) {
                RecordMetadata m = acks.get(i).get(30, TimeUnit.SECONDS);
                if (records.get(i).value() == null) {
                    continue; // a tombstone
                }
                positions.put(
                        base64(ByteBuffer.wrap(records.get(i).value())),
                        m.topic() + "/" + m.partition() + "/" + m.offset());
            }
        }
        return positions;
    }

    /**
     * Where each of the records landed, read back from their topic: value's Base64 →
     * "topic/partition/offset".
     */
    static Map<String, String> positions(
            String bootstrap, List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        String topic = records.get(0).topic();
        Map<String, String> positions = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        Map.of(
                                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                                false),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            List<TopicPartition> partitions =
                    consumer.partitionsFor(topic).stream()
                            .map(PartitionInfo::partition)
                            .map(p -> new TopicPartition(topic, p))
                            .collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    positions.put(
                            base64(ByteBuffer.wrap(r.value())),
                            r.topic() + "/" + r.partition() + "/" + r.offset());
                }
            }
        }
        return positions;
    }

    interface Decoder<T> {
        T decode(ByteBuffer bytes) throws Exception;
    }

    /**
     * Everything committed to {@code topic} so far, read as a downstream consumer would
     * (read_committed).
     */
    static <T> List<T> readCommitted(String bootstrap, String topic, Decoder<T> decoder)
            throws Exception {
        List<T> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : readCommittedRecords(bootstrap, topic)) {
            out.add(decoder.decode(ByteBuffer.wrap(r.value())));
        }
        return out;
    }

    /** Every record committed to {@code topic} so far, headers included, read_committed. */
    static List<ConsumerRecord<byte[], byte[]>> readCommittedRecords(
            String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        Map.of(
                                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                                "read_committed",
                                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                                false),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            List<TopicPartition> partitions =
                    consumer.partitionsFor(topic).stream()
                            .map(PartitionInfo::partition)
                            .map(p -> new TopicPartition(topic, p))
                            .collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                consumer.poll(Duration.ofMillis(500)).forEach(out::add);
            }
            return out;
        }
    }

    /** Runs the {@code models} CLI as a user would and returns what it printed; it must exit 0. */
    static String models(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = ModelsCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        assertThat(code).as(out + "\n" + err).isZero();
        return out.toString();
    }

    /**
     * A test resource, e.g. a scikit-learn export of model-loader's test-jar ({@code
     * /exports/<name>/model.onnx}).
     */
    static InputStream resource(String name) {
        InputStream in = PipelineTestSupport.class.getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException("no test resource " + name);
        }
        return in;
    }

    /**
     * Checks the whole output contract: counts reconcile; one prediction per valid event and one
     * dead letter with the right reason and source position per bad record; every prediction equal
     * to ONNX Runtime run directly on the features computed here; {@code latest_prediction} holding
     * each entity's newest event.
     */
    static void assertOutputsExact(
            TestInput input,
            Map<String, String> positions,
            List<Prediction> predictions,
            List<DeadLetter> deadLetters,
            Path modelDir,
            String modelVersion,
            Connection db)
            throws Exception {
        assertOutputsExact(
                input, positions, predictions, deadLetters, Map.of(modelVersion, modelDir), db);
    }

    /**
     * As above, where predictions may come from several model versions (a swap in flight): each
     * must equal ONNX Runtime run with the version it names, and the tables must hold the version
     * each prediction names.
     */
    static void assertOutputsExact(
            TestInput input,
            Map<String, String> positions,
            List<Prediction> predictions,
            List<DeadLetter> deadLetters,
            Map<String, Path> versions,
            Connection db)
            throws Exception {
        assertThat(predictions.size() + deadLetters.size())
                .as("events in = predictions + dead letters")
                .isEqualTo(input.size());
        assertThat(predictions)
                .extracting(Prediction::getEventId)
                .doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(
                        input.valid().stream().map(InputEvent::getEventId).toList());

        Map<String, ReasonCode> actualReasons = new HashMap<>();
        Map<String, String> incompleteAt = new HashMap<>();
        for (InputEvent e : input.incomplete()) {
            incompleteAt.put(e.getEventId(), positions.get(base64(e.toByteBuffer())));
        }
        for (DeadLetter d : deadLetters) {
            if (d.getReasonCode() == ReasonCode.MISSING_FIELD
                    && incompleteAt.containsKey(d.getEventId())) {
                // answered by the model, which reads the missing amount: the event was counted in
                // its state
                assertThat(
                                d.getSource().getTopic()
                                        + "/"
                                        + d.getSource().getPartition()
                                        + "/"
                                        + d.getSource().getOffset())
                        .isEqualTo(incompleteAt.remove(d.getEventId()));
                assertThat(d.getMessage()).contains("numeric field 'amount' is missing");
                continue;
            }
            String bytes = base64(d.getOriginalBytes());
            assertThat(actualReasons.put(bytes, d.getReasonCode()))
                    .as("duplicate dead letter")
                    .isNull();
            assertThat(
                            d.getSource().getTopic()
                                    + "/"
                                    + d.getSource().getPartition()
                                    + "/"
                                    + d.getSource().getOffset())
                    .isEqualTo(positions.get(bytes));
            assertThat(d.getMessage()).isNotBlank();
        }
        assertThat(actualReasons).isEqualTo(input.badByBytes());
        assertThat(incompleteAt)
                .as("every incomplete event answered once with MISSING_FIELD")
                .isEmpty();
        assertThat(new HashSet<>(actualReasons.values()))
                .as("the input's kinds of bad record")
                .isNotEmpty();

        Map<String, Map<String, float[]>> expectedByVersion = new HashMap<>();
        for (Map.Entry<String, Path> v : versions.entrySet()) {
            expectedByVersion.put(
                    v.getKey(),
                    runDirectly(
                            v.getValue(),
                            validOnly(expectedFeatures(input.counted()), input.valid())));
        }
        Map<String, String> versionOf = new HashMap<>();
        for (Prediction p : predictions) {
            assertThat(p.getModelName()).isEqualTo(DemoModels.NAME);
            assertThat(versions)
                    .as("version of %s", p.getEventId())
                    .containsKey(p.getModelVersion());
            versionOf.put(p.getEventId(), p.getModelVersion());
            float[] want = expectedByVersion.get(p.getModelVersion()).get(p.getEventId());
            assertThat(p.getProbabilities()).hasSize(want.length);
            for (int i = 0; i < want.length; i++) {
                assertThat(p.getProbabilities().get(i))
                        .as("event %s class %d", p.getEventId(), i)
                        .isCloseTo(want[i], within(1e-6));
            }
        }

        Map<String, InputEvent> newest = new HashMap<>();
        for (InputEvent e : input.valid()) {
            newest.merge(
                    e.getEntityId(), e, (a, b) -> b.getEventTime() >= a.getEventTime() ? b : a);
        }
        Map<String, Set<String>> history = historyRows(db);
        assertThat(history.keySet())
                .as("prediction_history: every predicted event, nothing else")
                .containsExactlyInAnyOrderElementsOf(
                        predictions.stream().map(Prediction::getEventId).toList());
        for (Prediction p : predictions) {
            Set<String> rowsOfEvent = history.get(p.getEventId());
            assertThat(rowsOfEvent)
                    .as("history of %s", p.getEventId())
                    .contains(p.getModelVersion());
            if (versions.size() == 1) {
                assertThat(rowsOfEvent).as("replays add nothing").hasSize(1);
            }
            // across a swap, an attempt that failed may have written the old version's row
            // (at-least-once)
        }

        Map<String, String[]> rows = latestPredictionRows(db);
        assertThat(rows).hasSize(newest.size());
        for (InputEvent e : newest.values()) {
            String[] row = rows.get(e.getEntityId());
            assertThat(row[0])
                    .as("newest event of entity %s", e.getEntityId())
                    .isEqualTo(e.getEventId());
            assertThat(row[1]).isEqualTo(versionOf.get(e.getEventId()));
            assertThat(Double.parseDouble(row[2]))
                    .isCloseTo(expectedByVersion.get(row[1]).get(e.getEventId())[1], within(1e-6));
        }
    }

    /**
     * The demo spec's features, computed the plain way ({@link ReferenceFeatures}): per entity, in
     * produce order, over the events the features count (valid ones and those without a field a
     * model needs), without profiles (these tests produce none).
     */
    static Map<String, float[]> expectedFeatures(List<InputEvent> counted) {
        Map<String, float[]> features = new HashMap<>();
        ReferenceFeatures.compute(FeatureSpecs.demo(), counted, Map.of())
                .forEach(
                        (id, v) -> {
                            float[] f = new float[v.length];
                            for (int i = 0; i < v.length; i++) {
                                f[i] = (float) v[i];
                            }
                            features.put(id, f);
                        });
        return features;
    }

    /** The features of {@code valid} events only: those the model answers. */
    static Map<String, float[]> validOnly(Map<String, float[]> features, List<InputEvent> valid) {
        Map<String, float[]> out = new HashMap<>();
        for (InputEvent e : valid) {
            out.put(e.getEventId(), features.get(e.getEventId()));
        }
        return out;
    }

    static Map<String, float[]> runDirectly(Path modelDir, Map<String, float[]> features)
            throws Exception {
        List<String> ids = new ArrayList<>(features.keySet());
        FloatBuffer batch = FloatBuffer.allocate(ids.size() * DemoModels.FEATURES);
        for (String id : ids) {
            batch.put(features.get(id));
        }
        batch.flip();
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults()).load(modelDir.toString())) {
            float[][] out = model.run(batch, ids.size());
            Map<String, float[]> byId = new HashMap<>();
            for (int i = 0; i < ids.size(); i++) {
                byId.put(ids.get(i), out[i]);
            }
            return byId;
        }
    }

    /** event id → the model versions with a row in prediction_history. */
    private static Map<String, Set<String>> historyRows(Connection db) throws Exception {
        Map<String, Set<String>> rows = new HashMap<>();
        try (Statement s = db.createStatement();
                ResultSet rs =
                        s.executeQuery("SELECT event_id, model_version FROM prediction_history")) {
            while (rs.next()) {
                assertThat(
                                rows.computeIfAbsent(rs.getString(1), k -> new HashSet<>())
                                        .add(rs.getString(2)))
                        .as("one row per event and version")
                        .isTrue();
            }
        }
        return rows;
    }

    /** entity id → [event id, model version, probability of class 1]. */
    private static Map<String, String[]> latestPredictionRows(Connection db) throws Exception {
        Map<String, String[]> rows = new HashMap<>();
        try (Statement s = db.createStatement();
                ResultSet rs =
                        s.executeQuery(
                                "SELECT entity_id, event_id, model_version, probabilities[2]"
                                        + " FROM latest_prediction WHERE model_name = '"
                                        + DemoModels.NAME
                                        + "'")) {
            while (rs.next()) {
                rows.put(
                        rs.getString(1),
                        new String[] {rs.getString(2), rs.getString(3), rs.getString(4)});
            }
        }
        return rows;
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, String key, byte[] value) {
        return new ProducerRecord<>(
                topic, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value);
    }

    static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    static String base64(ByteBuffer buffer) {
        return Base64.getEncoder().encodeToString(bytes(buffer));
    }

    /**
     * Produces the records at a steady rate on a thread of its own, counting what it has sent, up
     * to the number the test allows: so that events still flow when a command is sent, however
     * slowly the machine runs.
     */
    static final class SteadyProducer {
        final AtomicInteger sent = new AtomicInteger();
        private final AtomicInteger allowed;
        private final int size;
        final CompletableFuture<Void> done;

        SteadyProducer(
                String bootstrap,
                List<ProducerRecord<byte[], byte[]>> records,
                double perSecond,
                int initiallyAllowed) {
            size = records.size();
            allowed = new AtomicInteger(Math.min(initiallyAllowed, size));
            done =
                    CompletableFuture.runAsync(
                            () -> {
                                try (KafkaProducer<byte[], byte[]> producer =
                                        new KafkaProducer<>(
                                                Map.of(
                                                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                                        bootstrap,
                                                        ProducerConfig.ACKS_CONFIG,
                                                        "all",
                                                        ProducerConfig.LINGER_MS_CONFIG,
                                                        0),
                                                new ByteArraySerializer(),
                                                new ByteArraySerializer())) {
                                    long next = System.nanoTime();
                                    for (int i = 0; i < records.size(); i++) {
                                        while (i >= allowed.get()) {
                                            LockSupport.parkNanos(
                                                    1_000_000); // held back by the test until it
                                            // allows more
                                            next = System.nanoTime();
                                        }
                                        next += (long) (1e9 / perSecond);
                                        LockSupport.parkNanos(next - System.nanoTime()); // pacing
                                        producer.send(records.get(i)).get(30, TimeUnit.SECONDS);
                                        sent.incrementAndGet();
                                    }
                                } catch (Exception e) {
                                    throw new IllegalStateException(e);
                                }
                            });
        }

        /** Lets the producer send {@code more} records beyond those sent so far. */
        void allowMore(int more) {
            allowed.accumulateAndGet(Math.min(size, sent.get() + more), Math::max);
        }

        void allowAll() {
            allowed.set(size);
        }
    }
}
