package org.streaminference.sinks;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.PredictReply;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class PredictRepliesTest {
    private static final KafkaRecordSerializationSchema.KafkaSinkContext THREE_PARTITIONS =
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
                    return new int[] {0, 1, 2};
                }
            };

    private static SourcePosition source(int partition, boolean readOnly) {
        return new SourcePosition(
                "predict-requests",
                partition,
                99L,
                null,
                new PredictRequest("r-" + partition, "fraud", readOnly, 10L, 20L, 15L));
    }

    @Test
    void anAnswerGoesToTheReplyPartitionOfTheRequestsNumber() throws Exception {
        Prediction p =
                Prediction.newBuilder()
                        .setEventId("r-1")
                        .setEntityId("c-1")
                        .setModelName("fraud")
                        .setModelVersion("3")
                        .setScore(0.25)
                        .setEventTime(1)
                        .setInferenceTime(2)
                        .setSource(source(1, false))
                        .build();
        var serializer = new PredictReplies.ReplySerializer("predict-replies");
        ProducerRecord<byte[], byte[]> record =
                serializer.serialize(PredictReplies.of(p), THREE_PARTITIONS, null);
        assertThat(record.topic()).isEqualTo("predict-replies");
        assertThat(record.partition()).isEqualTo(1);
        assertThat(new String(record.key(), StandardCharsets.UTF_8)).isEqualTo("r-1");
        PredictReply reply = PredictReply.getDecoder().decode(ByteBuffer.wrap(record.value()));
        assertThat(reply.getRequestOffset()).isEqualTo(99L);
        assertThat(reply.getPrediction().getScore()).isEqualTo(0.25);
        assertThat(reply.getReadTime()).isEqualTo(20L);
        assertThat(reply.getAnswerTime()).isPositive();

        // a request someone wrote to a partition the reply topic lacks: still a partition it has
        DeadLetter d =
                DeadLetters.of(
                        ByteBuffer.wrap(new byte[] {1}),
                        source(7, true),
                        ReasonCode.MALFORMED_JSON,
                        "not JSON");
        ProducerRecord<byte[], byte[]> refused =
                serializer.serialize(PredictReplies.of(d), THREE_PARTITIONS, null);
        assertThat(refused.partition()).isEqualTo(1);
        assertThat(PredictReplies.isReadOnlyRequest(d.getSource())).isTrue();
        assertThat(PredictReplies.isRequest(new SourcePosition("events", 0, 1L, null, null)))
                .isFalse();
        assertThat(List.of(PredictReplies.isRequest(null))).containsExactly(false);
    }
}
