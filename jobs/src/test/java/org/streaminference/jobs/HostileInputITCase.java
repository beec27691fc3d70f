package org.streaminference.jobs;

import org.streaminference.embedded.DemoEvents;
import org.streaminference.model.DemoModels;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.model.control.SignedCommands;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.query.QueryService;
import org.streaminference.query.QueryServiceOptions;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.sinks.ResultStoreOptions;

import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * A corpus of hostile and odd records interleaved with valid events, through the whole pipeline on
 * a MiniCluster with a real Kafka broker and a real PostgreSQL, exactly-once, with Flink's restarts
 * turned off: a single record that failed a task would fail the job. Every valid event (odd ones
 * included: no key, ids in other scripts, extreme but finite numbers) has its prediction, equal to
 * ONNX Runtime run directly; every hostile record has a dead letter with a fitting reason that fits
 * its topic; events in = predictions + dead letters; both tables agree with the predictions topic.
 * The model itself is signed, and hostile model commands are answered without effect.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HostileInputITCase {
    private static final int PARALLELISM = 2;
    private static final long BASE_TIME = 1_760_000_000_000L;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(PARALLELISM);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    /**
     * A record to produce and the reasons its dead letter may carry (empty: it must become a
     * prediction).
     */
    private record Case(String name, String key, byte[] value, Set<ReasonCode> reasons) {}

    private final List<Case> hostile = new ArrayList<>();
    private final List<InputEvent> valid = new ArrayList<>();
    private int hostileEntities;

    private static InputEvent.Builder event(String eventId, String entityId, long time) {
        return InputEvent.newBuilder()
                .setEventId(eventId)
                .setEntityId(entityId)
                .setEventTime(time)
                .setEventType("purchase")
                .setNumericFields(Map.of("amount", 25.0, "quantity", 1.0))
                .setCategoricalFields(Map.of("country", "DE", "channel", "web"));
    }

    private static byte[] bytes(InputEvent e) throws Exception {
        return PipelineTestSupport.bytes(e.toByteBuffer());
    }

    /**
     * A fresh entity per hostile record, so that none of them touches the state of another's
     * entity.
     */
    private String entity() {
        return "hostile-" + hostileEntities++;
    }

    private void bad(String name, String key, byte[] value, ReasonCode... reasons) {
        hostile.add(new Case(name, key, value, Set.of(reasons)));
    }

    /** The single-object header of InputEvent followed by whatever {@code body} writes. */
    private static byte[] handWritten(BodyWriter body) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(event("h", "h", 1).build().toByteBuffer().array(), 0, 10);
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        body.write(e);
        e.flush();
        return out.toByteArray();
    }

    interface BodyWriter {
        void write(BinaryEncoder e) throws Exception;
    }

    /**
     * {@code bytes} with the first occurrence of {@code marker} replaced by {@code replacement}
     * (same length).
     */
    private static byte[] patch(byte[] bytes, String marker, byte[] replacement) {
        byte[] m = marker.getBytes(StandardCharsets.UTF_8);
        outer:
        for (int i = 0; i + m.length <= bytes.length; i++) {
            for (int k = 0; k < m.length; k++) {
                if (bytes[i + k] != m[k]) {
                    continue outer;
                }
            }
            byte[] out = bytes.clone();
            System.arraycopy(replacement, 0, out, i, replacement.length);
            return out;
        }
        throw new IllegalArgumentException("no " + marker);
    }

    private void buildCorpus() throws Exception {
        long t = BASE_TIME + 500_000;
        String e;
        // length prefixes and block counts beyond the payload
        e = entity();
        bad(
                "map of a billion entries in 74 bytes",
                e,
                handWritten(
                        w -> {
                            w.writeString("h-map");
                            w.writeString("hostile-map");
                            w.writeLong(BASE_TIME);
                            w.writeString("x");
                            w.writeLong(1_000_000_000L);
                            w.writeString("amount");
                            w.writeDouble(1);
                            w.writeString("quantity");
                            w.writeDouble(2);
                        }),
                ReasonCode.MALFORMED_AVRO);
        bad(
                "string of 2 GB in 31 bytes",
                e,
                handWritten(
                        w -> {
                            w.writeLong(Integer.MAX_VALUE);
                            w.writeFixed(new byte[16]);
                        }),
                ReasonCode.MALFORMED_AVRO);
        bad(
                "negative block count with a terabyte block",
                e,
                handWritten(
                        w -> {
                            w.writeString("h-neg");
                            w.writeString("hostile-neg");
                            w.writeLong(BASE_TIME);
                            w.writeString("x");
                            w.writeLong(-2);
                            w.writeLong(1L << 40);
                        }),
                ReasonCode.MALFORMED_AVRO);
        bad(
                "block count Long.MAX_VALUE",
                e,
                handWritten(
                        w -> {
                            w.writeString("h-cnt");
                            w.writeString("hostile-cnt");
                            w.writeLong(BASE_TIME);
                            w.writeString("x");
                            w.writeLong(Long.MAX_VALUE);
                        }),
                ReasonCode.MALFORMED_AVRO);
        // nested garbage after a correct header, and plain garbage
        Random random = new Random(13);
        for (int i = 0; i < 6; i++) {
            byte[] garbage = new byte[20 + random.nextInt(200)];
            random.nextBytes(garbage);
            byte[] value = handWritten(w -> w.writeFixed(garbage));
            bad(
                    "garbage body " + i,
                    null,
                    value,
                    ReasonCode.MALFORMED_AVRO,
                    ReasonCode.INVALID_FIELD,
                    ReasonCode.MISSING_FIELD,
                    ReasonCode.FUTURE_EVENT,
                    ReasonCode.UNKNOWN_SCHEMA);
        }
        byte[] huge =
                new byte[1_048_500]; // just under the broker's limit: its dead letter must still
        // fit
        random.nextBytes(huge);
        huge[0] = 'x';
        bad("garbage of 1,048,500 bytes", null, huge, ReasonCode.MALFORMED_AVRO);
        bad("empty value", entity(), new byte[0], ReasonCode.MALFORMED_AVRO);
        bad("tombstone", entity(), null, ReasonCode.MALFORMED_AVRO);
        byte[] otherFingerprint = bytes(event("h-fp", entity(), t).build());
        otherFingerprint[5] ^= 0x55;
        bad("another schema's fingerprint", null, otherFingerprint, ReasonCode.UNKNOWN_SCHEMA);
        byte[] sound = bytes(event("h-trail", entity(), t).build());
        byte[] trailing = Arrays.copyOf(sound, sound.length + 5);
        bad("trailing bytes after a valid record", null, trailing, ReasonCode.MALFORMED_AVRO);

        // NUL and lone surrogates in every string field
        for (String field :
                List.of(
                        "eventId",
                        "entityId",
                        "eventType",
                        "numeric key",
                        "categorical key",
                        "categorical value")) {
            String id = entity();
            InputEvent.Builder b = event("h-" + id, id, t);
            String marked = "MARK";
            switch (field) {
                case "eventId" -> b.setEventId("h-" + marked);
                case "entityId" -> b.setEntityId(marked);
                case "eventType" -> b.setEventType(marked);
                case "numeric key" ->
                        b.setNumericFields(Map.of("amount", 1.0, "quantity", 1.0, marked, 2.0));
                case "categorical key" -> b.setCategoricalFields(Map.of(marked, "x"));
                default -> b.setCategoricalFields(Map.of("country", marked));
            }
            byte[] plain = bytes(b.build());
            String key = field.equals("entityId") ? null : id;
            bad(
                    "U+0000 in " + field,
                    key,
                    patch(plain, "MARK", new byte[] {'M', 0, 'R', 'K'}),
                    ReasonCode.INVALID_FIELD);
            bad(
                    "lone surrogate in " + field,
                    key,
                    patch(plain, "MARK", new byte[] {'M', (byte) 0xED, (byte) 0xA0, (byte) 0x80}),
                    ReasonCode.MALFORMED_AVRO);
        }
        // ids the store or the query service could not take
        for (String id :
                List.of(
                        "a b",
                        "x".repeat(200),
                        "../../etc/passwd",
                        "<script>",
                        "tab\there",
                        "semi;colon")) {
            bad(
                    "entity id '" + id.substring(0, Math.min(12, id.length())) + "'",
                    null,
                    bytes(event("h-id-" + hostileEntities++, id, t).build()),
                    ReasonCode.INVALID_FIELD);
        }
        // extreme numbers and times
        e = entity();
        bad(
                "eventTime Long.MAX_VALUE",
                e,
                bytes(event("h-tmax", e, Long.MAX_VALUE).build()),
                ReasonCode.FUTURE_EVENT);
        e = entity();
        bad(
                "eventTime two hours ahead",
                e,
                bytes(event("h-tfut", e, System.currentTimeMillis() + 7_200_000L).build()),
                ReasonCode.FUTURE_EVENT);
        e = entity();
        bad(
                "eventTime negative",
                e,
                bytes(event("h-tneg", e, -5).build()),
                ReasonCode.INVALID_FIELD);
        e = entity();
        bad(
                "amount NaN",
                e,
                bytes(
                        event("h-nan", e, t)
                                .setNumericFields(Map.of("amount", Double.NaN, "quantity", 1.0))
                                .build()),
                ReasonCode.INVALID_FIELD);
        e = entity();
        bad(
                "amount -Infinity",
                e,
                bytes(
                        event("h-inf", e, t)
                                .setNumericFields(
                                        Map.of("amount", Double.NEGATIVE_INFINITY, "quantity", 1.0))
                                .build()),
                ReasonCode.INVALID_FIELD);
        e = entity();
        bad(
                "amount 1e308 (features overflow)",
                e,
                bytes(
                        event("h-big", e, t)
                                .setNumericFields(Map.of("amount", 1e308, "quantity", 1.0))
                                .build()),
                ReasonCode.NON_FINITE_FEATURE);
        // keys
        e = entity();
        bad(
                "key is not the entity",
                "someone-else",
                bytes(event("h-key", e, t).build()),
                ReasonCode.INVALID_FIELD);
    }

    /** Odd but valid: each must become a prediction. */
    private List<InputEvent> oddButValid() {
        long t = BASE_TIME + 600_000;
        return List.of(
                event("odd-1", "ünïcødé-entity", t).build(),
                event("odd-2", "user:42@shop.example", t).build(),
                event("odd-3", "odd-min", t)
                        .setNumericFields(Map.of("amount", Double.MIN_VALUE, "quantity", -0.0))
                        .build(),
                event("odd-4", "odd-tiny-time", 1L).build(),
                event("odd-5", "odd-empty-maps", t)
                        .setNumericFields(Map.of("amount", 3.0))
                        .setCategoricalFields(Map.of())
                        .build(),
                event("odd-6", "\u6F22\u5B57-entity", t).setEventType("Kauf \uD83D\uDED2").build());
    }

    @Test
    void noRecordStopsThePipelineAndEveryOneIsAccountedFor() throws Exception {
        DefaultTopics.create(SERVICES.kafka(), 3, 2);

        KeyPair publisher = ManifestSignatures.generateKeyPair();
        Path models = SERVICES.dir().resolve("models");
        Path modelDir = DemoModels.write(models, 1);
        ManifestSignatures.signVersion(modelDir, publisher);
        Path trustedKeys =
                Files.writeString(
                        SERVICES.dir().resolve("trusted.pub"),
                        ManifestSignatures.publicKeyPem(publisher.getPublic()));
        Path unsigned = DemoModels.write(models, 2); // in the store, but nobody trusted signed it

        buildCorpus();
        DemoEvents demo = new DemoEvents(29, 40, "hi");
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        Map<String, Case> caseBySha = new LinkedHashMap<>();
        int next = 0;
        for (int i = 0; i < 2_000; i++) {
            InputEvent event = demo.next(BASE_TIME + i * 10L);
            valid.add(event);
            records.add(
                    new ProducerRecord<>(
                            "events",
                            event.getEntityId().getBytes(StandardCharsets.UTF_8),
                            bytes(event)));
            if (i % 40 == 20 && next < hostile.size()) {
                Case c = hostile.get(next++);
                records.add(
                        new ProducerRecord<>(
                                "events",
                                c.key() == null ? null : c.key().getBytes(StandardCharsets.UTF_8),
                                c.value()));
                if (c.value() != null) {
                    caseBySha.put(sha256(c.value()), c);
                }
            }
        }
        while (next < hostile.size()) {
            Case c = hostile.get(next++);
            records.add(
                    new ProducerRecord<>(
                            "events",
                            c.key() == null ? null : c.key().getBytes(StandardCharsets.UTF_8),
                            c.value()));
            if (c.value() != null) {
                caseBySha.put(sha256(c.value()), c);
            }
        }
        for (InputEvent odd : oddButValid()) {
            valid.add(odd);
            records.add(
                    new ProducerRecord<>(
                            "events",
                            odd.getEventId().equals("odd-5")
                                    ? null
                                    : odd.getEntityId().getBytes(StandardCharsets.UTF_8),
                            bytes(odd)));
        }
        produce(records);

        // hostile model commands, before the job starts (its configuration is older, so the signed
        // ones count): each
        // is answered, none changes what is served. Signed by the trusted key, the loader's checks
        // answer them.
        Instant configured = Instant.now();
        sendCommand(
                signed(
                        publisher,
                        ModelCommands.publish(
                                DemoModels.NAME, "2", unsigned.toUri().toString(), null, null)));
        sendCommand(
                signed(
                        publisher,
                        ModelCommands.publish(
                                DemoModels.NAME,
                                "3",
                                Path.of("/etc").toUri().toString(),
                                null,
                                null)));
        sendCommand(
                "{\"command\":\"PROMOTE\",\"model\":\""
                        + DemoModels.NAME
                        + "\",\"x\":\""
                        + "y".repeat(70_000)
                        + "\"}");
        sendCommand(signed(publisher, ModelCommands.retire(DemoModels.NAME, "../1")));
        sendCommand("\u0000\u0001 not json");
        sendCommand(
                "{\"command\":\"RETIRE\",\"model\":\"" + DemoModels.NAME + "\",\"version\":\"1\"}");

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toUri().toString()));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(models.toUri().toString()));
        options.set(PipelineOptions.MODEL_TRUSTED_KEYS, trustedKeys.toString());
        options.set(PipelineOptions.MODEL_CONFIGURATION_TIME, configured.toString());
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        options.set(
                RestartStrategyOptions.RESTART_STRATEGY,
                "none"); // one failed task would fail the job
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(PARALLELISM);
        StreamInferenceJob.prepare(env, options);
        env.execute("hostile-input-it"); // bounded, no restarts: returns only if no record failed a
        // task

        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
        List<DeadLetter> deadLetters =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), "dead-letters", DeadLetter::fromByteBuffer);
        int eventsIn = records.size();
        Map<ReasonCode, Long> byReason =
                new TreeMap<>(
                        deadLetters.stream()
                                .collect(
                                        Collectors.groupingBy(
                                                DeadLetter::getReasonCode, Collectors.counting())));
        System.out.printf(
                "HOSTILE CORPUS: %d hostile records among %d valid events; events %d = predictions %d +"
                        + " dead letters %d; by reason %s; restarts 0 (restart strategy none)%n",
                hostile.size(),
                valid.size(),
                eventsIn,
                predictions.size(),
                deadLetters.size(),
                byReason);

        assertThat(predictions.size() + deadLetters.size())
                .as("events in = predictions + dead letters")
                .isEqualTo(eventsIn);
        assertThat(predictions)
                .extracting(Prediction::getEventId)
                .doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(
                        valid.stream().map(InputEvent::getEventId).toList());

        Map<String, DeadLetter> letterBySha = new HashMap<>();
        for (DeadLetter d : deadLetters) {
            assertThat(d.toByteBuffer().remaining())
                    .as("a dead letter fits its topic")
                    .isLessThan(1024 * 1024);
            assertThat(d.getMessage()).isNotBlank();
            if (d.getOriginalSize() == 0) {
                assertThat(d.getReasonCode())
                        .isEqualTo(ReasonCode.MALFORMED_AVRO); // the tombstone and the empty one
                continue;
            }
            assertThat(letterBySha.put(d.getOriginalSha256(), d))
                    .as("one dead letter per record")
                    .isNull();
        }
        for (Map.Entry<String, Case> c : caseBySha.entrySet()) {
            if (c.getValue().value().length == 0) {
                continue;
            }
            DeadLetter letter = letterBySha.get(c.getKey());
            if (letter == null) {
                // failed after decoding: the letter holds the event re-encoded (map entries may be
                // in another
                // order), so it is found by its event id
                String eventId = InputEvent.getDecoder().decode(c.getValue().value()).getEventId();
                letter =
                        deadLetters.stream()
                                .filter(d -> eventId.equals(d.getEventId()))
                                .findFirst()
                                .orElse(null);
            } else {
                assertThat(letter.getOriginalSize()).isEqualTo(c.getValue().value().length);
            }
            assertThat(letter).as("dead letter of '%s'", c.getValue().name()).isNotNull();
            assertThat(c.getValue().reasons())
                    .as("reason of '%s': %s", c.getValue().name(), letter.getMessage())
                    .contains(letter.getReasonCode());
        }
        DeadLetter hugeLetter =
                letterBySha.get(
                        sha256(
                                hostile.stream()
                                        .filter(c -> c.name().startsWith("garbage of"))
                                        .findFirst()
                                        .orElseThrow()
                                        .value()));
        assertThat(hugeLetter.getOriginalBytes().remaining()).isEqualTo(64 * 1024);

        // every prediction is what ONNX Runtime computes on the features this test computes on its
        // own
        Map<String, float[]> features = PipelineTestSupport.expectedFeatures(valid);
        Map<String, float[]> expected = PipelineTestSupport.runDirectly(modelDir, features);
        for (Prediction p : predictions) {
            assertThat(p.getModelVersion())
                    .as("nothing but the signed version 1 is served")
                    .isEqualTo("1");
            assertThat(p.getProbabilities().get(1))
                    .as(p.getEventId())
                    .isCloseTo(expected.get(p.getEventId())[1], within(1e-6));
        }

        // both tables agree with the predictions topic
        try (Connection db = SERVICES.connection();
                Statement s = db.createStatement()) {
            List<String> history = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT event_id FROM prediction_history")) {
                while (rs.next()) {
                    history.add(rs.getString(1));
                }
            }
            assertThat(history)
                    .containsExactlyInAnyOrderElementsOf(
                            predictions.stream().map(Prediction::getEventId).toList());
            Map<String, InputEvent> newest = new HashMap<>();
            for (InputEvent v : valid) {
                newest.merge(
                        v.getEntityId(), v, (a, b) -> b.getEventTime() >= a.getEventTime() ? b : a);
            }
            Map<String, String> latest = new HashMap<>();
            try (ResultSet rs =
                    s.executeQuery("SELECT entity_id, event_id FROM latest_prediction")) {
                while (rs.next()) {
                    latest.put(rs.getString(1), rs.getString(2));
                }
            }
            assertThat(latest).hasSize(newest.size());
            newest.forEach(
                    (entity, event) ->
                            assertThat(latest.get(entity))
                                    .as(entity)
                                    .isEqualTo(event.getEventId()));
        }

        // an id the job accepts is an id the query service can look up
        String apiKey = QueryService.newApiKey();
        Path keys =
                Files.writeString(
                        SERVICES.dir().resolve("api-keys"),
                        QueryService.keysFileLine("it", apiKey));
        Configuration query = new Configuration();
        query.set(ResultStoreOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        query.set(ResultStoreOptions.RESULT_STORE_PASSWORD, "");
        query.set(QueryServiceOptions.HOST, "127.0.0.1");
        query.set(QueryServiceOptions.PORT, 0);
        query.set(QueryServiceOptions.API_KEYS_FILE, keys.toString());
        try (QueryService service = QueryService.start(query)) {
            HttpClient http = HttpClient.newHttpClient();
            for (InputEvent odd : oddButValid()) {
                String path =
                        "/v1/predictions/"
                                + URLEncoder.encode(odd.getEntityId(), StandardCharsets.UTF_8)
                                        .replace("+", "%20");
                HttpResponse<String> r =
                        http.send(
                                HttpRequest.newBuilder(
                                                URI.create(
                                                        "http://127.0.0.1:"
                                                                + service.port()
                                                                + path))
                                        .header("Authorization", "Bearer " + apiKey)
                                        .build(),
                                HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as("%s: %s", odd.getEntityId(), r.body()).isEqualTo(200);
                assertThat(r.body()).contains(odd.getEventId());
            }
        }

        // every hostile command was answered by both subtasks; what is served did not change
        List<ModelEvent> events =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(),
                        "model-events",
                        b -> ModelEvents.fromJson(PipelineTestSupport.bytes(b)));
        Map<String, Long> rejected =
                events.stream()
                        .filter(ev -> ev.getType() == ModelEventType.REJECTED)
                        .collect(
                                Collectors.groupingBy(
                                        ModelEvent::getReason,
                                        TreeMap::new,
                                        Collectors.counting()));
        System.out.printf("HOSTILE COMMANDS: rejected by reason (both subtasks) %s%n", rejected);
        // UNSIGNED: the version's manifest (signed command) and the plain RETIRE (unsigned command)
        assertThat(rejected)
                .containsEntry("UNSIGNED", 4L)
                .containsEntry("URI_NOT_ALLOWED", 2L)
                .containsEntry("TOO_LARGE", 2L)
                .containsEntry("INVALID_COMMAND", 4L)
                .hasSize(4);
    }

    private static String sha256(byte[] value) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value));
    }

    private static void produce(List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                SERVICES.bootstrapServers(),
                                ProducerConfig.ACKS_CONFIG,
                                "all",
                                ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                                1_100_000), // the 1,048,500-byte record
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            List<Future<?>> acks = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> r : records) {
                acks.add(producer.send(r));
            }
            for (Future<?> ack : acks) {
                ack.get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static String signed(KeyPair key, ModelCommand command) {
        return new String(
                SignedCommands.sign(
                        ModelCommands.toJson(command), key.getPrivate(), key.getPublic()),
                StandardCharsets.UTF_8);
    }

    private static void sendCommand(String json) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                SERVICES.bootstrapServers()),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            producer.send(
                            new ProducerRecord<>(
                                    "model-control",
                                    DemoModels.NAME.getBytes(StandardCharsets.UTF_8),
                                    json.getBytes(StandardCharsets.UTF_8)))
                    .get(30, TimeUnit.SECONDS);
        }
    }
}
