package org.streaminference.jobs;

import org.streaminference.model.control.CommandVerifier;
import org.streaminference.schemas.ControlMessage;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Decodes and verifies control-topic records once, at the source, into commands or the reasons they
 * are refused (unsigned, a wrong signature, expired, malformed: see {@link CommandVerifier}); the
 * inference subtasks answer both, so a refused command is reported on the model-events topic
 * instead of failing the source. Tombstones are skipped.
 */
@Internal
public class ModelCommandDeserializer implements KafkaRecordDeserializationSchema<ControlMessage> {
    private static final long serialVersionUID = 1L;

    private final CommandVerifier verifier;

    public ModelCommandDeserializer(CommandVerifier verifier) {
        this.verifier = verifier;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ControlMessage> out) {
        if (record.value() != null) {
            out.collect(verifier.decode(record.value(), System.currentTimeMillis()));
        }
    }

    @Override
    public TypeInformation<ControlMessage> getProducedType() {
        return new AvroTypeInfo<>(ControlMessage.class);
    }
}
