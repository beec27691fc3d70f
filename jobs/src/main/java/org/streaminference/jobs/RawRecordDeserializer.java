package org.streaminference.jobs;

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

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<RawRecord> out) {
        out.collect(RawRecord.newBuilder()
                .setKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setValue(record.value() == null ? null : ByteBuffer.wrap(record.value()))
                .setSource(new SourcePosition(record.topic(), record.partition(), record.offset()))
                .setTimestamp(record.timestamp())
                .build());
    }

    @Override
    public TypeInformation<RawRecord> getProducedType() {
        return new AvroTypeInfo<>(RawRecord.class);
    }
}
