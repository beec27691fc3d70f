package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class EventValidatorTest {
    private final EventValidator validator =
            new EventValidator(EventFields.numeric(List.of("amount")));

    private static InputEvent.Builder event() {
        return InputEvent.newBuilder()
                .setEventId("e-1")
                .setEntityId("user-1")
                .setEventTime(1_700_000_000_000L)
                .setEventType("purchase")
                .setNumericFields(Map.of("amount", 3.0))
                .setCategoricalFields(Map.of());
    }

    private static ByteBuffer key(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    private EventValidator.Result validate(InputEvent e) throws Exception {
        return validator.validate(key(e.getEntityId()), e.toByteBuffer());
    }

    @Test
    void acceptsAWellFormedEvent() throws Exception {
        EventValidator.Result result = validate(event().build());
        assertThat(result.isValid()).isTrue();
        assertThat(result.event().getEventId()).isEqualTo("e-1");
    }

    @Test
    void acceptsAnEventWithoutKey() throws Exception {
        assertThat(validator.validate(null, event().build().toByteBuffer()).isValid()).isTrue();
    }

    @Test
    void explainsUndecodableRecords() throws Exception {
        assertThat(validator.validate(null, null).reason()).isEqualTo(ReasonCode.MALFORMED_AVRO);
        assertThat(validator.validate(null, key("not avro at all")).reason())
                .isEqualTo(ReasonCode.MALFORMED_AVRO);

        ByteBuffer truncated = event().build().toByteBuffer();
        truncated.limit(truncated.limit() - 5);
        assertThat(validator.validate(null, truncated).reason())
                .isEqualTo(ReasonCode.MALFORMED_AVRO);

        ByteBuffer otherSchema =
                Prediction.newBuilder()
                        .setEventId("e")
                        .setEntityId("x")
                        .setModelName("m")
                        .setModelVersion("1")
                        .setScore(0)
                        .setEventTime(1)
                        .setInferenceTime(1)
                        .build()
                        .toByteBuffer();
        assertThat(validator.validate(null, otherSchema).reason())
                .isEqualTo(ReasonCode.UNKNOWN_SCHEMA);
    }

    @Test
    void explainsInvalidFields() throws Exception {
        assertThat(validate(event().setEntityId(" ").build()).reason())
                .isEqualTo(ReasonCode.MISSING_FIELD);
        assertThat(validate(event().setEventId("").build()).reason())
                .isEqualTo(ReasonCode.MISSING_FIELD);
        assertThat(validate(event().setEventTime(0).build()).reason())
                .isEqualTo(ReasonCode.INVALID_FIELD);
        EventValidator.Result withoutAmount =
                validate(event().setNumericFields(Map.of("other", 1.0)).build());
        assertThat(withoutAmount.isValid())
                .as(
                        "a field features need is required only by the models that read it,"
                                + " checked in inference")
                .isTrue();
        assertThat(withoutAmount.event().numeric[0]).as("absent").isNaN();

        Map<String, Double> nan = new HashMap<>();
        nan.put("amount", Double.NaN);
        EventValidator.Result result = validate(event().setNumericFields(nan).build());
        assertThat(result.reason()).isEqualTo(ReasonCode.INVALID_FIELD);
        assertThat(result.message()).contains("amount").contains("NaN");
        assertThat(result.event().getEventId()).isEqualTo("e-1");

        assertThat(validator.validate(key("someone-else"), event().build().toByteBuffer()).reason())
                .isEqualTo(ReasonCode.INVALID_FIELD);
    }

    @Test
    void boundsWhatItDecodesAndStoresNothingItCannot() throws Exception {
        EventValidator strict =
                new EventValidator(
                        EventFields.numeric(List.of("amount")),
                        new EventLimits(200, Duration.ofMinutes(5)));
        long now = 1_700_000_000_000L;
        Map<String, Double> wide = new HashMap<>();
        for (int i = 0; i < 50; i++) {
            wide.put("f" + i, (double) i);
        }
        wide.put("amount", 1.0);
        assertThat(
                        strict.validate(
                                        null,
                                        event().setNumericFields(wide).build().toByteBuffer(),
                                        now)
                                .reason())
                .isEqualTo(ReasonCode.RECORD_TOO_LARGE);

        EventValidator.Result future =
                strict.validate(
                        null, event().setEventTime(now + 6 * 60_000).build().toByteBuffer(), now);
        assertThat(future.reason()).isEqualTo(ReasonCode.FUTURE_EVENT);
        assertThat(future.message()).contains("max-future-skew");
        assertThat(
                        strict.validate(
                                        null,
                                        event().setEventTime(now + 4 * 60_000)
                                                .build()
                                                .toByteBuffer(),
                                        now)
                                .isValid())
                .isTrue();
        assertThat(
                        strict.validate(
                                        null,
                                        event().setEventTime(Long.MAX_VALUE).build().toByteBuffer(),
                                        now)
                                .reason())
                .isEqualTo(ReasonCode.FUTURE_EVENT);

        for (String id :
                List.of("user\u0000", "a b", "../etc", "x".repeat(129), "<b>", "tab\there")) {
            EventValidator.Result r = validate(event().setEntityId(id).build());
            assertThat(r.reason()).as(id).isEqualTo(ReasonCode.INVALID_FIELD);
        }
        assertThat(
                        validate(
                                        event().setEventId("\u00e9v\u00e9nement-42")
                                                .setEntityId("user:42@shop")
                                                .build())
                                .isValid())
                .as("letters of any script and the separators ids use")
                .isTrue();
        assertThat(validate(event().setEventType("pur\u0000chase").build()).reason())
                .isEqualTo(ReasonCode.INVALID_FIELD);
    }
}
