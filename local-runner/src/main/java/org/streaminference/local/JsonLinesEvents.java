package org.streaminference.local;

import org.streaminference.schemas.InputEvent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a user's events for the local run from a file of JSON lines, one event per line, in the
 * fields of {@code InputEvent}:
 *
 * <pre>{@code
 * {"eventId": "e-1", "entityId": "user-7", "eventType": "review", "eventTime": 1764460800000,
 *  "numericFields": {"amount": 12.5}, "categoricalFields": {"text": "Great service"},
 *  "vectorFields": {"pixels": [0.0, 0.5, 1.0]}}
 * }</pre>
 *
 * {@code eventId} defaults to the line number, {@code eventTime} to now, {@code eventType} to
 * {@code event}. A line that is not such an event is reported with its number and not sent.
 */
@Internal
public final class JsonLinesEvents {
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** One line as written; every field optional but the entity. */
    record Line(
            String eventId,
            String entityId,
            String eventType,
            Long eventTime,
            Map<String, Double> numericFields,
            Map<String, String> categoricalFields,
            Map<String, List<Float>> vectorFields) {}

    /** The events read, and each line that was not one, as "line N: reason". */
    public record Read(List<InputEvent> events, List<String> problems) {}

    private JsonLinesEvents() {}

    public static Read read(Path file, long now) throws IOException {
        List<InputEvent> events = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String text;
            int number = 0;
            while ((text = in.readLine()) != null) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                try {
                    Line line = JSON.readValue(text, Line.class);
                    if (line.entityId() == null || line.entityId().isBlank()) {
                        throw new IllegalArgumentException("entityId is missing");
                    }
                    events.add(
                            InputEvent.newBuilder()
                                    .setEventId(
                                            line.eventId() != null
                                                    ? line.eventId()
                                                    : "line-" + number)
                                    .setEntityId(line.entityId())
                                    .setEventType(
                                            line.eventType() != null ? line.eventType() : "event")
                                    .setEventTime(line.eventTime() != null ? line.eventTime() : now)
                                    .setNumericFields(
                                            line.numericFields() != null
                                                    ? line.numericFields()
                                                    : Map.of())
                                    .setCategoricalFields(
                                            line.categoricalFields() != null
                                                    ? line.categoricalFields()
                                                    : Map.of())
                                    .setVectorFields(
                                            line.vectorFields() != null
                                                    ? line.vectorFields()
                                                    : Map.of())
                                    .build());
                } catch (IOException | IllegalArgumentException e) {
                    String reason =
                            e instanceof JsonProcessingException j
                                    ? j.getOriginalMessage()
                                    : e.getMessage();
                    problems.add("line " + number + ": " + reason);
                }
            }
        }
        return new Read(events, problems);
    }

    /**
     * Produces {@code events} to {@code topic}, keyed by entity, in Avro single-object encoding,
     * and waits for them.
     */
    public static void produce(String bootstrap, String topic, List<InputEvent> events)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ProducerConfig.ACKS_CONFIG,
                                "all"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            for (InputEvent event : events) {
                ByteBuffer value = event.toByteBuffer();
                byte[] bytes = new byte[value.remaining()];
                value.get(bytes);
                producer.send(
                        new ProducerRecord<>(
                                topic,
                                event.getEntityId().getBytes(StandardCharsets.UTF_8),
                                bytes));
            }
            producer.flush();
        }
    }
}
