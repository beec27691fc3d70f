package org.streaminference.sinks;

import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.util.function.SerializableFunction;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;

/** Kafka sinks for the job's output topics: predictions and dead letters, both keyed by entity id. */
public final class ResultTopicSinks {
    private ResultTopicSinks() {}

    public static KafkaSink<Prediction> predictions(KafkaSinkOptions options, String topic) {
        return sink(options, topic, "predictions", Prediction.class, p -> p.getEntityId());
    }

    public static KafkaSink<DeadLetter> deadLetters(KafkaSinkOptions options, String topic) {
        return sink(options, topic, "dead-letters", DeadLetter.class, d -> d.getEntityId());
    }

    private static <T extends SpecificRecord> KafkaSink<T> sink(
            KafkaSinkOptions options,
            String topic,
            String name,
            Class<T> recordClass,
            SerializableFunction<T, String> keyOf) {
        return KafkaSink.<T>builder()
                .setBootstrapServers(options.bootstrapServers())
                .setDeliveryGuarantee(options.deliveryGuarantee())
                .setTransactionalIdPrefix(options.transactionalIdPrefix() + "-" + name)
                .setKafkaProducerConfig(options.toProperties())
                .setRecordSerializer(new KeyedAvroSerializationSchema<>(topic, recordClass, keyOf))
                .build();
    }
}
