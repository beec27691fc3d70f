package org.streaminference.sinks;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.streaminference.schemas.Prediction;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class KeyedAvroSerializationSchemaTest {

    @Test
    void keysByEntityAndWritesSingleObjectEncoding() throws Exception {
        Prediction p = Prediction.newBuilder().setEventId("e").setEntityId("user-9").setModelName("m")
                .setModelVersion("1").setScore(0.5).setEventTime(1).setInferenceTime(2).build();
        var schema = new KeyedAvroSerializationSchema<>("predictions", Prediction.class, Prediction::getEntityId);

        ProducerRecord<byte[], byte[]> record = schema.serialize(p, null, 1_760_000_000_000L);

        assertThat(record.topic()).isEqualTo("predictions");
        assertThat(new String(record.key(), StandardCharsets.UTF_8)).isEqualTo("user-9");
        assertThat(record.timestamp()).as("the producer's time, not the stream's event time").isNull();
        assertThat(Prediction.fromByteBuffer(ByteBuffer.wrap(record.value()))).isEqualTo(p);
    }
}
