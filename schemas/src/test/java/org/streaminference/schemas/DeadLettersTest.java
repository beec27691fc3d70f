package org.streaminference.schemas;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class DeadLettersTest {
    private static final SourcePosition SOURCE = new SourcePosition("events", 0, 7L, null, null);

    @Test
    void aRecordJustUnderTheBrokersLimitMakesADeadLetterThatFitsItsTopic() throws Exception {
        byte[] huge = new byte[1_048_500];
        new Random(1).nextBytes(huge);
        DeadLetter letter =
                DeadLetters.of(
                        ByteBuffer.wrap(huge),
                        SOURCE,
                        ReasonCode.RECORD_TOO_LARGE,
                        "x".repeat(100_000) + "\u0000\uD800");
        assertThat(letter.getOriginalBytes().remaining()).isEqualTo(DeadLetters.MAX_ORIGINAL_BYTES);
        assertThat(letter.getOriginalSize()).isEqualTo(huge.length);
        assertThat(letter.getOriginalSha256())
                .isEqualTo(
                        HexFormat.of()
                                .formatHex(MessageDigest.getInstance("SHA-256").digest(huge)));
        assertThat(letter.getMessage())
                .hasSizeLessThanOrEqualTo(DeadLetters.MAX_MESSAGE_CHARS + 3)
                .doesNotContain("\u0000");
        int encoded = letter.toByteBuffer().remaining();
        assertThat(encoded)
                .isLessThanOrEqualTo(DeadLetters.MAX_ENCODED_BYTES)
                .isLessThan(1024 * 1024);
    }

    @Test
    void aSmallRecordIsKeptWholeAndInvalidIdsAreLeftOut() throws Exception {
        byte[] small = {1, 2, 3};
        DeadLetter letter =
                DeadLetters.withIds(
                        DeadLetters.of(
                                ByteBuffer.wrap(small), SOURCE, ReasonCode.MALFORMED_AVRO, "bad"),
                        "e-1",
                        "x".repeat(10_000));
        assertThat(letter.getOriginalBytes()).isEqualTo(ByteBuffer.wrap(small));
        assertThat(letter.getOriginalSize()).isEqualTo(3);
        assertThat(letter.getEventId()).isEqualTo("e-1");
        assertThat(letter.getEntityId()).isNull();
    }
}
