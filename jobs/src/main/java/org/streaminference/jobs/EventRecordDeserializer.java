package org.streaminference.jobs;

import org.streaminference.operators.validation.EventValidator;
import org.streaminference.operators.validation.ValidatedRecord;
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

    /**
     * @param traced whether tracing is on: each record's trace context header is kept, and its
     *     validation timed
     */
    public EventRecordDeserializer(EventValidator validator, boolean traced) {
        this.validator = validator;
        this.traced = traced;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ValidatedRecord> out) {
        long start = traced ? epochNanos() : 0;
        ByteBuffer value = record.value() == null ? null : ByteBuffer.wrap(record.value());
        EventValidator.Result result =
                validator.validate(
                        record.key() == null ? null : ByteBuffer.wrap(record.key()),
                        value,
                        record.timestamp(),
                        System.currentTimeMillis());
        ValidatedRecord validated =
                ValidatedRecord.of(
                        result,
                        value,
                        new SourcePosition(
                                record.topic(),
                                record.partition(),
                                record.offset(),
                                traced ? traceparent(record) : null));
        validated.validationStartNanos = start;
        out.collect(validated);
    }

    private static long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
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
