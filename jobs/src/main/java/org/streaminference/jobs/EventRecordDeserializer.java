package org.streaminference.jobs;

import org.streaminference.operators.validation.EventValidator;
import org.streaminference.operators.validation.ValidatedRecord;
import org.streaminference.schemas.PredictRequestHeaders;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Decodes and validates each Kafka record as the source reads it, so that the source takes each
 * event's own time for its watermarks, partition by partition ({@link EventTime}). A record that
 * does not decode becomes a dead letter carried on in the stream, never an exception inside the
 * source (which would fail the job).
 */
@Internal
public class EventRecordDeserializer implements KafkaRecordDeserializationSchema<ValidatedRecord> {
    private static final long serialVersionUID = 1L;

    private final EventValidator validator;
    private final boolean traced;

    /** Whether the records are predict requests, which carry their headers on in the source. */
    private final boolean requests;

    /**
     * @param traced whether tracing is on: each record's trace context header is kept, and its
     *     validation timed
     */
    public EventRecordDeserializer(EventValidator validator, boolean traced) {
        this(validator, traced, false);
    }

    private EventRecordDeserializer(EventValidator validator, boolean traced, boolean requests) {
        this.validator = validator;
        this.traced = traced;
        this.requests = requests;
    }

    /**
     * For the predict-request topic: each record's {@link PredictRequestHeaders} go on with it in
     * its source position; a record without valid ones is a dead letter, whatever its value.
     */
    public static EventRecordDeserializer ofRequests(EventValidator validator, boolean traced) {
        return new EventRecordDeserializer(validator, traced, true);
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ValidatedRecord> out) {
        long start = traced ? epochNanos() : 0;
        ByteBuffer value = record.value() == null ? null : ByteBuffer.wrap(record.value());
        long now = System.currentTimeMillis();
        SourcePosition source =
                new SourcePosition(
                        record.topic(),
                        record.partition(),
                        record.offset(),
                        traced ? traceparent(record) : null,
                        null);
        EventValidator.Result result;
        if (requests) {
            try {
                source.setRequest(
                        PredictRequestHeaders.read(
                                name -> header(record, name), now, record.timestamp()));
                result =
                        validator.validate(
                                record.key() == null ? null : ByteBuffer.wrap(record.key()),
                                value,
                                record.timestamp(),
                                now);
                if (result.isValid()
                        && !result.event().eventId.equals(source.getRequest().getRequestId())) {
                    result =
                            EventValidator.Result.invalid(
                                    ReasonCode.INVALID_FIELD,
                                    "the request's request_id differs from its header "
                                            + PredictRequestHeaders.REQUEST_ID);
                }
            } catch (IllegalArgumentException e) {
                result = EventValidator.Result.invalid(ReasonCode.INVALID_FIELD, e.getMessage());
            }
        } else {
            result =
                    validator.validate(
                            record.key() == null ? null : ByteBuffer.wrap(record.key()),
                            value,
                            record.timestamp(),
                            now);
        }
        ValidatedRecord validated = ValidatedRecord.of(result, value, source);
        validated.validationStartNanos = start;
        out.collect(validated);
    }

    private static long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    private static byte[] header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null ? null : header.value();
    }

    /** The record's trace context header, if it has one that may be one (ASCII, not too long). */
    private static String traceparent(ConsumerRecord<byte[], byte[]> record) {
        Header header = record.headers().lastHeader(RecordTracing.HEADER);
        if (header == null
                || header.value() == null
                || header.value().length > RecordTracing.MAX_HEADER_LENGTH) {
            return null;
        }
        for (byte b : header.value()) {
            if (b < 0x20 || b > 0x7e) {
                return null;
            }
        }
        return new String(header.value(), StandardCharsets.US_ASCII);
    }

    @Override
    public TypeInformation<ValidatedRecord> getProducedType() {
        return TypeInformation.of(ValidatedRecord.class);
    }
}
