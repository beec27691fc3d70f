package org.streaminference.jobs;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.streaminference.model.control.ControlMessages;
import org.streaminference.schemas.ControlMessage;

/**
 * Decodes control-topic records once, at the source, into commands or the reasons they are not commands; the
 * inference subtasks answer both, so a malformed command is reported on the model-events topic instead of failing
 * the source. Tombstones are skipped.
 */
@Internal
public class ModelCommandDeserializer implements KafkaRecordDeserializationSchema<ControlMessage> {
    private static final long serialVersionUID = 1L;

    private final int maxCommandBytes;

    /** @param maxCommandBytes larger records are refused unread ({@code model.control.max-command-size}) */
    public ModelCommandDeserializer(int maxCommandBytes) {
        this.maxCommandBytes = maxCommandBytes;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ControlMessage> out) {
        if (record.value() != null) {
            out.collect(ControlMessages.decode(record.value(), maxCommandBytes));
        }
    }

    @Override
    public TypeInformation<ControlMessage> getProducedType() {
        return new AvroTypeInfo<>(ControlMessage.class);
    }
}
