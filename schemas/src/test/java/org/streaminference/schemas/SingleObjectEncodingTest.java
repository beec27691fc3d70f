package org.streaminference.schemas;

import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.MissingSchemaException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The wire format of every topic: Avro single-object encoding, whose header carries the schema
 * fingerprint.
 */
class SingleObjectEncodingTest {

    private static InputEvent event() {
        return InputEvent.newBuilder()
                .setEventId("e-1")
                .setEntityId("entity-7")
                .setEventTime(1_700_000_000_000L)
                .setEventType("purchase")
                .setNumericFields(Map.of("amount", 12.5))
                .setCategoricalFields(Map.of("country", "NL"))
                .build();
    }

    @Test
    void roundTripsWithTheFingerprintInTheHeader() throws Exception {
        ByteBuffer bytes = event().toByteBuffer();
        assertThat(bytes.get(0)).isEqualTo((byte) 0xC3);
        assertThat(bytes.get(1)).isEqualTo((byte) 0x01);
        assertThat(InputEvent.fromByteBuffer(bytes)).isEqualTo(event());
    }

    @Test
    void anotherRecordTypeIsAnUnknownSchema() throws Exception {
        ByteBuffer prediction =
                Prediction.newBuilder()
                        .setEventId("e")
                        .setEntityId("x")
                        .setModelName("m")
                        .setModelVersion("1")
                        .setScore(0.5)
                        .setEventTime(1)
                        .setInferenceTime(2)
                        .build()
                        .toByteBuffer();
        assertThatThrownBy(() -> InputEvent.fromByteBuffer(prediction))
                .isInstanceOf(MissingSchemaException.class);
    }

    @Test
    void bytesWithoutTheHeaderAreRejected() {
        assertThatThrownBy(
                        () ->
                                InputEvent.fromByteBuffer(
                                        ByteBuffer.wrap("{\"json\":true}".getBytes())))
                .isInstanceOf(BadHeaderException.class);
    }
}
