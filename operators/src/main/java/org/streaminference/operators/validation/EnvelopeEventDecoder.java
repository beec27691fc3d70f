package org.streaminference.operators.validation;

import org.apache.avro.AvroRuntimeException;
import org.apache.avro.SchemaNormalization;
import org.apache.flink.annotation.Internal;
import org.streaminference.schemas.AvroPayloadCheck;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Printable;
import org.streaminference.schemas.ReasonCode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The job's own envelope: {@link InputEvent} in Avro single-object encoding. Every length and block count is bounded
 * against the bytes that remain before Avro sees them ({@link AvroPayloadCheck}).
 */
@Internal
public final class EnvelopeEventDecoder implements EventDecoder {
    private static final long serialVersionUID = 1L;
    static final int HEADER_BYTES = 10;
    private static final long FINGERPRINT = SchemaNormalization.parsingFingerprint64(InputEvent.getClassSchema());

    private transient AvroPayloadCheck bodyCheck;

    @Override
    public Decoded decode(ByteBuffer value, long kafkaTimestamp) {
        ByteBuffer bytes = value.duplicate();
        if (!hasSingleObjectHeader(bytes)) {
            return Decoded.failed(ReasonCode.MALFORMED_AVRO,
                    "not Avro single-object encoding (no C3 01 header and 8-byte schema fingerprint)");
        }
        long fingerprint = fingerprint(bytes);
        if (fingerprint != FINGERPRINT) {
            return Decoded.failed(ReasonCode.UNKNOWN_SCHEMA, "schema fingerprint " + Long.toHexString(fingerprint)
                    + " is not InputEvent's");
        }
        if (bodyCheck == null) {
            bodyCheck = new AvroPayloadCheck(InputEvent.getClassSchema());
        }
        AvroPayloadCheck.Problem problem = bodyCheck.check(bytes.duplicate().position(bytes.position() + HEADER_BYTES));
        if (problem != null) {
            return Decoded.failed(problem.reason(), "InputEvent " + problem.message());
        }
        try {
            return Decoded.of(InputEvent.getDecoder().decode(bytes));
        } catch (IOException | AvroRuntimeException | IndexOutOfBoundsException | NegativeArraySizeException e) {
            return Decoded.failed(ReasonCode.MALFORMED_AVRO, "cannot decode InputEvent: "
                    + Printable.escape(String.valueOf(e), 200));
        }
    }

    /** Whether {@code bytes} start with the single-object marker C3 01 and have room for the fingerprint. */
    static boolean hasSingleObjectHeader(ByteBuffer bytes) {
        return bytes.remaining() >= HEADER_BYTES && bytes.get(bytes.position()) == (byte) 0xC3
                && bytes.get(bytes.position() + 1) == (byte) 0x01;
    }

    /** The single-object header's schema fingerprint (CRC-64-AVRO, little-endian). */
    static long fingerprint(ByteBuffer bytes) {
        return bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(bytes.position() + 2);
    }
}
