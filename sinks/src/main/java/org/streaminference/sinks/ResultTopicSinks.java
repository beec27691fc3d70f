package org.streaminference.sinks;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServedFeatures;

import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.util.function.SerializableFunction;

/**
 * Kafka sinks for the job's output topics: predictions and shadow predictions keyed by entity and
 * model (in their entity's partition), served features and dead letters keyed by entity id, model
 * events.
 */
@Internal
public final class ResultTopicSinks {
    private ResultTopicSinks() {}

    /**
     * The Kafka key of a prediction: {@code <entityId>/<model>}, one key per entity and model (so a
     * compacted topic keeps each model's latest prediction of each entity); model names cannot hold
     * '/', so the key splits at its last one. The record goes to the partition its entity id alone
     * would pick.
     */
    public static String predictionKey(Prediction p) {
        return p.getEntityId() + "/" + p.getModelName();
    }

    public static KafkaSink<Prediction> predictions(KafkaSinkConfig options, String topic) {
        return sink(
                options,
                topic,
                "predictions",
                Prediction.class,
                ResultTopicSinks::predictionKey,
                Prediction::getTraceparent,
                Prediction::getEntityId);
    }

    public static KafkaSink<DeadLetter> deadLetters(KafkaSinkConfig options, String topic) {
        return sink(
                options,
                topic,
                "dead-letters",
                DeadLetter.class,
                d -> d.getEntityId(),
                d -> d.getSource() == null ? null : d.getSource().getTraceparent(),
                null);
    }

    /**
     * Predictions of a shadow model version: the same records as the predictions, on their own
     * topic.
     */
    public static KafkaSink<Prediction> shadowPredictions(KafkaSinkConfig options, String topic) {
        return sink(
                options,
                topic,
                "shadow-predictions",
                Prediction.class,
                ResultTopicSinks::predictionKey,
                Prediction::getTraceparent,
                Prediction::getEntityId);
    }

    /**
     * The feature vector behind each prediction, keyed by entity id (ServedFeatures, single-object
     * encoding).
     */
    public static KafkaSink<ServedFeatures> servedFeatures(KafkaSinkConfig options, String topic) {
        return sink(
                options,
                topic,
                "served-features",
                ServedFeatures.class,
                f -> f.getEntityId(),
                null,
                null);
    }

    /**
     * Model events (JSON), at least once whatever the job's guarantee: they report what the job did
     * and must be readable at once, not after the next checkpoint's commit.
     */
    public static KafkaSink<ModelEvent> modelEvents(
            KafkaSinkConfig options, String topic, SerializationSchema<ModelEvent> json) {
        return KafkaSink.<ModelEvent>builder()
                .setBootstrapServers(options.bootstrapServers())
                .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                .setKafkaProducerConfig(options.toProperties())
                .setRecordSerializer(
                        KafkaRecordSerializationSchema.<ModelEvent>builder()
                                .setTopic(topic)
                                .setValueSerializationSchema(json)
                                .build())
                .build();
    }

    private static <T extends SpecificRecord> KafkaSink<T> sink(
            KafkaSinkConfig options,
            String topic,
            String name,
            Class<T> recordClass,
            SerializableFunction<T, String> keyOf,
            SerializableFunction<T, String> traceOf,
            SerializableFunction<T, String> partitionKeyOf) {
        return KafkaSink.<T>builder()
                .setBootstrapServers(options.bootstrapServers())
                .setDeliveryGuarantee(options.deliveryGuarantee())
                .setTransactionalIdPrefix(options.transactionalIdPrefix() + "-" + name)
                .setKafkaProducerConfig(options.toProperties())
                .setRecordSerializer(
                        new KeyedAvroSerializationSchema<>(
                                topic, recordClass, keyOf, traceOf, partitionKeyOf))
                .build();
    }
}
