package org.streaminference.sinks;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.PredictReply;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.annotation.Internal;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * The answers to predict requests and the sink that sends them back: each to the reply topic's
 * partition of the number the request was read from, which only the gateway instance that wrote
 * that request partition reads. A record on the request topic from anyone else can therefore only
 * reach that instance, which drops a reply to a record it did not write; the job never writes to a
 * topic a request names. At least once and never transactional: an answer must be readable as soon
 * as it is written, not at the next checkpoint, and the gateway drops a duplicate.
 */
@Internal
public final class PredictReplies {
    private PredictReplies() {}

    /** Whether {@code source} is a predict request's (null: an event's). */
    public static boolean isRequest(SourcePosition source) {
        return source != null && source.getRequest() != null;
    }

    /** Whether the record's only destination is its caller (a read-only request). */
    public static boolean isReadOnlyRequest(SourcePosition source) {
        return isRequest(source) && source.getRequest().getReadOnly();
    }

    public static PredictReply of(Prediction prediction) {
        return reply(prediction.getSource(), prediction, null);
    }

    public static PredictReply of(DeadLetter deadLetter) {
        return reply(deadLetter.getSource(), null, deadLetter);
    }

    private static PredictReply reply(
            SourcePosition source, Prediction prediction, DeadLetter deadLetter) {
        PredictRequest request = source.getRequest();
        return PredictReply.newBuilder()
                .setRequestId(request.getRequestId())
                .setRequestPartition(source.getPartition())
                .setRequestOffset(source.getOffset())
                .setPrediction(prediction)
                .setDeadLetter(deadLetter)
                .setReadTime(request.getReadTime())
                .setRecordTime(request.getRecordTime())
                .setAnswerTime(System.currentTimeMillis())
                .build();
    }

    /**
     * The reply topic's sink: at least once, sent at once ({@code linger.ms} 0) whatever the result
     * topics' lingering.
     */
    public static KafkaSink<PredictReply> sink(KafkaSinkConfig options, String topic) {
        Properties properties = options.toProperties();
        properties.setProperty(ProducerConfig.LINGER_MS_CONFIG, "0");
        return KafkaSink.<PredictReply>builder()
                .setBootstrapServers(options.bootstrapServers())
                .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                .setKafkaProducerConfig(properties)
                .setRecordSerializer(new ReplySerializer(topic))
                .build();
    }

    /** Keyed by request id, in the partition of the request's number (modulo the topic's). */
    static final class ReplySerializer implements KafkaRecordSerializationSchema<PredictReply> {
        private static final long serialVersionUID = 1L;

        private final String topic;

        ReplySerializer(String topic) {
            this.topic = topic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(
                PredictReply reply, KafkaSinkContext context, Long timestamp) {
            int[] partitions = context.getPartitionsForTopic(topic);
            int partition =
                    partitions[Math.floorMod(reply.getRequestPartition(), partitions.length)];
            ByteBuffer encoded;
            try {
                encoded = PredictReply.getEncoder().encode(reply);
            } catch (IOException e) {
                throw new UncheckedIOException("a reply of the job's own records encodes", e);
            }
            byte[] value = new byte[encoded.remaining()];
            encoded.get(value);
            return new ProducerRecord<>(
                    topic,
                    partition,
                    null,
                    reply.getRequestId().getBytes(StandardCharsets.UTF_8),
                    value);
        }
    }
}
