package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.ValidatedEvent;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The JSON decoder reads numbers with Jackson's fast parser: every value must be exactly what
 * {@link Double#parseDouble} and {@link Float#parseFloat} make of the same text, in every form a
 * producer writes (plain, exponent, many digits, tiny and huge magnitudes, integers).
 */
class JsonNumbersTest {
    @Test
    void numbersAreReadExactlyAsJavaReadsTheirText() {
        Random random = new Random(7);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 4_000; i++) {
            double v = random.nextGaussian() * Math.pow(10, random.nextInt(40) - 20);
            texts.add(
                    switch (i % 5) {
                        case 0 -> Double.toString(v);
                        case 1 -> Float.toString((float) v);
                        case 2 -> String.format(Locale.ROOT, "%.17e", v);
                        case 3 -> String.format(Locale.ROOT, "%.9f", v);
                        default -> Long.toString((long) (v * 1e6));
                    });
        }
        texts.addAll(List.of("4.9E-324", "1.7976931348623157E308", "1.4E-45", "3.4028235E38", "0"));
        JsonEventDecoder decoder =
                new JsonEventDecoder(
                        new EventFieldMapping(
                                "id",
                                "entity",
                                null,
                                null,
                                new EventFields(List.of("x"), List.of(), List.of("v"))));
        for (int i = 0; i < texts.size(); i += 100) {
            List<String> chunk = texts.subList(i, Math.min(texts.size(), i + 100));
            String json =
                    "{\"id\": \"e\", \"entity\": \"a\", \"x\": "
                            + chunk.get(0)
                            + ", \"v\": ["
                            + String.join(", ", chunk)
                            + "]}";
            ValidatedEvent event =
                    decoder.decode(ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8)), 1L)
                            .event();
            assertThat(event).as(json).isNotNull();
            assertThat(event.numeric[0]).isEqualTo(Double.parseDouble(chunk.get(0)));
            for (int j = 0; j < chunk.size(); j++) {
                assertThat(event.vectors[0][j])
                        .as(chunk.get(j))
                        .isEqualTo(Float.parseFloat(chunk.get(j)));
            }
        }
    }
}
