package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.Identifiers;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.UntrustedText;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Decodes and checks one input record. Every way a record can be wrong maps to one {@link
 * ReasonCode}, so a bad record is explained in the dead-letter topic instead of failing the job.
 * Untrusted bytes are bounded before they are decoded: the value's size here, then by the {@link
 * EventDecoder} of the events' format (every Avro length and block count against the bytes that
 * remain, JSON nesting and number lengths), so a hostile record costs time linear in its size and
 * no more memory than that.
 */
@Internal
public final class EventValidator implements Serializable {
    private static final long serialVersionUID = 4L;

    private final EventLimits limits;
    private final EventDecoder decoder;

    /**
     * A validator of the job's own envelope ({@link EnvelopeEventDecoder}), with the default
     * limits.
     */
    public EventValidator(EventFields fields) {
        this(fields, EventLimits.defaults());
    }

    /** A validator of the job's own envelope ({@link EnvelopeEventDecoder}). */
    public EventValidator(EventFields fields, EventLimits limits) {
        this(limits, new EnvelopeEventDecoder(fields));
    }

    /**
     * @param decoder the decoder of the events' format, laying out the values the feature spec
     *     reads
     */
    public EventValidator(EventLimits limits, EventDecoder decoder) {
        this.limits = limits;
        this.decoder = decoder;
    }

    /** The outcome of validating one record: an event, or a reason and message. */
    public record Result(ValidatedEvent event, ReasonCode reason, String message) {
        static Result valid(ValidatedEvent event) {
            return new Result(event, null, null);
        }

        public static Result invalid(ReasonCode reason, String message) {
            return new Result(null, reason, message);
        }

        static Result invalid(ValidatedEvent event, ReasonCode reason, String message) {
            return new Result(event, reason, message);
        }

        public boolean isValid() {
            return reason == null;
        }
    }

    /**
     * @param key the Kafka key, or null
     * @param value the Kafka value, or null
     */
    public Result validate(ByteBuffer key, ByteBuffer value) {
        return validate(key, value, -1, System.currentTimeMillis());
    }

    /**
     * As {@link #validate(ByteBuffer, ByteBuffer)}, with the clock that future event times are
     * judged by.
     */
    public Result validate(ByteBuffer key, ByteBuffer value, long nowMillis) {
        return validate(key, value, -1, nowMillis);
    }

    /**
     * @param kafkaTimestamp the record's Kafka timestamp: the event time of formats that name no
     *     event-time field
     * @param nowMillis the clock that future event times are judged by
     */
    public Result validate(ByteBuffer key, ByteBuffer value, long kafkaTimestamp, long nowMillis) {
        if (value == null || !value.hasRemaining()) {
            return Result.invalid(decoder.malformed(), "empty record value");
        }
        if (value.remaining() > limits.maxEventBytes()) {
            return Result.invalid(
                    ReasonCode.RECORD_TOO_LARGE,
                    "record value is "
                            + value.remaining()
                            + " bytes, over the limit of "
                            + limits.maxEventBytes()
                            + " (validation.max-event-size)");
        }
        EventDecoder.Decoded decoded = decoder.decode(value, kafkaTimestamp);
        if (decoded.reason() != null) {
            return Result.invalid(
                    decoded.event(), decoded.reason(), decoded.message()); // the event: for its ids
        }
        return check(key, decoded.event(), nowMillis);
    }

    private Result check(ByteBuffer key, ValidatedEvent event, long nowMillis) {
        for (String[] id :
                new String[][] {
                    {"eventId", event.getEventId()}, {"entityId", event.getEntityId()}
                }) {
            if (id[1] == null || id[1].isBlank()) {
                return Result.invalid(
                        event, ReasonCode.MISSING_FIELD, id[0] + " is missing or blank");
            }
            String problem = Identifiers.problem(id[0], id[1]);
            if (problem != null) {
                return Result.invalid(event, ReasonCode.INVALID_FIELD, problem);
            }
        }
        if (key != null) {
            String keyText = StandardCharsets.UTF_8.decode(key.duplicate()).toString();
            if (!keyText.equals(event.getEntityId())) {
                return Result.invalid(
                        event,
                        ReasonCode.INVALID_FIELD,
                        "Kafka key '"
                                + UntrustedText.excerpt(keyText)
                                + "' is not the entityId; events must be keyed by entity to keep their order");
            }
        }
        if (event.getEventTime() <= 0) {
            return Result.invalid(
                    event,
                    ReasonCode.INVALID_FIELD,
                    "eventTime must be positive epoch millis, got " + event.getEventTime());
        }
        long latest = nowMillis + limits.maxFutureSkew().toMillis();
        if (event.getEventTime() > latest) {
            return Result.invalid(
                    event,
                    ReasonCode.FUTURE_EVENT,
                    "eventTime "
                            + event.getEventTime()
                            + " is more than "
                            + limits.maxFutureSkew()
                            + " ahead of this machine's clock ("
                            + nowMillis
                            + "; validation.max-future-skew)");
        }
        // a field a feature needs is required only by the models that read it: checked per model,
        // in inference
        return Result.valid(event);
    }
}
