package org.streaminference.sinks;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServedFeatures;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
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

    /**
     * The generated encoders must write exactly what Avro's generic writer writes: consumers decode
     * with the schema, whatever wrote the bytes. Every record type the result topics carry, with
     * every optional field both absent and present, lists empty and long, odd strings and numbers.
     */
    @Test
    void theGeneratedEncodersWriteTheSameBytesAsAvrosWriter() throws Exception {
        List<Class<? extends SpecificRecord>> written =
                List.of(Prediction.class, DeadLetter.class, ServedFeatures.class);
        Random random = new Random(20261207);
        for (Class<? extends SpecificRecord> type : written) {
            assertSameBytes(type, random);
        }
    }

    private static <T extends SpecificRecord> void assertSameBytes(Class<T> type, Random random)
            throws Exception {
        SpecificData model = SpecificData.getForClass(type);
        Schema schema = model.getSchema(type);
        BinaryMessageEncoder<T> avrosWriter = new BinaryMessageEncoder<>(model, schema);
        var sink = new KeyedAvroSerializationSchema<>("topic", type, t -> null);
        for (int i = 0; i < 300; i++) {
            @SuppressWarnings("unchecked")
            T record = (T) model.deepCopy(schema, randomValue(schema, random, 0));
            byte[] expected = avrosWriter.encode(record).array();
            byte[] actual = sink.serialize(record, null, null).value();
            assertThat(actual).as("%s #%d", type.getSimpleName(), i).isEqualTo(expected);
        }
    }

    /** A value of {@code schema} with every branch and size drawn at random (generic form). */
    private static Object randomValue(Schema schema, Random random, int depth) {
        switch (schema.getType()) {
            case RECORD:
                GenericData.Record record = new GenericData.Record(schema);
                for (Schema.Field field : schema.getFields()) {
                    record.put(field.pos(), randomValue(field.schema(), random, depth + 1));
                }
                return record;
            case UNION:
                List<Schema> branches = schema.getTypes();
                return randomValue(
                        branches.get(random.nextInt(branches.size())), random, depth + 1);
            case ARRAY:
                int size = depth > 4 ? 0 : random.nextInt(4) == 0 ? 0 : random.nextInt(12);
                List<Object> items = new ArrayList<>(size);
                for (int i = 0; i < size; i++) {
                    items.add(randomValue(schema.getElementType(), random, depth + 1));
                }
                return new GenericData.Array<>(schema, items);
            case MAP:
                Map<String, Object> map = new HashMap<>();
                for (int i = depth > 4 ? 0 : random.nextInt(5); i > 0; i--) {
                    map.put(
                            randomString(random),
                            randomValue(schema.getValueType(), random, depth + 1));
                }
                return map;
            case ENUM:
                List<String> symbols = schema.getEnumSymbols();
                return new GenericData.EnumSymbol(
                        schema, symbols.get(random.nextInt(symbols.size())));
            case STRING:
                return randomString(random);
            case BYTES:
                byte[] bytes = new byte[random.nextInt(40)];
                random.nextBytes(bytes);
                return ByteBuffer.wrap(bytes);
            case FIXED:
                byte[] fixed = new byte[schema.getFixedSize()];
                random.nextBytes(fixed);
                return new GenericData.Fixed(schema, fixed);
            case INT:
                return random.nextBoolean() ? random.nextInt() : random.nextInt(100) - 50;
            case LONG:
                return random.nextBoolean() ? random.nextLong() : (long) random.nextInt(1000);
            case FLOAT:
                float[] floats = {random.nextFloat(), Float.NaN, -0.0f, Float.MAX_VALUE, 1e-40f};
                return floats[random.nextInt(floats.length)];
            case DOUBLE:
                double[] doubles = {random.nextGaussian(), Double.NaN, -0.0, Double.MIN_VALUE};
                return doubles[random.nextInt(doubles.length)];
            case BOOLEAN:
                return random.nextBoolean();
            case NULL:
                return null;
            default:
                throw new IllegalArgumentException(schema.getType() + " is not generated");
        }
    }

    private static String randomString(Random random) {
        String[] pieces = {"", "user-9", "ü", "日本", "\uD83D\uDE00", "a\tb", "x".repeat(200)};
        StringBuilder s = new StringBuilder();
        for (int i = random.nextInt(3); i >= 0; i--) {
            s.append(pieces[random.nextInt(pieces.length)]);
        }
        return s.toString();
    }
}
