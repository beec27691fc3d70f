package org.streaminference.operators.validation;

import org.streaminference.schemas.AvroPayloadCheck;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.UntrustedText;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.avro.AvroRuntimeException;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.util.Utf8;
import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The job's own envelope: {@link InputEvent} in Avro single-object encoding. Every length and block
 * count is bounded against the bytes that remain before Avro sees them ({@link AvroPayloadCheck}).
 * The body is then read field by field, straight into the event's primitives and arrays: map
 * entries the feature spec does not read are skipped, and no map, boxed number or key string is
 * built for those it does.
 */
@Internal
public final class EnvelopeEventDecoder implements EventDecoder {
    private static final long serialVersionUID = 2L;
    static final int HEADER_BYTES = 10;
    private static final long FINGERPRINT =
            SchemaNormalization.parsingFingerprint64(InputEvent.getClassSchema());

    private final EventFields fields;
    private transient AvroPayloadCheck bodyCheck;
    private transient Map<Utf8, Integer> numericIndex;
    private transient Map<Utf8, Integer> categoricalIndex;
    private transient Map<Utf8, Integer> vectorIndex;
    private transient BinaryDecoder decoder;
    private transient Utf8 key;

    /**
     * @param fields the fields the feature spec reads: the only map entries kept
     */
    public EnvelopeEventDecoder(EventFields fields) {
        this.fields = fields;
    }

    @Override
    public Decoded decode(ByteBuffer value, long kafkaTimestamp) {
        ByteBuffer bytes = value.duplicate();
        if (!hasSingleObjectHeader(bytes)) {
            return Decoded.failed(
                    ReasonCode.MALFORMED_AVRO,
                    "not Avro single-object encoding (no C3 01 header and 8-byte schema fingerprint)");
        }
        long fingerprint = fingerprint(bytes);
        if (fingerprint != FINGERPRINT) {
            return Decoded.failed(
                    ReasonCode.UNKNOWN_SCHEMA,
                    "schema fingerprint " + Long.toHexString(fingerprint) + " is not InputEvent's");
        }
        if (bodyCheck == null) {
            bodyCheck = new AvroPayloadCheck(InputEvent.getClassSchema());
            numericIndex = index(fields.numeric());
            categoricalIndex = index(fields.categorical());
            vectorIndex = index(fields.vectors());
            key = new Utf8();
        }
        ByteBuffer body = bytes.duplicate().position(bytes.position() + HEADER_BYTES);
        AvroPayloadCheck.Problem problem = bodyCheck.check(body);
        if (problem != null) {
            return Decoded.failed(problem.reason(), "InputEvent " + problem.message());
        }
        try {
            return read(body);
        } catch (IOException
                | AvroRuntimeException
                | IndexOutOfBoundsException
                | NegativeArraySizeException e) {
            return Decoded.failed(
                    ReasonCode.MALFORMED_AVRO,
                    "cannot decode InputEvent: " + UntrustedText.escape(String.valueOf(e), 200));
        }
    }

    /**
     * Reads InputEvent's fields in their schema order (the fingerprint says the writer's schema is
     * this one).
     */
    private Decoded read(ByteBuffer body) throws IOException {
        decoder = binaryDecoder(body, decoder);
        String eventId = decoder.readString();
        String entityId = decoder.readString();
        long eventTime = decoder.readLong();
        String eventType = decoder.readString();

        double[] numeric = new double[fields.numeric().size()];
        Arrays.fill(numeric, Double.NaN);
        String nonFinite = null;
        for (long n = decoder.readMapStart(); n != 0; n = decoder.mapNext()) {
            for (long i = 0; i < n; i++) {
                key = decoder.readString(key);
                double value = decoder.readDouble();
                Integer at = numericIndex.get(key);
                if (at == null) {
                    continue; // a field no feature reads
                }
                if (!Double.isFinite(value)) {
                    if (nonFinite == null) {
                        nonFinite =
                                "numeric field '"
                                        + UntrustedText.excerpt(key.toString())
                                        + "' is "
                                        + value;
                    }
                    continue;
                }
                numeric[at] = value;
            }
        }
        String[] categorical = new String[fields.categorical().size()];
        for (long n = decoder.readMapStart(); n != 0; n = decoder.mapNext()) {
            for (long i = 0; i < n; i++) {
                key = decoder.readString(key);
                Integer at = categoricalIndex.get(key);
                if (at == null) {
                    decoder.skipString();
                } else {
                    categorical[at] = decoder.readString();
                }
            }
        }
        float[][] vectors = new float[fields.vectors().size()][];
        for (long n = decoder.readMapStart(); n != 0; n = decoder.mapNext()) {
            for (long i = 0; i < n; i++) {
                key = decoder.readString(key);
                Integer at = vectorIndex.get(key);
                float[] vector = readFloats(at != null);
                if (at != null) {
                    vectors[at] = vector;
                }
            }
        }
        ValidatedEvent event =
                new ValidatedEvent(
                        eventId, entityId, eventTime, eventType, numeric, categorical, vectors);
        return nonFinite == null
                ? Decoded.of(event)
                : new Decoded(event, ReasonCode.INVALID_FIELD, nonFinite);
    }

    /**
     * An array of floats, block by block (its length is bounded by the payload check); null when
     * not kept.
     */
    private float[] readFloats(boolean keep) throws IOException {
        float[] vector = keep ? new float[0] : null;
        int size = 0;
        for (long block = decoder.readArrayStart(); block != 0; block = decoder.arrayNext()) {
            if (keep && size + block > vector.length) {
                vector = Arrays.copyOf(vector, (int) (size + block));
            }
            for (long i = 0; i < block; i++) {
                float value = decoder.readFloat();
                if (keep) {
                    vector[size++] = value;
                }
            }
        }
        return keep && size != vector.length ? Arrays.copyOf(vector, size) : vector;
    }

    private static Map<Utf8, Integer> index(List<String> names) {
        Map<Utf8, Integer> index = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            index.put(new Utf8(names.get(i)), i);
        }
        return index;
    }

    /**
     * A binary decoder over the remaining bytes of {@code body} (its array itself where it has
     * one), reusing {@code reuse}.
     */
    static BinaryDecoder binaryDecoder(ByteBuffer body, BinaryDecoder reuse) {
        if (body.hasArray()) {
            return DecoderFactory.get()
                    .binaryDecoder(
                            body.array(),
                            body.arrayOffset() + body.position(),
                            body.remaining(),
                            reuse);
        }
        byte[] copy = new byte[body.remaining()];
        body.duplicate().get(copy);
        return DecoderFactory.get().binaryDecoder(copy, 0, copy.length, reuse);
    }

    /**
     * Whether {@code bytes} start with the single-object marker C3 01 and have room for the
     * fingerprint.
     */
    static boolean hasSingleObjectHeader(ByteBuffer bytes) {
        return bytes.remaining() >= HEADER_BYTES
                && bytes.get(bytes.position()) == (byte) 0xC3
                && bytes.get(bytes.position() + 1) == (byte) 0x01;
    }

    /** The single-object header's schema fingerprint (CRC-64-AVRO, little-endian). */
    static long fingerprint(ByteBuffer bytes) {
        return bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(bytes.position() + 2);
    }
}
