package org.streaminference.schemas;

import org.apache.avro.Schema;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hostile Avro bodies are refused before Avro allocates or spins for them, and sound ones pass.
 * Bodies are written by hand with Avro's own encoder, so that each says exactly the lie under test.
 */
class AvroPayloadCheckTest {
    private final AvroPayloadCheck check = new AvroPayloadCheck(InputEvent.getClassSchema());

    private static InputEvent event() {
        return InputEvent.newBuilder()
                .setEventId("e-1")
                .setEntityId("user-1")
                .setEventTime(1_700_000_000_000L)
                .setEventType("purchase")
                .setNumericFields(Map.of("amount", 12.5, "quantity", 2.0))
                .setCategoricalFields(Map.of("country", "DE"))
                .build();
    }

    private static ByteBuffer body(InputEvent event) throws Exception {
        ByteBuffer whole = event.toByteBuffer();
        return whole.position(10).slice(); // after the single-object header
    }

    /** eventId, entityId, eventTime, eventType as given, then whatever {@code rest} writes. */
    private static ByteBuffer handWritten(String eventId, Writer rest) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        e.writeString(eventId);
        e.writeString("user-1");
        e.writeLong(1_700_000_000_000L);
        e.writeString("purchase");
        rest.write(e, out);
        e.flush();
        return ByteBuffer.wrap(out.toByteArray());
    }

    interface Writer {
        void write(BinaryEncoder e, ByteArrayOutputStream out) throws Exception;
    }

    @Test
    void aSoundEventPasses() throws Exception {
        assertThat(check.check(body(event()))).isNull();
        assertThat(
                        check.check(
                                body(
                                        InputEvent.newBuilder(event())
                                                .setNumericFields(Map.of())
                                                .setCategoricalFields(Map.of())
                                                .build())))
                .isNull();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.SECONDS)
    void aMapThatClaimsABillionEntriesIsRefusedWithoutAllocating() throws Exception {
        ByteBuffer body =
                handWritten(
                        "e-1",
                        (e, out) -> {
                            e.writeLong(1_000_000_000L); // block count
                            e.writeString("amount");
                            e.writeDouble(1.0);
                        });
        long start = System.nanoTime();
        AvroPayloadCheck.Problem problem = check.check(body);
        long micros = (System.nanoTime() - start) / 1_000;
        assertThat(problem.reason()).isEqualTo(ReasonCode.MALFORMED_AVRO);
        assertThat(problem.message()).contains("numericFields", "1000000000 items");
        assertThat(micros).as("checked in microseconds, not by allocating").isLessThan(1_000_000);
    }

    @Test
    void aNegativeBlockCountWithAByteSizeBeyondThePayloadIsRefused() throws Exception {
        ByteBuffer body =
                handWritten(
                        "e-1",
                        (e, out) -> {
                            e.writeLong(-3); // 3 items ...
                            e.writeLong(1L << 40); // ... in a block of a terabyte
                        });
        assertThat(check.check(body).reason()).isEqualTo(ReasonCode.MALFORMED_AVRO);
    }

    @Test
    void aStringThatClaimsTwoGigabytesIn31BytesIsRefusedAtOnce() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        e.writeLong(Integer.MAX_VALUE); // the eventId's length
        e.writeFixed(new byte[26]);
        e.flush();
        assertThat(out.size()).isLessThanOrEqualTo(31);
        long start = System.nanoTime();
        AvroPayloadCheck.Problem problem = check.check(ByteBuffer.wrap(out.toByteArray()));
        assertThat(problem.message()).contains("eventId", "exceeds");
        assertThat(System.nanoTime() - start).isLessThan(1_000_000_000L);
    }

    @Test
    void trailingBytesAfterASoundRecordAreRefused() throws Exception {
        ByteBuffer sound = body(event());
        ByteBuffer longer = ByteBuffer.allocate(sound.remaining() + 3);
        longer.put(sound.duplicate()).put(new byte[] {1, 2, 3}).flip();
        assertThat(check.check(longer).message()).contains("3 bytes follow");
    }

    @Test
    void nulInAnyStringIsAnInvalidFieldAndMalformedUtf8IsMalformed() throws Exception {
        assertThat(
                        check.check(
                                body(
                                        InputEvent.newBuilder(event())
                                                .setEventType("pur\u0000chase")
                                                .build())))
                .extracting(AvroPayloadCheck.Problem::reason)
                .isEqualTo(ReasonCode.INVALID_FIELD);
        assertThat(
                        check.check(
                                        body(
                                                InputEvent.newBuilder(event())
                                                        .setCategoricalFields(
                                                                Map.of("k\u0000ey", "v"))
                                                        .build()))
                                .message())
                .contains("categoricalFields{key}");
        byte[][] badUtf8 = {
            {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, // an unpaired surrogate, encoded
            {(byte) 0xC0, (byte) 0xAF}, // an overlong '/'
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // past U+10FFFF
            {(byte) 0xE2, (byte) 0x82}, // cut short
            {(byte) 0xFF},
        };
        for (byte[] bad : badUtf8) {
            ByteBuffer body =
                    handWritten(
                            "e-1",
                            (e, out) -> {
                                e.writeLong(0); // no numeric fields
                                e.writeLong(1);
                                e.writeBytes(bad); // a categorical key whose bytes are not UTF-8
                                e.writeString("v");
                                e.writeLong(0);
                            });
            assertThat(check.check(body))
                    .as(Arrays.toString(bad))
                    .isNotNull()
                    .extracting(AvroPayloadCheck.Problem::reason)
                    .isEqualTo(ReasonCode.MALFORMED_AVRO);
        }
        assertThat(
                        check.check(
                                body(
                                        InputEvent.newBuilder(event())
                                                .setEventType("Kauf \uD83D\uDED2 größer")
                                                .build())))
                .as("well-formed text of any script passes")
                .isNull();
    }

    @Test
    void everyTruncationAndRandomCorruptionOfASoundEventIsAnsweredNeverThrown() throws Exception {
        byte[] sound = new byte[body(event()).remaining()];
        body(event()).get(sound);
        for (int n = 0; n < sound.length; n++) {
            assertThat(check.check(ByteBuffer.wrap(sound, 0, n))).as("cut at %d", n).isNotNull();
        }
        Random random = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            byte[] corrupt = sound.clone();
            for (int k = 0; k < 1 + random.nextInt(4); k++) {
                corrupt[random.nextInt(corrupt.length)] = (byte) random.nextInt(256);
            }
            AvroPayloadCheck.Problem problem = check.check(ByteBuffer.wrap(corrupt));
            if (problem == null) {
                // what passes the check must decode without Avro failing or allocating beyond the
                // payload
                InputEvent.getDecoder().decode(withHeader(corrupt));
            }
        }
    }

    private static ByteBuffer withHeader(byte[] body) throws Exception {
        ByteBuffer header = event().toByteBuffer();
        ByteBuffer whole = ByteBuffer.allocate(10 + body.length);
        whole.put(header.array(), header.arrayOffset(), 10).put(body).flip();
        return whole;
    }

    @Test
    void aRecursiveSchemaNestedTooDeepIsRefused() throws Exception {
        Schema list =
                new Schema.Parser()
                        .parse(
                                "{\"type\":\"record\",\"name\":\"L\","
                                        + "\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}");
        byte[] deep = new byte[200];
        Arrays.fill(deep, 0, 199, (byte) 2); // union branch 1 ("L") again and again
        deep[199] = 0; // then null
        assertThat(new AvroPayloadCheck(list).check(ByteBuffer.wrap(deep)).message())
                .contains("nested deeper");
    }
}
