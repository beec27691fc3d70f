package org.streaminference.schemas;

import org.apache.flink.util.OutputTag;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** The side output every operator sends its rejected records to, and how dead letters are made. */
public final class DeadLetters {
    /** Side output for records that cannot become predictions. */
    public static final OutputTag<DeadLetter> TAG = new OutputTag<>("dead-letters") {};

    private DeadLetters() {}

    /** A dead letter for a record that could not be decoded: only its bytes and position are known. */
    public static DeadLetter of(ByteBuffer originalBytes, SourcePosition source, ReasonCode reason, String message) {
        return DeadLetter.newBuilder()
                .setOriginalBytes(originalBytes == null ? ByteBuffer.allocate(0) : originalBytes.duplicate())
                .setSource(source)
                .setReasonCode(reason)
                .setMessage(message)
                .setTime(System.currentTimeMillis())
                .build();
    }

    /**
     * A dead letter for a decoded event. The original bytes are the event's single-object encoding, which is what
     * the producer wrote: the encoding of a record under one schema is deterministic.
     */
    public static DeadLetter of(InputEvent event, SourcePosition source, ReasonCode reason, String message) {
        DeadLetter letter = of(encode(event), source, reason, message);
        letter.setEventId(event.getEventId());
        letter.setEntityId(event.getEntityId());
        return letter;
    }

    private static ByteBuffer encode(InputEvent event) {
        try {
            return event.toByteBuffer();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot re-encode a decoded event", e);
        }
    }
}
