package org.streaminference.sinks;

import org.streaminference.tracing.RecordTracing;

import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.util.function.SerializableFunction;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.utils.Utils;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Writes Avro records to one topic in single-object encoding (schema fingerprint in every message),
 * keyed by a string taken from the record, so a consumer can tell the schema of every message and
 * per-key order is kept. Records are stamped with the time they are written.
 */
@Internal
public final class KeyedAvroSerializationSchema<T extends SpecificRecord>
        implements KafkaRecordSerializationSchema<T> {
    private static final long serialVersionUID = 1L;

    private final String topic;
    private final Class<T> recordClass;
    private final SerializableFunction<T, String> keyOf;
    private final SerializableFunction<T, String> traceOf;
    private final SerializableFunction<T, String> partitionKeyOf;
    private transient BinaryMessageEncoder<T> encoder;

    /**
     * @param keyOf the Kafka key of a record; null for no key
     */
    public KeyedAvroSerializationSchema(
            String topic, Class<T> recordClass, SerializableFunction<T, String> keyOf) {
        this(topic, recordClass, keyOf, null);
    }

    /**
     * @param traceOf the W3C trace context a record continues, written as its Kafka header {@code
     *     traceparent} (null, or a null result: no header)
     */
    public KeyedAvroSerializationSchema(
            String topic,
            Class<T> recordClass,
            SerializableFunction<T, String> keyOf,
            SerializableFunction<T, String> traceOf) {
        this(topic, recordClass, keyOf, traceOf, null);
    }

    /**
     * @param partitionKeyOf the string whose hash picks the partition, as Kafka's default
     *     partitioner would pick it for a record with that key (null: the key's); records keyed by
     *     (entity, model) then land in their entity's partition, in order with the entity's other
     *     records
     */
    public KeyedAvroSerializationSchema(
            String topic,
            Class<T> recordClass,
            SerializableFunction<T, String> keyOf,
            SerializableFunction<T, String> traceOf,
            SerializableFunction<T, String> partitionKeyOf) {
        this.partitionKeyOf = partitionKeyOf;
        this.traceOf = traceOf;
        this.topic = topic;
        this.recordClass = recordClass;
        this.keyOf = keyOf;
    }

    @Override
    public void open(
            SerializationSchema.InitializationContext context, KafkaSinkContext sinkContext) {
        encoder();
    }

    private BinaryMessageEncoder<T> encoder() {
        if (encoder == null) {
            encoder = encoderOf(recordClass);
        }
        return encoder;
    }

    /**
     * The single-object encoder of {@code recordClass} through the encoder Avro generated for it
     * ({@code customEncode}) rather than Avro's generic writer, which looks up every field and
     * resolves every union by name: 0.35 against 0.57 µs for a Crayfish prediction in a tight loop
     * ({@code bench/run.sh encoding}), on the task thread that also enriches and infers. The bytes
     * are the same. The model is a copy, so the class's shared one, which readers use too, keeps
     * Avro's default.
     */
    public static <T extends SpecificRecord> BinaryMessageEncoder<T> encoderOf(
            Class<T> recordClass) {
        SpecificData shared = SpecificData.getForClass(recordClass);
        SpecificData model = new SpecificData(recordClass.getClassLoader());
        shared.getConversions().forEach(model::addLogicalTypeConversion);
        model.setCustomCoders(true);
        return new BinaryMessageEncoder<>(model, shared.getSchema(recordClass));
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(
            T element, KafkaSinkContext context, Long timestamp) {
        String key = keyOf.apply(element);
        byte[] value;
        try {
            value = encoder().encode(element).array();
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + recordClass.getSimpleName(), e);
        }
        // No record timestamp: the broker's producer time, not the event time the stream carries.
        // Event times can be
        // months old (backfills, replays); as record timestamps they would put fresh output past
        // the topic's
        // retention at once, and the broker would delete it. The event time is in the record
        // itself.
        String trace = traceOf == null ? null : traceOf.apply(element);
        Iterable<Header> headers =
                trace == null
                        ? null
                        : List.of(
                                new RecordHeader(
                                        RecordTracing.HEADER,
                                        trace.getBytes(StandardCharsets.US_ASCII)));
        Integer partition = null;
        if (partitionKeyOf != null) {
            String by = partitionKeyOf.apply(element);
            int[] partitions = context.getPartitionsForTopic(topic);
            if (by != null && partitions.length > 0) {
                byte[] bytes = by.getBytes(StandardCharsets.UTF_8);
                partition = partitions[Utils.toPositive(Utils.murmur2(bytes)) % partitions.length];
            }
        }
        return new ProducerRecord<>(
                topic,
                partition,
                null,
                key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                value,
                headers);
    }
}
