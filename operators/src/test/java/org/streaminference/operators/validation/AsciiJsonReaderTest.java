package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.ValidatedEvent;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The JSON fast path against Jackson: on every event, well formed or mangled, the decoder's answer
 * (values to the bit, or the reason it refuses) is the one Jackson alone gives. The fast path must
 * also take the common event itself, or it would only cost time.
 */
class AsciiJsonReaderTest {
    private static final EventFieldMapping MAPPING =
            new EventFieldMapping(
                    "id",
                    "entity",
                    "ts",
                    "kind",
                    new EventFields(
                            List.of("amount", "shop.score"),
                            List.of("shop.country"),
                            List.of("v")));

    private final JsonEventDecoder decoder = new JsonEventDecoder(MAPPING);
    private final Random random = new Random(11);

    @Test
    void theCommonEventIsReadByTheFastPath() {
        StringBuilder pixels = new StringBuilder();
        for (int i = 0; i < 784; i++) {
            pixels.append(i == 0 ? "" : ",").append(random.nextFloat());
        }
        String json =
                "{\"id\":\"e1\",\"entity\":\"entity-7\",\"ts\":1765000000000,\"amount\":12.5,"
                        + "\"v\":["
                        + pixels
                        + "]}";
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        EventFieldMapping.Values values = MAPPING.values();
        assertThat(new AsciiJsonReader(32).read(bytes, 0, bytes.length, MAPPING.tree(), values))
                .isTrue();
        assertThat(values.vectors[0]).hasSize(784);
        assertSame(json);
    }

    @Test
    void whatItIsNotSureOfIsLeftToJackson() {
        for (String json :
                List.of(
                        "{\"id\":\"caf\\u00e9\",\"entity\":\"a\",\"ts\":1}", // an escape
                        "{\"id\":\"café\",\"entity\":\"a\",\"ts\":1}", // a byte above 0x7F
                        "{\"id\":\"e\",\"entity\":\"a\",\"ts\":1,\"amount\":1234567890123456789}",
                        "{\"id\":\"e\",\"entity\":\"a\",\"ts\":1,\"v\":[1e-40]}", // subnormal
                        "{\"id\":\"e\",\"entity\":\"a\",\"ts\":-0}")) {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            assertThat(
                            new AsciiJsonReader(32)
                                    .read(bytes, 0, bytes.length, MAPPING.tree(), MAPPING.values()))
                    .as(json)
                    .isFalse();
            assertSame(json);
        }
    }

    /**
     * Numbers of every length up to 20 digits on either side of the point, with zeros leading and
     * trailing the fraction, in the middle of an array (where the fraction is read eight digits at
     * a time) and last in the record (where it is read one at a time): the values Jackson gives,
     * and the fast path takes those a double holds after one rounding.
     */
    @Test
    void numbersOfEveryLengthAreReadAsJacksonReadsThem() {
        int short15 = 0;
        int taken = 0;
        for (int intDigits = 0; intDigits <= 20; intDigits++) {
            for (int fracDigits = 1; fracDigits <= 20; fracDigits++) {
                for (int zeros = 0; zeros < fracDigits && zeros <= 4; zeros++) {
                    for (int k = 0; k < 4; k++) {
                        String n =
                                (random.nextBoolean() ? "-" : "")
                                        + digits(intDigits, true)
                                        + "."
                                        + "0".repeat(zeros)
                                        + digits(fracDigits - zeros, false);
                        String middle =
                                "{\"id\":\"e\",\"entity\":\"a\",\"ts\":1,\"v\":[0.25,"
                                        + n
                                        + ","
                                        + n
                                        + ",0.125,7]}";
                        assertSame(middle);
                        assertSame("{\"id\":\"e\",\"entity\":\"a\",\"ts\":1,\"v\":[" + n + "]}");
                        if (Math.max(intDigits, 1) + fracDigits <= 15) {
                            short15++;
                            byte[] bytes = middle.getBytes(StandardCharsets.UTF_8);
                            if (new AsciiJsonReader(32)
                                    .read(
                                            bytes,
                                            0,
                                            bytes.length,
                                            MAPPING.tree(),
                                            MAPPING.values())) {
                                taken++;
                            }
                        }
                    }
                }
            }
        }
        assertThat(taken)
                .as("numbers of up to 15 digits the fast path read")
                .isGreaterThan(short15 * 99 / 100);
    }

