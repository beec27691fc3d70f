package org.streaminference.operators.validation;

import org.apache.flink.annotation.Internal;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;

import java.io.Serializable;
import java.nio.ByteBuffer;

/**
 * Turns one record value, untrusted bytes of a bounded size, into the job's {@link InputEvent}, or into the reason it
 * cannot: the job's own envelope ({@link EnvelopeEventDecoder}), or the user's own events in Avro
 * ({@link AvroEventDecoder}) or JSON ({@link JsonEventDecoder}), of which only the fields the feature spec reads are
 * taken. Made once per job; its parsing state is built lazily on the task.
 */
@Internal
public interface EventDecoder extends Serializable {

    /** An event, or a reason and message (and never an exception for bad bytes). */
    record Decoded(InputEvent event, ReasonCode reason, String message) {
        static Decoded of(InputEvent event) {
            return new Decoded(event, null, null);
        }

        static Decoded failed(ReasonCode reason, String message) {
            return new Decoded(null, reason, message);
        }
    }

    /**
     * @param value          the record's value, not empty, within the job's size limit
     * @param kafkaTimestamp the record's Kafka timestamp: the event time of formats that name no event-time field
     */
    Decoded decode(ByteBuffer value, long kafkaTimestamp);
}
