package org.streaminference.schemas.typeutils;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SerializerTestBase;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.runtime.PojoSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroSerializer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Flink's serializer checks ({@link SerializerTestBase}) over events with every field present,
 * absent and odd.
 */
class ValidatedEventSerializerTest extends SerializerTestBase<ValidatedEvent> {

    @Override
    protected TypeSerializer<ValidatedEvent> createSerializer() {
        return new ValidatedEventSerializer(new AvroSerializer<>(EntityProfile.class));
    }

    @Override
    protected int getLength() {
        return -1;
    }

    @Override
    protected Class<ValidatedEvent> getTypeClass() {
        return ValidatedEvent.class;
    }

    @Override
    protected ValidatedEvent[] getTestData() {
        ValidatedEvent image =
                new ValidatedEvent(
                        "e-1",
                        "entity-1",
                        1_760_000_000_000L,
                        "image",
                        new double[0],
                        new String[0],
                        new float[][] {pixels(784)});
        image.source = new SourcePosition("events", 3, 1234567L, null, null);

        ValidatedEvent mixed =
                new ValidatedEvent(
                        "e-2",
                        "entity-ü-2",
                        -5L,
                        null,
                        new double[] {1.5, Double.NaN, -0.0, Double.MAX_VALUE},
                        new String[] {"card", null, "ßäö ✓"},
                        new float[][] {null, {Float.NaN, Float.MIN_VALUE, -1f}, new float[0]});
        mixed.source =
                new SourcePosition(
                        "events",
                        0,
                        0L,
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        null);
        mixed.profile =
                EntityProfile.newBuilder()
                        .setEntityId("entity-ü-2")
                        .setNumericFields(Map.of("tier", 2.0))
                        .setCategoricalFields(Map.of("segment", "retail"))
                        .build();

        ValidatedEvent bare = new ValidatedEvent(null, "entity-3", 0L, null, null, null, null);
        return new ValidatedEvent[] {image, mixed, bare, new ValidatedEvent()};
    }

    private static float[] pixels(int n) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (i * 31 % 255) / 255f;
        }
        return values;
    }

    @Test
    void flinkPicksThisSerializerForTheEventsNotThePojoSerializer() {
        TypeSerializer<ValidatedEvent> serializer =
                TypeInformation.of(ValidatedEvent.class)
                        .createSerializer(new SerializerConfigImpl());
        assertThat(serializer)
                .isInstanceOf(ValidatedEventSerializer.class)
                .isNotInstanceOf(PojoSerializer.class);
        assertThat(((ValidatedEventSerializer) serializer).profileSerializer())
                .isInstanceOf(AvroSerializer.class);
    }

    @Test
    void anImageIsItsBytesAndLittleElse() throws IOException {
        ValidatedEvent image = getTestData()[0];
        DataOutputSerializer out = new DataOutputSerializer(4096);
        createSerializer().serialize(image, out);
        // 784 floats are 3,136 bytes; ids, time, source position and lengths add a few dozen
        assertThat(out.length()).isBetween(784 * 4, 784 * 4 + 80);
    }

    @Test
    void aCorruptArrayLengthIsAnErrorNotAnAllocation() throws IOException {
        ValidatedEvent bare =
                new ValidatedEvent("e", "entity", 1L, null, new double[0], null, null);
        DataOutputSerializer out = new DataOutputSerializer(64);
        createSerializer().serialize(bare, out);
        byte[] bytes = out.getCopyOfBuffer();
        // the numeric array's length (0) sits after the three strings, the time and the two absent
        // flags
        int at = bytes.length - 12;
        bytes[at] = 0x7f;
        assertThatThrownBy(() -> createSerializer().deserialize(new DataInputDeserializer(bytes)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("array length");
    }
}
