package org.streaminference.jobs;

import org.apache.kafka.common.header.Header;
import org.streaminference.schemas.tracing.RecordTracing;
import java.nio.charset.StandardCharsets;

import org.apache.flink.annotation.Internal;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.streaminference.schemas.RawRecord;
import org.streaminference.schemas.SourcePosition;

import java.nio.ByteBuffer;

/**
 * Keeps each Kafka record as raw bytes with its position. Decoding happens downstream, where a record that does
 * not decode becomes a dead letter instead of an exception inside the source (which would fail the job).
 */
@Internal
public class RawRecordDeserializer implements KafkaRecordDeserializationSchema<RawRecord> {
    private static final long serialVersionUID = 1L;

    private final boolean readTraceContext;

    public RawRecordDeserializer() {
        this(false);
    }

    /** @param readTraceContext whether to keep the record's {@code traceparent} header (tracing is on) */
    public RawRecordDeserializer(boolean readTraceContext) {
        this.readTraceContext = readTraceContext;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<RawRecord> out) {
        out.collect(RawRecord.newBuilder()
                .setKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setValue(record.value() == null ? null : ByteBuffer.wrap(record.value()))
                .setSource(new SourcePosition(record.topic(), record.partition(), record.offset(),
                        readTraceContext ? traceparent(record) : null))
                .setTimestamp(record.timestamp())
                .build());
    }

    /** The record's trace context header, if it has one that may be one (ASCII, not too long). */
    private static String traceparent(ConsumerRecord<byte[], byte[]> record) {
        Header header = record.headers().lastHeader(RecordTracing.HEADER);
        if (header == null || header.value() == null || header.value().length > RecordTracing.MAX_HEADER_LENGTH) {
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
    public TypeInformation<RawRecord> getProducedType() {
        return new AvroTypeInfo<>(RawRecord.class);
    }
}
