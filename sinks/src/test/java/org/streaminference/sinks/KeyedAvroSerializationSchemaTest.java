package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class KeyedAvroSerializationSchemaTest {

    @Test
    void keysByEntityAndWritesSingleObjectEncoding() throws Exception {
        Prediction p =
                Prediction.newBuilder()
                        .setEventId("e")
                        .setEntityId("user-9")
                        .setModelName("m")
                        .setModelVersion("1")
                        .setScore(0.5)
                        .setEventTime(1)
                        .setInferenceTime(2)
                        .build();
        var schema =
                new KeyedAvroSerializationSchema<>(
                        "predictions", Prediction.class, Prediction::getEntityId);

        ProducerRecord<byte[], byte[]> record = schema.serialize(p, null, 1_760_000_000_000L);

        assertThat(record.topic()).isEqualTo("predictions");
        assertThat(new String(record.key(), StandardCharsets.UTF_8)).isEqualTo("user-9");
        assertThat(record.timestamp())
                .as("the producer's time, not the stream's event time")
                .isNull();
        assertThat(Prediction.fromByteBuffer(ByteBuffer.wrap(record.value()))).isEqualTo(p);
    }

    @Test
    void predictionsAreKeyedByEntityAndModelInTheirEntitysPartition() {
        var sink =
                new KafkaRecordSerializationSchema.KafkaSinkContext() {
                    @Override
                    public int getParallelInstanceId() {
                        return 0;
                    }

                    @Override
                    public int getNumberOfParallelInstances() {
                        return 1;
                    }

                    @Override
                    public int[] getPartitionsForTopic(String topic) {
                        return new int[] {0, 1, 2, 3, 4, 5};
                    }
                };
        var schema =
                new KeyedAvroSerializationSchema<>(
                        "predictions",
                        Prediction.class,
                        ResultTopicSinks::predictionKey,
                        null,
                        Prediction::getEntityId);
        Set<Integer> partitions = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            String entity = "user-" + i;
            int expected =
                    BuiltInPartitioner.partitionForKey(entity.getBytes(StandardCharsets.UTF_8), 6);
            for (String model : new String[] {"fraud", "churn"}) {
                Prediction p =
                        Prediction.newBuilder()
                                .setEventId("e")
                                .setEntityId(entity)
                                .setModelName(model)
                                .setModelVersion("1")
                                .setScore(0.5)
                                .setEventTime(1)
                                .setInferenceTime(2)
                                .build();
                ProducerRecord<byte[], byte[]> record = schema.serialize(p, sink, null);
                assertThat(new String(record.key(), StandardCharsets.UTF_8))
                        .isEqualTo(entity + "/" + model);
                assertThat(record.partition())
                        .as("the partition Kafka picks for key %s", entity)
                        .isEqualTo(expected);
                partitions.add(record.partition());
            }
        }
        assertThat(partitions).as("entities spread over the partitions").hasSizeGreaterThan(3);
    }
}
