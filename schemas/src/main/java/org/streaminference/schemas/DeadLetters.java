package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.OutputTag;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The side output every operator sends its rejected records to, and how dead letters are made. A
 * dead letter is bounded whatever its record: the original value is cut after {@value
 * #MAX_ORIGINAL_BYTES} bytes (its size and sha256 are kept), the message after {@value
 * #MAX_MESSAGE_CHARS} characters, and ids are kept only where they are valid ids. So a dead letter
 * always fits its topic ({@link #MAX_ENCODED_BYTES} at most), and writing it can never fail the job
 * the way a record just under the broker's limit plus a header would.
 */
@PublicEvolving
public final class DeadLetters {
    /** Side output for records that cannot become predictions. */
    public static final OutputTag<DeadLetter> TAG = new OutputTag<>("dead-letters") {};

    /** The most bytes of the original value a dead letter repeats. */
    public static final int MAX_ORIGINAL_BYTES = 64 * 1024;

    /** The most characters of a message. */
    public static final int MAX_MESSAGE_CHARS = 2_000;

    /**
     * An upper bound of a dead letter's encoded size: the cut value, the message escaped to ASCII,
     * two ids of at most 4 bytes a character, the source topic (at most 249 characters, Kafka's
     * limit), a model name (at most 64 ASCII characters) and the fixed fields.
     */
    public static final int MAX_ENCODED_BYTES =
            MAX_ORIGINAL_BYTES
                    + MAX_MESSAGE_CHARS * 6
                    + 8
                    + 2 * Identifiers.MAX_LENGTH * 4
                    + 249
                    + 72
                    + 64
                    + 128;

    private DeadLetters() {}

    /**
     * A dead letter for a record that could not be decoded: only its bytes and position are known.
     */
    public static DeadLetter of(
            ByteBuffer originalBytes, SourcePosition source, ReasonCode reason, String message) {
        ByteBuffer whole =
                originalBytes == null ? ByteBuffer.allocate(0) : originalBytes.duplicate();
        int size = whole.remaining();
        ByteBuffer kept = whole.duplicate();
        if (size > MAX_ORIGINAL_BYTES) {
            kept.limit(kept.position() + MAX_ORIGINAL_BYTES);
        }
        return DeadLetter.newBuilder()
                .setOriginalBytes(kept.slice())
                .setOriginalSize(size)
                .setOriginalSha256(sha256Hex(whole))
                .setSource(source)
                .setReasonCode(reason)
                .setMessage(
                        UntrustedText.escape(
                                message == null ? reason.name() : message, MAX_MESSAGE_CHARS))
                .setTime(System.currentTimeMillis())
                .build();
    }

    /**
     * A dead letter for a record that failed after it was decoded. Its bytes are the event
     * re-encoded: the same fields as the producer wrote, though map entries may come in another
     * order; {@code source} names the original record, and its ids are set.
     */
    public static DeadLetter of(
            InputEvent event, SourcePosition source, ReasonCode reason, String message) {
        return withIds(
                of(encode(event), source, reason, message),
                event.getEventId(),
                event.getEntityId());
    }

    /** Names the event and entity on {@code letter}, each only where it is a valid id. */
    public static DeadLetter withIds(DeadLetter letter, String eventId, String entityId) {
        letter.setEventId(Identifiers.isValid(eventId) ? eventId : null);
        letter.setEntityId(Identifiers.isValid(entityId) ? entityId : null);
        return letter;
    }

    private static ByteBuffer encode(InputEvent event) {
        try {
            return event.toByteBuffer();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot re-encode a decoded event", e);
        }
    }

    private static String sha256Hex(ByteBuffer bytes) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(bytes.duplicate());
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
