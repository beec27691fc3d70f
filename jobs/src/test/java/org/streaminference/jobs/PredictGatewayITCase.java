package org.streaminference.jobs;

import org.streaminference.features.ReferenceFeatures;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.gateway.PredictGateway;
import org.streaminference.gateway.PredictGatewayOptions;
import org.streaminference.gateway.grpc.BatchPredictRequest;
import org.streaminference.gateway.grpc.BatchPredictResponse;
import org.streaminference.gateway.grpc.GetModelInfoRequest;
import org.streaminference.gateway.grpc.ModelInfo;
import org.streaminference.gateway.grpc.PredictOptions;
import org.streaminference.gateway.grpc.PredictRequest;
import org.streaminference.gateway.grpc.PredictResponse;
import org.streaminference.gateway.grpc.PredictionServiceGrpc;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.query.ApiKeys;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.PredictRequestHeaders;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.TopicOptions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Synchronous, asynchronous and hybrid predictions through the running job, over REST (called with
 * curl), gRPC (the Java stub and Python's grpcio) and the Open Inference Protocol, from two gateway
 * instances on their own partitions. The job runs unbounded on a MiniCluster with a real broker and
 * is fed a stream of events first; every answer is checked against ONNX Runtime run directly on the
 * features recomputed here ({@link ReferenceFeatures}) from the entity's events and the update-mode
 * requests before it: a synchronous answer carries the stream's features, a read-only request
 * leaves the entity's state as it was, and only update-mode requests reach the predictions topic.
 * Refusals come with the status a client expects, and records that others write to the request
 * topic neither reach a caller nor stop the job.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class PredictGatewayITCase {
    private static final String P = "predict";
    private static final String MODEL = "payments-score";
    private static final int ENTITIES = 12;
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    private FeatureSpec spec;
    private LoadedModel model;
    private JobClient job;
    private PredictGateway gatewayA;
    private PredictGateway gatewayB;
    private PredictGateway gatewayC;
    private ManagedChannel channel;
    private final String serviceKey = ApiKeys.generate();
    private final String readerKey = ApiKeys.generate();
    private final String otherKey = ApiKeys.generate();
    private RSAKey signingKey;
    private final long now = System.currentTimeMillis();

    /** Per entity, what its features count so far: its events, then update-mode requests. */
    private final Map<String, List<InputEvent>> counted = new HashMap<>();

    @BeforeAll
    void startJobAndGateways() throws Exception {
        SERVICES.kafka().createTopics(2, P + "-events", P + "-predictions");
        SERVICES.kafka().createTopics(3, P + "-requests", P + "-replies");
        SERVICES.kafka().createTopics(1, P + "-dead-letters", P + "-control", P + "-model-events");
        Path specFile = SERVICES.dir().resolve("predict-payments.yaml");
        try (InputStream in = getClass().getResourceAsStream("/user-events/payments.yaml")) {
            Files.write(specFile, in.readAllBytes());
        }
        spec = FeatureSpecs.load(specFile.toString());
        Path modelDir =
                PipelineTestSupport.scoreModel(SERVICES.dir().resolve("models"), MODEL, spec);
        model = new ModelLoader(ModelLoaderConfig.defaults()).load(modelDir.toString());

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, P + "-events");
        options.set(PipelineOptions.GROUP_ID, P);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, P + "-predictions");
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, P + "-dead-letters");
        options.set(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX, P);
        options.set(PipelineOptions.MODEL_CONTROL_TOPIC, P + "-control");
        options.set(PipelineOptions.MODEL_EVENTS_TOPIC, P + "-model-events");
        options.set(PipelineOptions.PREDICT_REQUESTS_TOPIC, P + "-requests");
        options.set(PipelineOptions.PREDICT_REPLIES_TOPIC, P + "-replies");
        options.set(PipelineOptions.FEATURES_SPEC, specFile.toString());
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toString()));
        options.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not the subject here
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(SERVICES.dir().resolve("models").toUri().toString()));
        options.set(EventFormatOptions.FORMAT, EventFormatOptions.Format.JSON);
        options.set(EventFormatOptions.EVENT_ID_FIELD, "id");
        options.set(EventFormatOptions.ENTITY_ID_FIELD, "customer.id");
        options.set(EventFormatOptions.EVENT_TIME_FIELD, "ts");
        options.set(EventFormatOptions.EVENT_TYPE_FIELD, "kind");
        options.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(300));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        job = env.executeAsync(P);

        // the stream first: 5 events per entity over the last hour, each answered before requests
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        Random random = new Random(3);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < ENTITIES * 5; i++) {
            String entity = "cust-" + (i % ENTITIES);
            Map<String, Object> event =
                    event(
                            random,
                            Math.round(random.nextDouble() * 50_000) / 100.0,
                            i % 2 == 0 ? "EUR" : "USD");
            event.put("id", P + "-e" + i);
            event.put("kind", "purchase");
            event.put("ts", now - 3_000_000L + i * 20_000L);
            ((Map<String, Object>) event.get("customer")).put("id", entity);
            records.add(
                    new ProducerRecord<>(
                            P + "-events",
                            entity.getBytes(StandardCharsets.UTF_8),
                            JSON.writeValueAsBytes(event)));
            counted.computeIfAbsent(entity, e -> new ArrayList<>())
                    .add(inputEvent(P + "-e" + i, entity, (long) event.get("ts"), event));
            ids.add(P + "-e" + i);
        }
        PipelineTestSupport.produce(SERVICES.bootstrapServers(), records, 0);
        Awaitility.await("the stream's predictions")
                .atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> predictionIds().containsAll(ids));

        Path keys = SERVICES.dir().resolve("gateway-keys");
        Files.writeString(
                keys,
                String.join(
                        "\n",
                        ApiKeys.line(
                                "svc", serviceKey, Set.of(ApiKeys.PREDICT, ApiKeys.MODELS_READ)),
                        ApiKeys.line("reader", readerKey, Set.of(ApiKeys.MODELS_READ)),
                        ApiKeys.line("other", otherKey, Set.of(ApiKeys.PREDICT))));
        signingKey = new RSAKeyGenerator(2048).keyID("k1").generate();
        Path jwks = SERVICES.dir().resolve("jwks.json");
        Files.writeString(jwks, new JWKSet(signingKey.toPublicJWK()).toString());
        gatewayA = gateway(0, keys, jwks, specFile, Map.of());
        gatewayB =
                gateway(
                        1,
                        keys,
                        jwks,
                        specFile,
                        Map.of(PredictGatewayOptions.ASYNC_EVENT_TYPES.key(), "batch-score"));
        gatewayC =
                gateway(
                        2,
                        keys,
                        jwks,
                        specFile,
                        Map.of(
                                PredictGatewayOptions.RATE_LIMIT.key(), "0.01",
                                PredictGatewayOptions.RATE_LIMIT_BURST.key(), "2"));
        channel =
                ManagedChannelBuilder.forAddress("127.0.0.1", gatewayB.grpcPort())
                        .usePlaintext()
                        .build();
    }

    private static PredictGateway gateway(
            int partition, Path keys, Path jwks, Path spec, Map<String, String> more)
            throws IOException {
        Configuration config = new Configuration();
        config.set(TopicOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        config.set(TopicOptions.PREDICT_REQUESTS_TOPIC, P + "-requests");
        config.set(TopicOptions.PREDICT_REPLIES_TOPIC, P + "-replies");
        config.set(TopicOptions.MODEL_EVENTS_TOPIC, P + "-model-events");
        config.set(PredictGatewayOptions.PORT, 0);
        config.set(PredictGatewayOptions.GRPC_PORT, 0);
        config.set(PredictGatewayOptions.PARTITION, partition);
        config.set(PredictGatewayOptions.API_KEYS_FILE, keys.toString());
        config.set(PredictGatewayOptions.JWT_JWKS, jwks.toString());
        config.set(PredictGatewayOptions.FEATURES_SPEC, spec.toString());
        config.set(PredictGatewayOptions.TIMEOUT, Duration.ofSeconds(20));
        more.forEach(config::setString);
        return PredictGateway.start(config);
    }

    @AfterAll
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        for (PredictGateway g : new PredictGateway[] {gatewayA, gatewayB, gatewayC}) {
            if (g != null) {
                g.close();
            }
        }
        if (job != null) {
            job.cancel().get(1, TimeUnit.MINUTES);
        }
        if (model != null) {
            model.close();
        }
    }

    // --- the tests

    @Test
    void aSynchronousAnswerOverRestCarriesTheStreamsFeatures() throws Exception {
        String entity = "cust-1";
        for (int i = 0; i < 2; i++) {
            Map<String, Object> fields = fields(new Random(10 + i), 120.0 + i, "GBP");
            Http response =
                    post(
                            url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                            serviceKey,
                            request(entity, "rest-" + i, now + i, fields, Map.of()));
            assertThat(response.status()).as(response.body()).isEqualTo(200);
            JsonNode answer = JSON.readTree(response.body());
            assertThat(answer.path("request_id").asText()).isEqualTo("rest-" + i);
            assertThat(answer.path("version").asText()).isEqualTo("1");
            assertThat(answer.path("metadata").path("job_ms").asDouble()).isGreaterThanOrEqualTo(0);
            // each update-mode request counts in the entity's state: the second sees the first
            assertThat(answer.path("prediction").path("score").asDouble())
                    .isCloseTo(expected(entity, "rest-" + i, now + i, fields, false), within(1e-5));
        }
    }

    @Test
    void aReadOnlyRequestLeavesTheEntitysStateAndTheStreamsOutputsAlone() throws Exception {
        String entity = "cust-2";
        Map<String, Object> whatIf = fields(new Random(20), 9_999.0, "EUR");
        Http read =
                post(
                        url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        request(entity, "read-1", now, whatIf, Map.of("mode", "read")));
        assertThat(read.status()).as(read.body()).isEqualTo(200);
        assertThat(JSON.readTree(read.body()).path("prediction").path("score").asDouble())
                .isCloseTo(expected(entity, "read-1", now, whatIf, true), within(1e-5));

        Map<String, Object> fields = fields(new Random(21), 50.0, "EUR");
        Http update =
                post(
                        url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        request(entity, "update-1", now + 1, fields, Map.of()));
        assertThat(update.status()).as(update.body()).isEqualTo(200);
        // computed without the read-only request: it changed nothing
        assertThat(JSON.readTree(update.body()).path("prediction").path("score").asDouble())
                .isCloseTo(expected(entity, "update-1", now + 1, fields, false), within(1e-5));

        // the update is a stream prediction too; the read-only request, sent before it, is not
        Awaitility.await("the update's prediction on the predictions topic")
                .atMost(Duration.ofMinutes(1))
                .until(() -> predictionIds().contains("update-1"));
        assertThat(predictionIds()).doesNotContain("read-1");
    }

    @Test
    void theJavaGrpcClientPredictsBatchesStreamsAndDescribes() throws Exception {
        var stub =
                PredictionServiceGrpc.newBlockingStub(channel)
                        .withCallCredentials(bearer(serviceKey));
        Map<String, Object> fields = fields(new Random(30), 75.5, "USD");
        PredictResponse one =
                stub.predict(grpcRequest("cust-3", "grpc-1", now, fields, false).build());
        assertThat(one.getStatus()).isEqualTo("ok");
        assertThat(one.getVersion()).isEqualTo("1");
        assertThat(one.getTiming().getTotalMs()).isPositive();
        assertThat(one.getScore())
                .isCloseTo(expected("cust-3", "grpc-1", now, fields, false), within(1e-5));

        Map<String, Object> f4 = fields(new Random(31), 12.0, "EUR");
        Map<String, Object> f5 = fields(new Random(32), 13.0, "GBP");
        BatchPredictResponse batch =
                stub.batchPredict(
                        BatchPredictRequest.newBuilder()
                                .addRequests(grpcRequest("cust-4", "batch-1", now, f4, false))
                                .addRequests(grpcRequest("cust-5", "batch-2", now, f5, false))
                                .addRequests(
                                        grpcRequest("cust-5", "batch-3", now, f5, false)
                                                .setModel("no-such-model"))
                                .build());
        assertThat(batch.getResponsesList())
                .extracting(PredictResponse::getStatus)
                .containsExactly("ok", "ok", "model_not_found");
        assertThat(batch.getResponses(0).getScore())
                .isCloseTo(expected("cust-4", "batch-1", now, f4, false), within(1e-5));
        assertThat(batch.getResponses(1).getScore())
                .isCloseTo(expected("cust-5", "batch-2", now, f5, false), within(1e-5));
        // an unknown model's request is a dead letter UNKNOWN_MODEL: it counted in the features
        counted.get("cust-5").add(inputEvent("batch-3", "cust-5", now, f5));

        // one stream, several requests of one entity: answered in their order in its state
        var async = PredictionServiceGrpc.newStub(channel).withCallCredentials(bearer(serviceKey));
        List<PredictResponse> streamed = new CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        StreamObserver<PredictRequest> requests =
                async.streamPredict(
                        new StreamObserver<>() {
                            @Override
                            public void onNext(PredictResponse value) {
                                streamed.add(value);
                            }

                            @Override
                            public void onError(Throwable t) {
                                done.countDown();
                            }

                            @Override
                            public void onCompleted() {
                                done.countDown();
                            }
                        });
        List<Map<String, Object>> streamFields = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            streamFields.add(fields(new Random(40 + i), 30.0 + i, "EUR"));
            requests.onNext(
                    grpcRequest("cust-6", "stream-" + i, now + i, streamFields.get(i), false)
                            .build());
        }
        requests.onCompleted();
        assertThat(done.await(1, TimeUnit.MINUTES)).isTrue();
        assertThat(streamed).hasSize(4);
        Map<String, Double> byId = new HashMap<>();
        streamed.forEach(r -> byId.put(r.getRequestId(), r.getScore()));
        for (int i = 0; i < 4; i++) {
            assertThat(byId.get("stream-" + i))
                    .isCloseTo(
                            expected("cust-6", "stream-" + i, now + i, streamFields.get(i), false),
                            within(1e-5));
        }

        ModelInfo info =
                PredictionServiceGrpc.newBlockingStub(channel)
                        .withCallCredentials(bearer(readerKey))
                        .getModelInfo(GetModelInfoRequest.newBuilder().setModel(MODEL).build());
        assertThat(info.getActive()).isEqualTo("1");
        assertThat(info.getDetails().getFieldsMap()).containsKey("contract");

        // a key without the predict scope, and an unknown model: the codes gRPC clients expect
        assertThatThrownBy(
                        () ->
                                PredictionServiceGrpc.newBlockingStub(channel)
                                        .withCallCredentials(bearer(readerKey))
                                        .predict(
                                                grpcRequest("cust-6", "denied", now, fields, false)
                                                        .build()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e ->
                                assertThat(e.getStatus().getCode())
                                        .isEqualTo(Status.Code.PERMISSION_DENIED));
        assertThatThrownBy(
                        () ->
                                stub.predict(
                                        grpcRequest("cust-7", "unknown", now, fields, false)
                                                .setModel("no-such-model")
                                                .build()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
        counted.computeIfAbsent("cust-7", e -> new ArrayList<>())
                .add(inputEvent("unknown", "cust-7", now, fields));
    }

    @Test
    void thePythonGrpcClientCallsPredictAndTheOpenInferenceProtocol() throws Exception {
        Assumptions.assumeTrue(
                run(List.of("/usr/bin/python3", "-c", "import grpc, grpc_tools"), null).exit == 0,
                "Debian's python3-grpcio and python3-grpc-tools are not installed (.ci/run installs"
                        + " them); skipping the Python gRPC client");
        Path dir = Files.createDirectories(SERVICES.dir().resolve("python-client"));
        Path protos = Path.of("..", "predict-gateway", "src", "main", "proto").toAbsolutePath();
        Result generated =
                run(
                        List.of(
                                "/usr/bin/python3",
                                "-m",
                                "grpc_tools.protoc",
                                "-I",
                                protos.toString(),
                                "--python_out=" + dir,
                                "--grpc_python_out=" + dir,
                                "streaminference/predict/v1/predict.proto",
                                "inference/grpc_predict_v2.proto"),
                        null);
        assertThat(generated.exit).as(generated.output).isZero();
        Path script = dir.resolve("predict_client.py");
        try (InputStream in =
                getClass().getResourceAsStream("/predict-gateway/predict_client.py")) {
            Files.write(script, in.readAllBytes());
        }
        Map<String, Object> fields = fields(new Random(50), 64.0, "EUR");
        Map<String, Object> oipFields = fields(new Random(51), 65.0, "USD");
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("target", "127.0.0.1:" + gatewayA.grpcPort());
        input.put("token", serviceKey);
        input.put("model", MODEL);
        input.put(
                "predict",
                Map.of(
                        "entity_id",
                        "cust-8",
                        "request_id",
                        "py-1",
                        "event_time",
                        now,
                        "fields",
                        fields));
        input.put(
                "infer",
                Map.of(
                        "entity_id",
                        "cust-9",
                        "id",
                        "py-oip-1",
                        "event_time",
                        now,
                        "fields",
                        oipFields));
        Result result =
                run(
                        List.of("/usr/bin/python3", script.toString(), dir.toString()),
                        JSON.writeValueAsString(input));
        assertThat(result.exit).as(result.output).isZero();
        JsonNode out = JSON.readTree(result.output.substring(result.output.indexOf('{')));
        assertThat(out.path("predict").path("status").asText()).isEqualTo("ok");
        assertThat(out.path("predict").path("score").asDouble())
                .isCloseTo(expected("cust-8", "py-1", now, fields, false), within(1e-5));
        assertThat(out.path("metadata").path("name").asText()).isEqualTo(MODEL);
        assertThat(out.path("metadata").path("inputs").toString()).contains("customer.embedding");
        assertThat(out.path("infer").path("model_version").asText()).isEqualTo("1");
        assertThat(out.path("infer").path("id").asText()).isEqualTo("py-oip-1");
        assertThat(out.path("infer").path("score").asDouble())
                .isCloseTo(expected("cust-9", "py-oip-1", now, oipFields, false), within(1e-5));
    }

    @Test
    void theOpenInferenceProtocolOverRestMapsTensorsToFields() throws Exception {
        Http metadata = curl("GET", url(gatewayA, "/v2/models/" + MODEL), readerKey, null);
        assertThat(metadata.status()).as(metadata.body()).isEqualTo(200);
        JsonNode meta = JSON.readTree(metadata.body());
        assertThat(meta.path("inputs").findValuesAsText("name"))
                .contains("entity_id", "payment.amount", "customer.embedding");
        Http ready = curl("GET", url(gatewayA, "/v2/models/" + MODEL + "/ready"), readerKey, null);
        assertThat(ready.status()).isEqualTo(200);

        Map<String, Object> a = fields(new Random(60), 10.0, "EUR");
        Map<String, Object> b = fields(new Random(61), 20.0, "GBP");
        long time = now + 5;
        List<Map<String, Object>> inputs = new ArrayList<>();
        inputs.add(tensor("entity_id", "BYTES", List.of(2), List.of("cust-10", "cust-11")));
        inputs.add(tensor("payment.amount", "FP64", List.of(2), List.of(amount(a), amount(b))));
        inputs.add(
                tensor("payment.currency", "BYTES", List.of(2), List.of(currency(a), currency(b))));
        inputs.add(
                tensor("customer.segment", "BYTES", List.of(2), List.of(segment(a), segment(b))));
        List<Object> embedding = new ArrayList<>(embedding(a));
        embedding.addAll(embedding(b));
        inputs.add(tensor("customer.embedding", "FP32", List.of(2, 4), embedding));
        inputs.add(tensor("coupon", "FP64", List.of(2), List.of(1.0, 1.0)));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", "oip-rest");
        body.put("parameters", Map.of("event_time", time));
        body.put("inputs", inputs);
        Http infer =
                post(
                        url(gatewayA, "/v2/models/" + MODEL + "/infer"),
                        serviceKey,
                        JSON.writeValueAsString(body));
        assertThat(infer.status()).as(infer.body()).isEqualTo(200);
        JsonNode response = JSON.readTree(infer.body());
        assertThat(response.path("id").asText()).isEqualTo("oip-rest");
        JsonNode scores = response.path("outputs").get(0);
        assertThat(scores.path("name").asText()).isEqualTo("score");
        double scoreA = scores.path("data").get(0).asDouble();
        double scoreB = scores.path("data").get(1).asDouble();
        // two rows: requests oip-rest-0 and oip-rest-1, one per entity
        assertThat(scoreA)
                .isCloseTo(expected("cust-10", "oip-rest-0", time, a, false), within(1e-5));
        assertThat(scoreB)
                .isCloseTo(expected("cust-11", "oip-rest-1", time, b, false), within(1e-5));

        // a tensor that is not a field: the protocol's error body, naming it
        inputs.add(tensor("not_a_field", "FP64", List.of(2), List.of(1.0, 2.0)));
        Http bad =
                post(
                        url(gatewayA, "/v2/models/" + MODEL + "/infer"),
                        serviceKey,
                        JSON.writeValueAsString(Map.of("inputs", inputs)));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).path("error").asText()).contains("not_a_field");
    }

    @Test
    void asyncRequestsAndHybridRoutingAnswerLater() throws Exception {
        Map<String, Object> fields = fields(new Random(70), 33.0, "EUR");
        Http accepted =
                post(
                        url(gatewayB, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        request("cust-12", "async-1", now, fields, Map.of("path", "async")));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.headers().get("location")).isEqualTo("/v1/requests/async-1");
        JsonNode done = awaitAnswer(gatewayB, "async-1", serviceKey);
        assertThat(done.path("prediction").path("score").asDouble())
                .isCloseTo(expected("cust-12", "async-1", now, fields, false), within(1e-5));
        // another caller cannot see it
        assertThat(curl("GET", url(gatewayB, "/v1/requests/async-1"), otherKey, null).status())
                .isEqualTo(404);

        // gateway B routes the event type batch-score to the asynchronous path
        Map<String, Object> routed = fields(new Random(71), 34.0, "USD");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("entity_id", "cust-13");
        body.put("request_id", "routed-1");
        body.put("event_type", "batch-score");
        body.put("event_time", now);
        body.put("fields", routed);
        Http routedResponse =
                post(
                        url(gatewayB, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        JSON.writeValueAsString(body));
        assertThat(routedResponse.status()).as(routedResponse.body()).isEqualTo(202);
        assertThat(
                        awaitAnswer(gatewayB, "routed-1", serviceKey)
                                .path("prediction")
                                .path("score")
                                .asDouble())
                .isCloseTo(expected("cust-13", "routed-1", now, routed, false), within(1e-5));
        // gateway A routes nothing: the same type waits for its answer there
        body.put("request_id", "routed-2");
        body.put("entity_id", "cust-14");
        Http sync =
                post(
                        url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        JSON.writeValueAsString(body));
        assertThat(sync.status()).as(sync.body()).isEqualTo(200);
        counted.computeIfAbsent("cust-14", e -> new ArrayList<>())
                .add(inputEvent("routed-2", "cust-14", now, routed));
    }

    @Test
    void aTimedOutRequestIsAnswered504AndCanBeFetchedLater() throws Exception {
        Map<String, Object> fields = fields(new Random(80), 44.0, "EUR");
        Http timedOut =
                post(
                        url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        request("cust-15", "slow-1", now, fields, Map.of("timeout_ms", 1)));
        assertThat(timedOut.status()).as(timedOut.body()).isEqualTo(504);
        assertThat(timedOut.headers().get("x-request-id")).isEqualTo("slow-1");
        JsonNode later = awaitAnswer(gatewayA, "slow-1", serviceKey);
        assertThat(later.path("prediction").path("score").asDouble())
                .isCloseTo(expected("cust-15", "slow-1", now, fields, false), within(1e-5));
    }

    @Test
    void refusalsComeWithTheStatusAClientExpects() throws Exception {
        String predict = url(gatewayA, "/v1/models/" + MODEL + "/predict");
        Map<String, Object> fields = fields(new Random(90), 1.0, "EUR");
        Http noKey = post(predict, null, request("cust-16", "r0", now, fields, Map.of()));
        assertThat(noKey.status()).isEqualTo(401);
        assertThat(noKey.headers()).containsKey("www-authenticate");
        assertThat(
                        post(predict, readerKey, request("cust-16", "r1", now, fields, Map.of()))
                                .status())
                .isEqualTo(403);

        Map<String, Object> spoiled = new LinkedHashMap<>(fields);
        spoiled.put("customer", Map.of("id", "someone-else"));
        Http unknownField =
                post(predict, serviceKey, request("cust-16", "r2", now, spoiled, Map.of()));
        assertThat(unknownField.status()).isEqualTo(400);
        assertThat(JSON.readTree(unknownField.body()).path("message").asText())
                .contains("fields.customer.id");
        Map<String, Object> notANumber = new LinkedHashMap<>(fields);
        notANumber.put("payment", Map.of("amount", "twelve", "currency", "EUR"));
        assertThat(
                        JSON.readTree(
                                        post(
                                                        predict,
                                                        serviceKey,
                                                        request(
                                                                "cust-16",
                                                                "r3",
                                                                now,
                                                                notANumber,
                                                                Map.of()))
                                                .body())
                                .path("message")
                                .asText())
                .contains("fields.payment.amount");

        // the job refuses a model it does not serve: 404, with the request id
        Http unknownModel =
                post(
                        url(gatewayA, "/v1/models/no-such-model/predict"),
                        serviceKey,
                        request("cust-16", "r4", now, fields, Map.of()));
        assertThat(unknownModel.status()).as(unknownModel.body()).isEqualTo(404);
        assertThat(JSON.readTree(unknownModel.body()).path("request_id").asText()).isEqualTo("r4");

        // a JWT signed by the configured key with the scope; an expired one, one for another
        // audience, one signed by another key
        Http jwt =
                post(
                        predict,
                        token(signingKey, "predict", "streaminference", 60),
                        request("cust-17", "jwt-1", now, fields, Map.of()));
        assertThat(jwt.status()).as(jwt.body()).isEqualTo(200);
        assertThat(
                        post(
                                        predict,
                                        token(signingKey, "predict", "streaminference", -120),
                                        request("cust-17", "jwt-2", now, fields, Map.of()))
                                .status())
                .isEqualTo(401);
        assertThat(
                        post(
                                        predict,
                                        token(signingKey, "predict", "elsewhere", 60),
                                        request("cust-17", "jwt-3", now, fields, Map.of()))
                                .status())
                .isEqualTo(401);
        RSAKey stranger = new RSAKeyGenerator(2048).keyID("k1").generate();
        assertThat(
                        post(
                                        predict,
                                        token(stranger, "predict", "streaminference", 60),
                                        request("cust-17", "jwt-4", now, fields, Map.of()))
                                .status())
                .isEqualTo(401);
        assertThat(
                        post(
                                        predict,
                                        token(signingKey, "models:read", "streaminference", 60),
                                        request("cust-17", "jwt-5", now, fields, Map.of()))
                                .status())
                .isEqualTo(403);

        // gateway C allows a burst of 2: the third request in a row is 429 with Retry-After
        String limited = url(gatewayC, "/v1/models/" + MODEL + "/predict");
        int[] statuses = new int[3];
        Http last = null;
        for (int i = 0; i < 3; i++) {
            last =
                    post(
                            limited,
                            otherKey,
                            request(
                                    "cust-18",
                                    "limited-" + i,
                                    now,
                                    fields,
                                    Map.of("mode", "read")));
            statuses[i] = last.status();
        }
        assertThat(statuses).containsExactly(200, 200, 429);
        assertThat(last.headers()).containsKey("retry-after");
        counted.computeIfAbsent("cust-16", e -> new ArrayList<>())
                .add(inputEvent("r4", "cust-16", now, fields));
        counted.computeIfAbsent("cust-17", e -> new ArrayList<>())
                .add(inputEvent("jwt-1", "cust-17", now, fields));
    }

    @Test
    void recordsOthersWriteToTheRequestTopicReachNoCallerAndStopNothing() throws Exception {
        // no request headers: a dead letter, no reply; forged headers on gateway A's partition: a
        // reply gateway A drops (it wrote no such record)
        RecordHeaders forged = new RecordHeaders();
        forged.add(PredictRequestHeaders.REQUEST_ID, PredictRequestHeaders.bytes("forged-1"));
        forged.add(PredictRequestHeaders.MODEL, PredictRequestHeaders.bytes(MODEL));
        forged.add(PredictRequestHeaders.MODE, PredictRequestHeaders.bytes("read"));
        forged.add(PredictRequestHeaders.SENT, PredictRequestHeaders.bytes("1"));
        Map<String, Object> fields = fields(new Random(100), 5.0, "EUR");
        Map<String, Object> value = new LinkedHashMap<>(fields);
        value.put("request_id", "forged-1");
        value.put("entity_id", "cust-19");
        value.put("event_time", now);
        value.put("event_type", "event");
        Map<String, Object> headerless = new LinkedHashMap<>(value);
        headerless.put("request_id", "headerless-1");
        PipelineTestSupport.produce(
                SERVICES.bootstrapServers(),
                List.<ProducerRecord<byte[], byte[]>>of(
                        new ProducerRecord<>(
                                P + "-requests",
                                0,
                                (byte[]) null,
                                JSON.writeValueAsBytes(headerless),
                                new RecordHeaders()),
                        new ProducerRecord<>(
                                P + "-requests",
                                0,
                                (byte[]) null,
                                JSON.writeValueAsBytes(value),
                                forged)),
                0);
        Awaitility.await("the header-less record's dead letter")
                .atMost(Duration.ofMinutes(1))
                .until(
                        () ->
                                PipelineTestSupport.readCommitted(
                                                SERVICES.bootstrapServers(),
                                                P + "-dead-letters",
                                                DeadLetter::fromByteBuffer)
                                        .stream()
                                        .anyMatch(
                                                d ->
                                                        d.getReasonCode()
                                                                        == ReasonCode.INVALID_FIELD
                                                                && d.getMessage()
                                                                        .contains(
                                                                                PredictRequestHeaders
                                                                                        .REQUEST_ID)));
        Awaitility.await("gateway A drops the forged request's reply")
                .atMost(Duration.ofMinutes(1))
                .until(
                        () ->
                                curl("GET", url(gatewayA, "/metrics"), null, null)
                                        .body()
                                        .contains(
                                                "gateway_replies_total{kind=\"late_or_foreign\"}"));
        // the job goes on answering
        Map<String, Object> after = fields(new Random(101), 6.0, "USD");
        Http response =
                post(
                        url(gatewayA, "/v1/models/" + MODEL + "/predict"),
                        serviceKey,
                        request("cust-19", "after-forged", now, after, Map.of("mode", "read")));
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS).isGloballyTerminalState())
                .isFalse();
    }

    @Test
    void aGatewayShedsLoadAndSays503WhileNoJobAnswers() throws Exception {
        // a request topic no job reads: every request waits out its timeout
        SERVICES.kafka().createTopics(1, P + "-orphan-requests", P + "-orphan-replies");
        Configuration config = new Configuration();
        config.set(TopicOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        config.set(TopicOptions.PREDICT_REQUESTS_TOPIC, P + "-orphan-requests");
        config.set(TopicOptions.PREDICT_REPLIES_TOPIC, P + "-orphan-replies");
        config.set(TopicOptions.MODEL_EVENTS_TOPIC, P + "-model-events");
        config.set(PredictGatewayOptions.PORT, 0);
        config.set(PredictGatewayOptions.GRPC_PORT, -1);
        config.set(
                PredictGatewayOptions.API_KEYS_FILE,
                SERVICES.dir().resolve("gateway-keys").toString());
        config.set(
                PredictGatewayOptions.FEATURES_SPEC,
                SERVICES.dir().resolve("predict-payments.yaml").toString());
        config.set(PredictGatewayOptions.MAX_IN_FLIGHT, 1);
        config.set(PredictGatewayOptions.TIMEOUT, Duration.ofSeconds(1));
        try (PredictGateway orphan = PredictGateway.start(config)) {
            String predict = url(orphan, "/v1/models/" + MODEL + "/predict");
            Map<String, Object> fields = fields(new Random(110), 1.0, "EUR");
            var waiting =
                    java.util.concurrent.CompletableFuture.supplyAsync(
                            () -> {
                                try {
                                    return post(
                                            predict,
                                            serviceKey,
                                            request(
                                                    "cust-20",
                                                    "orphan-1",
                                                    now,
                                                    fields,
                                                    Map.of("timeout_ms", 4_000)));
                                } catch (Exception e) {
                                    throw new IllegalStateException(e);
                                }
                            });
            Awaitility.await("the first request in flight")
                    .atMost(Duration.ofSeconds(30))
                    .until(
                            () ->
                                    curl("GET", url(orphan, "/metrics"), null, null)
                                            .body()
                                            .contains("gateway_in_flight 1.0"));
            Http shed =
                    post(
                            predict,
                            serviceKey,
                            request("cust-20", "orphan-2", now, fields, Map.of()));
            assertThat(shed.status()).as(shed.body()).isEqualTo(503);
            assertThat(JSON.readTree(shed.body()).path("code").asText()).isEqualTo("overloaded");
            assertThat(shed.headers()).containsKey("retry-after");
            assertThat(waiting.get(30, TimeUnit.SECONDS).status()).isEqualTo(504);
            // nothing has answered for longer than the gateway waits: it says so at once
            Awaitility.await("the gateway notices that no job answers")
                    .atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(300))
                    .until(
                            () -> {
                                Http r =
                                        post(
                                                predict,
                                                serviceKey,
                                                request(
                                                        "cust-20",
                                                        "orphan-" + System.nanoTime(),
                                                        now,
                                                        fields,
                                                        Map.of("timeout_ms", 100)));
                                return r.status() == 503
                                        && JSON.readTree(r.body())
                                                .path("code")
                                                .asText()
                                                .equals("unavailable");
                            });
            assertThat(curl("GET", url(orphan, "/v2/health/ready"), null, null).status())
                    .isEqualTo(503);
        }
    }

    // --- expected values, recomputed here

    /**
     * ONNX Runtime's score for the request, on the features {@link ReferenceFeatures} computes from
     * the entity's counted events with the request after them; an update-mode request is counted
     * from then on.
     */
    private synchronized double expected(
            String entity,
            String requestId,
            long time,
            Map<String, Object> fields,
            boolean readOnly)
            throws Exception {
        List<InputEvent> events =
                new ArrayList<>(counted.computeIfAbsent(entity, e -> new ArrayList<>()));
        InputEvent request = inputEvent(requestId, entity, time, fields);
        events.add(request);
        double[] features = ReferenceFeatures.compute(spec, events, Map.of()).get(requestId);
        if (!readOnly) {
            counted.get(entity).add(request);
        }
        return score(features);
    }

    private double score(double[] features) throws Exception {
        float[] row = new float[features.length];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) features[i];
        }
        return model.run(FloatBuffer.wrap(row), 1)[0][0];
    }

    // --- requests and events

    private static Map<String, Object> fields(Random random, double amount, String currency) {
        return event(random, amount, currency);
    }

    private static Map<String, Object> event(Random random, double amount, String currency) {
        List<Double> embedding = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            embedding.add((double) (float) random.nextGaussian());
        }
        Map<String, Object> customer = new LinkedHashMap<>();
        customer.put("segment", random.nextBoolean() ? "RETAIL" : "BUSINESS");
        customer.put("embedding", embedding);
        Map<String, Object> payment = new LinkedHashMap<>();
        payment.put("amount", amount);
        payment.put("currency", currency);
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("customer", customer);
        event.put("payment", payment);
        event.put("coupon", 1.0);
        return event;
    }

    @SuppressWarnings("unchecked")
    private static double amount(Map<String, Object> fields) {
        return (double) ((Map<String, Object>) fields.get("payment")).get("amount");
    }

    @SuppressWarnings("unchecked")
    private static String currency(Map<String, Object> fields) {
        return (String) ((Map<String, Object>) fields.get("payment")).get("currency");
    }

    @SuppressWarnings("unchecked")
    private static String segment(Map<String, Object> fields) {
        return (String) ((Map<String, Object>) fields.get("customer")).get("segment");
    }

    @SuppressWarnings("unchecked")
    private static List<Double> embedding(Map<String, Object> fields) {
        return (List<Double>) ((Map<String, Object>) fields.get("customer")).get("embedding");
    }

    /** The event {@link ReferenceFeatures} counts for these fields. */
    @SuppressWarnings("unchecked")
    private static InputEvent inputEvent(
            String id, String entity, long time, Map<String, Object> fields) {
        Map<String, Object> customer = (Map<String, Object>) fields.get("customer");
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("payment.amount", amount(fields));
        numeric.put("coupon", (Double) fields.get("coupon"));
        List<Float> vector = new ArrayList<>();
        embedding(fields).forEach(v -> vector.add(v.floatValue()));
        return new InputEvent(
                id,
                entity,
                time,
                "purchase",
                numeric,
                Map.of(
                        "payment.currency",
                        currency(fields),
                        "customer.segment",
                        (String) customer.get("segment")),
                Map.of("customer.embedding", vector));
    }

    private static String request(
            String entity,
            String requestId,
            long time,
            Map<String, Object> fields,
            Map<String, Object> options)
            throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("entity_id", entity);
        body.put("request_id", requestId);
        body.put("event_time", time);
        body.put("fields", fields);
        body.put("options", options);
        return JSON.writeValueAsString(body);
    }

    private static PredictRequest.Builder grpcRequest(
            String entity, String requestId, long time, Map<String, Object> fields, boolean read) {
        return PredictRequest.newBuilder()
                .setModel(MODEL)
                .setEntityId(entity)
                .setRequestId(requestId)
                .setEventTime(time)
                .setFields(struct(fields))
                .setOptions(PredictOptions.newBuilder().setMode(read ? "read" : "update"));
    }

    @SuppressWarnings("unchecked")
    private static Struct struct(Map<String, Object> map) {
        Struct.Builder s = Struct.newBuilder();
        map.forEach((k, v) -> s.putFields(k, value(v)));
        return s.build();
    }

    @SuppressWarnings("unchecked")
    private static Value value(Object v) {
        if (v instanceof Map<?, ?> m) {
            return Value.newBuilder().setStructValue(struct((Map<String, Object>) m)).build();
        }
        if (v instanceof List<?> l) {
            ListValue.Builder list = ListValue.newBuilder();
            l.forEach(x -> list.addValues(value(x)));
            return Value.newBuilder().setListValue(list).build();
        }
        if (v instanceof Number n) {
            return Value.newBuilder().setNumberValue(n.doubleValue()).build();
        }
        return Value.newBuilder().setStringValue(String.valueOf(v)).build();
    }

    private static Map<String, Object> tensor(
            String name, String datatype, List<Integer> shape, List<?> data) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("name", name);
        t.put("datatype", datatype);
        t.put("shape", shape);
        t.put("data", data);
        return t;
    }

    private static String token(RSAKey key, String scope, String audience, long expiresInSeconds)
            throws Exception {
        SignedJWT jwt =
                new SignedJWT(
                        new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                        new JWTClaimsSet.Builder()
                                .subject("checkout-service")
                                .audience(audience)
                                .claim("scope", scope)
                                .expirationTime(
                                        new Date(
                                                System.currentTimeMillis()
                                                        + expiresInSeconds * 1000))
                                .build());
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    private static CallCredentials bearer(String token) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(
                    RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata headers = new Metadata();
                headers.put(
                        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
                        "Bearer " + token);
                applier.apply(headers);
            }
        };
    }

    private JsonNode awaitAnswer(PredictGateway gateway, String requestId, String key)
            throws Exception {
        JsonNode[] answer = new JsonNode[1];
        Awaitility.await("the answer to " + requestId)
                .atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(200))
                .until(
                        () -> {
                            Http r =
                                    curl(
                                            "GET",
                                            url(gateway, "/v1/requests/" + requestId),
                                            key,
                                            null);
                            if (r.status() == 200) {
                                answer[0] = JSON.readTree(r.body());
                                return true;
                            }
                            assertThat(r.status()).as(r.body()).isEqualTo(202);
                            return false;
                        });
        return answer[0];
    }

    private static Set<String> predictionIds() throws Exception {
        Set<String> ids = new java.util.HashSet<>();
        for (Prediction p :
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(),
                        P + "-predictions",
                        Prediction::fromByteBuffer)) {
            ids.add(p.getEventId());
        }
        return ids;
    }

    // --- curl and processes

    private record Http(int status, Map<String, String> headers, String body) {}

    private record Result(int exit, String output) {}

    private static String url(PredictGateway gateway, String path) {
        return "http://127.0.0.1:" + gateway.port() + path;
    }

    /** One request with curl, as a user would make it. */
    private static Http curl(String method, String url, String token, String body)
            throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-sS", "-i", "-X", method));
        if (token != null) {
            command.addAll(List.of("-H", "Authorization: Bearer " + token));
        }
        if (body != null) {
            command.addAll(List.of("-H", "Content-Type: application/json", "--data-binary", "@-"));
        }
        command.addAll(List.of("--max-time", "60", url));
        Result result = run(command, body);
        assertThat(result.exit).as("curl: %s", result.output).isZero();
        String out = result.output;
        int split = out.indexOf("\r\n\r\n");
        String head = out.substring(0, split);
        String[] lines = head.split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(
                    lines[i].substring(0, colon).trim().toLowerCase(),
                    lines[i].substring(colon + 1).trim());
        }
        return new Http(status, headers, out.substring(split + 4));
    }

    private static Http post(String url, String token, String body) throws Exception {
        return curl("POST", url, token, body);
    }

    private static Result run(List<String> command, String stdin) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (stdin != null) {
            process.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        process.getOutputStream().close();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        process.getInputStream().transferTo(out);
        if (!process.waitFor(2, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new IllegalStateException("timed out: " + command);
        }
        return new Result(process.exitValue(), out.toString(StandardCharsets.UTF_8));
    }
}
