package org.streaminference.operators.validation;

import org.apache.flink.annotation.Internal;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.RawRecord;
import org.streaminference.schemas.ValidatedEvent;

/**
 * Turns raw Kafka records into validated events; every record that fails goes to {@link DeadLetters#TAG} with its
 * reason, original bytes and source position. Never throws for a bad record.
 */
@Internal
public class EventValidationFunction extends ProcessFunction<RawRecord, ValidatedEvent> {
    private static final long serialVersionUID = 1L;

    private final EventValidator validator;
    private transient Counter eventsIn;
    private transient Counter valid;
    private transient Counter invalid;

    public EventValidationFunction(EventValidator validator) {
        this.validator = validator;
    }

    @Override
    public void open(OpenContext openContext) {
        var group = getRuntimeContext().getMetricGroup();
        eventsIn = group.counter("eventsIn");
        valid = group.counter("eventsValid");
        invalid = group.counter("eventsInvalid");
    }

    @Override
    public void processElement(RawRecord record, Context ctx, Collector<ValidatedEvent> out) {
        eventsIn.inc();
        EventValidator.Result result = validator.validate(record.getKey(), record.getValue());
        if (result.isValid()) {
            valid.inc();
            out.collect(new ValidatedEvent(result.event(), record.getSource(), null));
            return;
        }
        invalid.inc();
        var letter = DeadLetters.of(record.getValue(), record.getSource(), result.reason(), result.message());
        if (result.event() != null) {
            DeadLetters.withIds(letter, result.event().getEventId(), result.event().getEntityId());
        }
        ctx.output(DeadLetters.TAG, letter);
    }
}