    /** {@code count} random digits; the first not a zero where {@code leading}; "0" for none. */
    private String digits(int count, boolean leading) {
        if (count == 0) {
            return leading ? "0" : "";
        }
        StringBuilder s = new StringBuilder(count);
        for (int i = 0; i < count; i++) {
            s.append(i == 0 && leading ? 1 + random.nextInt(9) : random.nextInt(10));
        }
        return s.toString();
    }

    @Test
    void everyGeneratedEventDecodesAsJacksonDecodesIt() {
        for (int i = 0; i < 3_000; i++) {
            assertSame(event());
        }
    }

    @Test
    void everyMangledEventDecodesAsJacksonDecodesIt() {
        String alphabet = "{}[],:\"\\ -+.eE0123456789aflnrstu\u00e9\t\n";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder json = new StringBuilder(event());
            for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
                int at = random.nextInt(json.length());
                switch (random.nextInt(3)) {
                    case 0 -> json.deleteCharAt(at);
                    case 1 -> json.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    default ->
                            json.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            assertSame(json.toString());
        }
    }

    private void assertSame(String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        EventDecoder.Decoded fast = decoder.decode(ByteBuffer.wrap(bytes), 5L);
        EventDecoder.Decoded jackson = decoder.decodeWithJackson(ByteBuffer.wrap(bytes), 5L);
        assertThat(fast.reason()).as(json).isEqualTo(jackson.reason());
        assertThat(fast.message()).as(json).isEqualTo(jackson.message());
        assertThat(fast.event() == null).as(json).isEqualTo(jackson.event() == null);
        if (fast.event() != null) {
            ValidatedEvent a = fast.event();
            ValidatedEvent b = jackson.event();
            assertThat(a.eventId).as(json).isEqualTo(b.eventId);
            assertThat(a.entityId).as(json).isEqualTo(b.entityId);
            assertThat(a.eventTime).as(json).isEqualTo(b.eventTime);
            assertThat(a.eventType).as(json).isEqualTo(b.eventType);
            assertThat(Arrays.equals(a.numeric, b.numeric)).as(json).isTrue();
            assertThat(a.categorical).as(json).isEqualTo(b.categorical);
            assertThat(Arrays.deepEquals(a.vectors, b.vectors)).as(json).isTrue();
        }
    }

    /** An event as producers write them: numbers in every form, fields the spec does not read. */
    private String event() {
        List<String> fields = new ArrayList<>();
        fields.add(
                "\"id\":"
                        + (random.nextBoolean()
                                ? "\"e" + random.nextInt(1000) + "\""
                                : "" + random.nextInt(1000)));
        fields.add("\"entity\":\"entity-" + random.nextInt(50) + "\"");
        fields.add("\"ts\":" + (1_765_000_000_000L + random.nextInt(1_000_000)));
        if (random.nextBoolean()) {
            fields.add("\"kind\":" + (random.nextBoolean() ? "\"pay\"" : "true"));
        }
        if (random.nextBoolean()) {
            fields.add("\"amount\":" + number());
        }
        if (random.nextBoolean()) {
            fields.add(
                    "\"shop\":{\"score\":"
                            + number()
                            + ",\"country\":"
                            + (random.nextBoolean() ? "\"NL\"" : "null")
                            + ",\"tags\":[1,\"x\",{\"y\":[]}]}");
        }
        if (random.nextBoolean()) {
            fields.add("\"extra\":{\"a\":[true,false,null,-1.5e3],\"b\":\"text\"}");
        }
        List<String> numbers = new ArrayList<>();
        for (int i = random.nextInt(40); i > 0; i--) {
            numbers.add(number());
        }
        fields.add("\"v\":[" + String.join(random.nextBoolean() ? "," : ", ", numbers) + "]");
        java.util.Collections.shuffle(fields, random);
        return "{" + String.join(random.nextBoolean() ? "," : " ,\n ", fields) + "}";
    }

    private String number() {
        double v = random.nextGaussian() * Math.pow(10, random.nextInt(24) - 12);
        return switch (random.nextInt(9)) {
            case 0 -> Double.toString(v);
            case 1 -> Float.toString((float) v);
            case 2 -> String.format(Locale.ROOT, "%.17e", v);
            case 3 -> String.format(Locale.ROOT, "%.9f", v);
            case 4 -> Long.toString((long) (v * 1e6));
            case 5 -> "0";
            case 6 -> random.nextBoolean() ? "-0.0" : "0.0";
            case 7 -> Float.toString(random.nextFloat());
            default -> String.format(Locale.ROOT, "%.3E", v);
        };
    }
}
