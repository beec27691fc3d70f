package org.streaminference.operators.validation;

import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;

import java.io.Serializable;
import java.nio.ByteBuffer;

/**
 * Turns one record value, untrusted bytes of a bounded size, into a {@link ValidatedEvent} (its
 * ids, time, type and the values the feature spec reads, as primitives and arrays), or into the
 * reason it cannot: the job's own envelope ({@link EnvelopeEventDecoder}), or the user's own events
 * in Avro ({@link AvroEventDecoder}) or JSON ({@link JsonEventDecoder}). Every other field is
 * skipped, not built. A numeric value that is not finite is refused here ({@code INVALID_FIELD}):
 * in the event, NaN means "absent". Made once per job; its parsing state is built lazily on the
 * task and reused record after record, so a copy is used by its task's thread alone.
 */
@Internal
public interface EventDecoder extends Serializable {

    /**
     * An event, or a reason and message (and never an exception for bad bytes); a refused event
     * that was read whole (a value that is not finite) comes with the reason, so its dead letter
     * can name its ids.
     */
    record Decoded(ValidatedEvent event, ReasonCode reason, String message) {
        static Decoded of(ValidatedEvent event) {
            return new Decoded(event, null, null);
        }

        static Decoded failed(ReasonCode reason, String message) {
            return new Decoded(null, reason, message);
        }
    }

    /**
     * @param value the record's value, not empty, within the job's size limit
     * @param kafkaTimestamp the record's Kafka timestamp: the event time of formats that name no
     *     event-time field
     */
    Decoded decode(ByteBuffer value, long kafkaTimestamp);

    /**
     * The reason a record that is not in this format at all (an empty value, say) is refused with.
     */
    default ReasonCode malformed() {
        return ReasonCode.MALFORMED_AVRO;
    }
}
