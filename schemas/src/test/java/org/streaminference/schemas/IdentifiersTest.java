package org.streaminference.schemas;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The id check says exactly what {@link Identifiers#PATTERN} says, which the query service
 * publishes.
 */
class IdentifiersTest {

    @Test
    void theCheckAgreesWithThePublishedPattern() {
        List<String> ids =
                new ArrayList<>(
                        List.of(
                                "",
                                "a",
                                "user-42",
                                "order_7:eu@shop+x=y~z.",
                                "Zoë",
                                "用户123",
                                "١٢٣",
                                "Ⅻ",
                                "½",
                                "a b",
                                "a/b",
                                "a\u0000",
                                "\t",
                                "é",
                                "\ud800",
                                "x\udc00",
                                "😀",
                                "𝒜𝒷",
                                "a".repeat(128),
                                "a".repeat(129),
                                "é".repeat(128),
                                "𝒜".repeat(128),
                                "𝒜".repeat(129),
                                "%41",
                                "a#b"));
        Random random = new Random(7);
        int[] alphabet = {
            'a', 'Z', '5', '-', '.', '/', ' ', '%', 0, 0x7f, 0xe9, 0x2167, 0xbd, 0x0663, 0x200b,
            0xd83d, 0xde00, 0x1d49c, 0x1f600, 0x4e2d, '_', '~', '!', 0x0301
        };
        for (int n = 0; n < 20_000; n++) {
            StringBuilder id = new StringBuilder();
            int length = random.nextInt(random.nextBoolean() ? 6 : 140);
            for (int i = 0; i < length; i++) {
                id.appendCodePoint(alphabet[random.nextInt(alphabet.length)]);
            }
            ids.add(id.toString());
        }
        int valid = 0;
        for (String id : ids) {
            boolean byPattern =
                    Identifiers.PATTERN.matcher(id).matches()
                            && id.length() <= 2 * Identifiers.MAX_LENGTH;
            assertThat(Identifiers.isValid(id)).as("'%s'", id).isEqualTo(byPattern);
            valid += byPattern ? 1 : 0;
        }
        assertThat(valid).as("both kinds are tried").isBetween(100, ids.size() - 100);
        assertThat(Identifiers.isValid(null)).isFalse();
    }
}
