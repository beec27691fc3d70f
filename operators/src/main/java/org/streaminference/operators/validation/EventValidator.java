package org.streaminference.operators.validation;

import org.apache.avro.AvroRuntimeException;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.MissingSchemaException;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;

import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Decodes and checks one input record. Every way a record can be wrong maps to one {@link ReasonCode}, so a bad
 * record is explained in the dead-letter topic instead of failing the job.
 */
public final class EventValidator implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final int MAX_ID_LENGTH = 256;

    private final List<String> requiredNumericFields;

    public EventValidator(List<String> requiredNumericFields) {
        this.requiredNumericFields = List.copyOf(requiredNumericFields);
    }

    /** The outcome of validating one record: an event, or a reason and message. */
    public record Result(InputEvent event, ReasonCode reason, String message) {
        static Result valid(InputEvent event) {
            return new Result(event, null, null);
        }

        static Result invalid(ReasonCode reason, String message) {
            return new Result(null, reason, message);
        }

        static Result invalid(InputEvent event, ReasonCode reason, String message) {
            return new Result(event, reason, message);
        }

        public boolean isValid() {
            return reason == null;
        }
    }

    /**
     * @param key   the Kafka key, or null
     * @param value the Kafka value, or null
     */
    public Result validate(ByteBuffer key, ByteBuffer value) {
        if (value == null || !value.hasRemaining()) {
            return Result.invalid(ReasonCode.MALFORMED_AVRO, "empty record value");
        }
        InputEvent event;
        try {
            event = InputEvent.getDecoder().decode(value.duplicate());
        } catch (MissingSchemaException e) {
            return Result.invalid(ReasonCode.UNKNOWN_SCHEMA, "schema fingerprint is not InputEvent's: " + e.getMessage());
        } catch (BadHeaderException e) {
            return Result.invalid(ReasonCode.MALFORMED_AVRO, "not Avro single-object encoding: " + e.getMessage());
        } catch (IOException | AvroRuntimeException | IndexOutOfBoundsException | NegativeArraySizeException e) {
            return Result.invalid(ReasonCode.MALFORMED_AVRO, "cannot decode InputEvent: " + e);
        }
        return check(key, event);
    }

    private Result check(ByteBuffer key, InputEvent event) {
        String idProblem = idProblem("eventId", event.getEventId());
        if (idProblem == null) {
            idProblem = idProblem("entityId", event.getEntityId());
        }
        if (idProblem != null) {
            return Result.invalid(event, ReasonCode.MISSING_FIELD, idProblem);
        }
        if (key != null) {
            String keyText = StandardCharsets.UTF_8.decode(key.duplicate()).toString();
            if (!keyText.equals(event.getEntityId())) {
                return Result.invalid(event, ReasonCode.INVALID_FIELD, "Kafka key '" + truncate(keyText)
                        + "' is not the entityId; events must be keyed by entity to keep their order");
            }
        }
        if (event.getEventTime() <= 0) {
            return Result.invalid(event, ReasonCode.INVALID_FIELD, "eventTime must be positive epoch millis, got "
                    + event.getEventTime());
        }
        for (Map.Entry<String, Double> field : event.getNumericFields().entrySet()) {
            if (field.getValue() == null || !Double.isFinite(field.getValue())) {
                return Result.invalid(event, ReasonCode.INVALID_FIELD,
                        "numeric field '" + truncate(field.getKey()) + "' is " + field.getValue());
            }
        }
        for (String required : requiredNumericFields) {
            if (!event.getNumericFields().containsKey(required)) {
                return Result.invalid(event, ReasonCode.MISSING_FIELD, "numeric field '" + required + "' is missing");
            }
        }
        return Result.valid(event);
    }

    private static String idProblem(String field, String value) {
        if (value == null || value.isBlank()) {
            return field + " is missing or blank";
        }
        if (value.length() > MAX_ID_LENGTH) {
            return field + " is longer than " + MAX_ID_LENGTH + " characters";
        }
        return null;
    }

    private static String truncate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "...";
    }
}
