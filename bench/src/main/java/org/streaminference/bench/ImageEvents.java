package org.streaminference.bench;

import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The same images ({@link KafkaLoad#IMAGE_SCHEMA}: id, entity, ts, 784 pixels) written as Avro
 * single-object records or as JSON objects, cheaply enough for a producer to keep up with tens of
 * thousands a second on a shared machine: the pixels of {@value #DISTINCT} images are made once,
 * and each event takes one of them with its own id, entity and time.
 */
final class ImageEvents {
    static final int DISTINCT = 256;

    private final int width;
    private final int entities;
    private final float[][] pixels;
    private final String[] jsonPixels;

    /** Each image's pixels as Avro writes them (block count, floats, end): most of an event. */
    private final byte[][] avroPixels;

    private final byte[] avroHeader;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(8 * 1024);
    private BinaryEncoder encoder;

    ImageEvents(int width, int entities) {
        this.width = width;
        this.entities = entities;
        this.pixels = new float[DISTINCT][width];
        this.jsonPixels = new String[DISTINCT];
        this.avroPixels = new byte[DISTINCT][];
        for (int row = 0; row < DISTINCT; row++) {
            StringBuilder text = new StringBuilder(width * 12).append('[');
            for (int i = 0; i < width; i++) {
                pixels[row][i] = EventGenerator.value(row, i);
                text.append(i == 0 ? "" : ",").append(pixels[row][i]);
            }
            jsonPixels[row] = text.append(']').toString();
            avroPixels[row] = avroArray(pixels[row]);
        }
        avroHeader =
                ByteBuffer.allocate(10)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .put((byte) 0xC3)
                        .put((byte) 0x01)
                        .putLong(SchemaNormalization.parsingFingerprint64(KafkaLoad.IMAGE_SCHEMA))
                        .array();
    }

    String entity(long index) {
        return "entity-" + (index % entities);
    }

    byte[] encode(KafkaLoad.Encoding encoding, long index, long eventTimeMillis) {
        return encoding == KafkaLoad.Encoding.json
                ? json(index, eventTimeMillis)
                : avro(index, eventTimeMillis);
    }

    byte[] avro(long index, long eventTimeMillis) {
        try {
            buffer.reset();
            buffer.write(avroHeader);
            encoder = EncoderFactory.get().directBinaryEncoder(buffer, encoder);
            encoder.writeString("e" + index);
            encoder.writeString(entity(index));
            encoder.writeLong(eventTimeMillis);
            encoder.writeFixed(avroPixels[(int) (index % DISTINCT)]);
            encoder.flush();
            return buffer.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] avroArray(float[] row) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(row.length * Float.BYTES + 8);
            BinaryEncoder array = EncoderFactory.get().directBinaryEncoder(out, null);
            array.writeArrayStart();
            array.setItemCount(row.length);
            for (float v : row) {
                array.startItem();
                array.writeFloat(v);
            }
            array.writeArrayEnd();
            array.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    byte[] json(long index, long eventTimeMillis) {
        return ("{\"id\":\"e"
                        + index
                        + "\",\"entity\":\""
                        + entity(index)
                        + "\",\"ts\":"
                        + eventTimeMillis
                        + ",\"pixels\":"
                        + jsonPixels[(int) (index % DISTINCT)]
                        + "}")
                .getBytes(StandardCharsets.UTF_8);
    }
}
