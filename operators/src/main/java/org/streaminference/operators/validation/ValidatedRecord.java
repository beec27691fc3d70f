package org.streaminference.operators.validation;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;

/**
 * What the events source emits for one Kafka record: the event it holds, decoded and validated, or
 * the dead letter it became. Decoding in the source lets the source take each event's own time for
 * its watermarks, per Kafka partition, as Flink's sources do; a record that does not decode is
 * carried on as a dead letter instead of failing the source. A Flink POJO: within the source's
 * chain it is handed on as an object.
 */
@Internal
public final class ValidatedRecord {
    /** The event, or null where the record became a dead letter. */
    public ValidatedEvent event;

    /** The record's dead letter, or null where it is a valid event. */
    public DeadLetter deadLetter;

    /**
     * Where tracing is on: when the source began validating the record (epoch nanoseconds); 0
     * otherwise.
     */
    public long validationStartNanos;

    /** For Flink's POJO serializer. */
    public ValidatedRecord() {}

    /**
     * The outcome of {@link EventValidator#validate} for a record read at {@code source}: the
     * event, or a dead letter with the record's own bytes, its reason and, where the record decoded
     * far enough, its ids.
     */
    public static ValidatedRecord of(
            EventValidator.Result result, ByteBuffer value, SourcePosition source) {
        ValidatedRecord record = new ValidatedRecord();
        if (result.isValid()) {
            record.event = result.event();
            record.event.source = source;
            return record;
        }
        record.deadLetter = DeadLetters.of(value, source, result.reason(), result.message());
        if (result.event() != null) {
            DeadLetters.withIds(
                    record.deadLetter, result.event().getEventId(), result.event().getEntityId());
        }
        return record;
    }

    /** Where the record was read (the trace context it carries on is in it). */
    public SourcePosition source() {
        return event != null ? event.source : deadLetter.getSource();
    }

    /**
     * The event's time, or Flink's "no timestamp" for a dead letter: its time is not event time.
     */
    public long eventTimestamp() {
        return event != null ? event.eventTime : Long.MIN_VALUE;
    }
}
