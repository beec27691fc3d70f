package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.tracing.InMemorySpanExporterProvider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tracing through the whole job, with the OpenTelemetry SDK's in-memory exporter: a producer's
 * sampled trace continues through a span per record for validation and for features and a span per
 * inference batch linked to its records, and into the prediction's Kafka header; an unsampled trace
 * passes through untouched and records nothing; an event without a trace context starts one only at
 * the sample ratio; a bad record's span says why it failed.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TracingITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = "iris-traced";

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @TempDir static Path dir;

    /** A producer's span: its trace id and span id, sampled or not. */
    private record ProducerSpan(String traceId, String spanId, boolean sampled) {
        String header() {
            return "00-" + traceId + "-" + spanId + "-" + (sampled ? "01" : "00");
        }
    }

    @Test
    void aProducersTraceContinuesThroughTheJobToThePredictionsHeader() throws Exception {
        EmbeddedKafkaBroker kafka = SERVICES.kafka();
        kafka.createTopics(1, "model-control", "model-events");
        kafka.createTopics(2, "events", "predictions", "dead-letters", "predictions-shadow");
        Path model = publish(kafka);

        Random random = new Random(5);
        HexFormat hex = HexFormat.of();
        Map<String, ProducerSpan> producerSpans = new HashMap<>();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        JsonNode rows = expectedInputs();
        for (int i = 0; i < 120; i++) {
            String id = "e-" + i;
            JsonNode row = rows.get(i % rows.size());
            List<Float> x = new ArrayList<>();
            row.forEach(v -> x.add((float) v.asDouble()));
            if (i % 40 == 8) {
                x.remove(3); // three values where the model takes four: a dead letter of the model,
                // which reads them
            }
            InputEvent event =
                    InputEvent.newBuilder()
                            .setEventId(id)
                            .setEntityId("plant-" + (i % 9))
                            .setEventTime(1_760_000_000_000L + i)
                            .setEventType("iris")
                            .setNumericFields(Map.of())
                            .setCategoricalFields(Map.of())
                            .setVectorFields(Map.of("x", x))
                            .build();
            byte[] value = bytes(event.toByteBuffer());
            if (i % 40 == 14) {
                value =
                        "not an event"
                                .getBytes(StandardCharsets.UTF_8); // a dead letter of validation
            }
            List<Header> headers = new ArrayList<>();
            if (i % 3 != 2) { // two in three carry a context, half of them sampled
                byte[] trace = new byte[16];
                byte[] span = new byte[8];
                random.nextBytes(trace);
                random.nextBytes(span);
                ProducerSpan producer =
                        new ProducerSpan(hex.formatHex(trace), hex.formatHex(span), i % 2 == 0);
                producerSpans.put(id, producer);
                headers.add(
                        new RecordHeader(
                                "traceparent",
                                producer.header().getBytes(StandardCharsets.US_ASCII)));
            }
            records.add(
                    new ProducerRecord<>(
                            "events",
                            null,
                            null,
                            event.getEntityId().getBytes(StandardCharsets.UTF_8),
                            value,
                            headers));
        }
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                kafka.bootstrapServers(),
                                ProducerConfig.ACKS_CONFIG,
                                "all"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            for (ProducerRecord<byte[], byte[]> r : records) {
                producer.send(r);
            }
            producer.flush();
        }

        InMemorySpanExporterProvider.SPANS.reset();
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.GROUP_ID, "tracing");
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        options.set(PipelineOptions.MODEL_URI, List.of(model.toUri().toString()));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(
                PipelineOptions.FEATURES_SPEC,
                Files.writeString(
                                dir.resolve("iris.yaml"),
                                """
                name: iris
                version: 1
                features:
                  - {name: x, kind: vector, field: x, width: 4}
                """)
                        .toString());
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        // new traces all but never: only the producers' sampled ones are traced
        options.set(MonitoringOptions.TRACING_SAMPLE_RATIO, 1e-9);
        options.set(MonitoringOptions.TRACING_EXPORTER, InMemorySpanExporterProvider.NAME);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        env.execute("tracing");

        Map<String, ConsumerRecord<byte[], byte[]>> predictions = read(kafka, "predictions", true);
        Map<String, ConsumerRecord<byte[], byte[]>> deadLetters =
                read(kafka, "dead-letters", false);
        assertThat(predictions.size() + deadLetters.size()).isEqualTo(records.size());
        List<SpanData> spans = InMemorySpanExporterProvider.SPANS.getFinishedSpanItems();
        Map<String, List<SpanData>> byTrace =
                spans.stream().collect(Collectors.groupingBy(SpanData::getTraceId));

        int continued = 0;
        int passedThrough = 0;
        for (Map.Entry<String, ConsumerRecord<byte[], byte[]>> e : predictions.entrySet()) {
            ProducerSpan producer = producerSpans.get(e.getKey());
            Header header = e.getValue().headers().lastHeader("traceparent");
            Prediction prediction =
                    Prediction.fromByteBuffer(ByteBuffer.wrap(e.getValue().value()));
            if (producer == null) {
                assertThat(header).as("%s had no context and was not sampled", e.getKey()).isNull();
                continue;
            }
            String sent = new String(header.value(), StandardCharsets.US_ASCII);
            assertThat(prediction.getTraceparent()).isEqualTo(sent);
            if (!producer.sampled()) {
                assertThat(sent)
                        .as("an unsampled context passes through")
                        .isEqualTo(producer.header());
                assertThat(byTrace)
                        .as("nothing recorded for an unsampled trace")
                        .doesNotContainKey(producer.traceId());
                passedThrough++;
                continue;
            }
            List<SpanData> trace = byTrace.get(producer.traceId());
            SpanData validate = only(trace, "validate");
            SpanData features = only(trace, "features");
            assertThat(validate.getParentSpanId()).isEqualTo(producer.spanId());
            assertThat(validate.getKind()).isEqualTo(SpanKind.CONSUMER);
            assertThat(validate.getAttributes().asMap().toString())
                    .contains("messaging.destination.name=events");
            assertThat(features.getParentSpanId()).isEqualTo(validate.getSpanId());
            assertThat(sent)
                    .as("the prediction continues the features span")
                    .isEqualTo("00-" + producer.traceId() + "-" + features.getSpanId() + "-01");
            assertThat(spans)
                    .as("a batch span links to %s", e.getKey())
                    .anySatisfy(
                            s -> {
                                assertThat(s.getName()).isEqualTo("inference");
                                assertThat(s.getLinks())
                                        .extracting(LinkData::getSpanContext)
                                        .anySatisfy(
                                                l ->
                                                        assertThat(l.getSpanId())
                                                                .isEqualTo(features.getSpanId()));
                            });
            continued++;
        }
        assertThat(continued).isGreaterThan(20);
        assertThat(passedThrough).isGreaterThan(20);

        List<String> failedStages = new ArrayList<>();
        for (Map.Entry<String, ConsumerRecord<byte[], byte[]>> e : deadLetters.entrySet()) {
            DeadLetter letter = DeadLetter.fromByteBuffer(ByteBuffer.wrap(e.getValue().value()));
            ProducerSpan producer =
                    producerSpans.values().stream()
                            .filter(
                                    p ->
                                            letter.getSource().getTraceparent() != null
                                                    && letter.getSource()
                                                            .getTraceparent()
                                                            .contains(p.traceId()))
                            .findFirst()
                            .orElse(null);
            if (producer == null || !producer.sampled()) {
                continue;
            }
            SpanData failed =
                    byTrace.get(producer.traceId()).stream()
                            .filter(s -> s.getStatus().getStatusCode() == StatusCode.ERROR)
                            .findFirst()
                            .orElseThrow();
            assertThat(failed.getStatus().getDescription())
                    .isEqualTo(letter.getReasonCode().name());
            assertThat(e.getValue().headers().lastHeader("traceparent"))
                    .as("the dead letter continues it")
                    .isNotNull();
            failedStages.add(failed.getName() + " " + letter.getReasonCode());
        }
        assertThat(failedStages)
                .contains("inference INVALID_FIELD")
                .anyMatch(s -> s.startsWith("validate "));
        Set<String> names = spans.stream().map(SpanData::getName).collect(Collectors.toSet());
        assertThat(names).containsExactlyInAnyOrder("validate", "features", "inference");
        System.out.printf(
                "TRACING: %d spans (%s); %d producer traces continued to their prediction, %d unsampled"
                        + " passed through, failed spans %s%n",
                spans.size(),
                spans.stream()
                        .collect(Collectors.groupingBy(SpanData::getName, Collectors.counting())),
                continued,
                passedThrough,
                failedStages);
    }

    private static SpanData only(List<SpanData> trace, String name) {
        assertThat(trace).as("the trace's spans").isNotNull();
        List<SpanData> named = trace.stream().filter(s -> s.getName().equals(name)).toList();
        assertThat(named).as("one %s span", name).hasSize(1);
        return named.get(0);
    }

    /**
     * Every record of {@code topic} read_committed, by the prediction's event id or the dead
     * letter's offset.
     */
    private static Map<String, ConsumerRecord<byte[], byte[]>> read(
            EmbeddedKafkaBroker kafka, String topic, boolean predictions) throws Exception {
        Map<String, ConsumerRecord<byte[], byte[]>> out = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r :
                PipelineTestSupport.readCommittedRecords(kafka.bootstrapServers(), topic)) {
            String id =
                    predictions
                            ? Prediction.fromByteBuffer(ByteBuffer.wrap(r.value())).getEventId()
                            : DeadLetter.fromByteBuffer(ByteBuffer.wrap(r.value()))
                                            .getSource()
                                            .getOffset()
                                    + "@"
                                    + r.partition();
            out.put(id, r);
        }
        return out;
    }

    private static Path publish(EmbeddedKafkaBroker kafka) throws Exception {
        Path export = Files.createDirectories(dir.resolve("export"));
        try (InputStream in = PipelineTestSupport.resource("/exports/gbt-classifier/model.onnx")) {
            Files.copy(in, export.resolve("model.onnx"));
        }
        PipelineTestSupport.models(
                "publish",
                "--name",
                MODEL,
                "--version",
                "1",
                "--file",
                export.resolve("model.onnx").toString(),
                "--store",
                dir.resolve("store").toUri().toString(),
                "--bootstrap-servers",
                kafka.bootstrapServers(),
                "--wait",
                "PT0S");
        return dir.resolve("store").resolve(MODEL).resolve("1");
    }

    private static JsonNode expectedInputs() throws Exception {
        try (InputStream in =
                PipelineTestSupport.resource("/exports/gbt-classifier/expected.json")) {
            return JSON.readTree(in).get("inputs");
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }
}
