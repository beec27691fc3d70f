package org.streaminference.operators.validation;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.tracing.RecordTracing;
import org.streaminference.schemas.tracing.TracingConfig;

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
    private final TracingConfig tracingConfig;
    private transient RecordTracing tracing;

    public EventValidationFunction(EventValidator validator) {
        this(validator, TracingConfig.DISABLED);
    }

    /** @param tracing whether each record gets a span here, a child of the trace context it arrived with */
    public EventValidationFunction(EventValidator validator, TracingConfig tracing) {
        this.validator = validator;
        this.tracingConfig = tracing;
    }

    @Override
    public void open(OpenContext openContext) {
        var group = getRuntimeContext().getMetricGroup();
        eventsIn = group.counter("eventsIn");
        valid = group.counter("eventsValid");
        invalid = group.counter("eventsInvalid");
        tracing = RecordTracing.open(tracingConfig, "validation", getRuntimeContext().getUserCodeClassLoader());
    }

    @Override
    public void close() throws Exception {
        if (tracing != null) {
            tracing.close();
        }
        super.close();
    }

    @Override
    public void processElement(RawRecord record, Context ctx, Collector<ValidatedEvent> out) {
        if (!tracing.enabled()) {
            validate(record, ctx, out);
            return;
        }
        SourcePosition source = record.getSource();
        // the record as a message a consumer received: a child of the producer's span
        Span span = tracing.startEntrySpan("validate", source.getTraceparent(), SpanKind.CONSUMER);
        source.setTraceparent(RecordTracing.carry(span, source.getTraceparent()));
        try {
            span.setAttribute("messaging.system", "kafka");
            span.setAttribute("messaging.destination.name", source.getTopic());
            span.setAttribute("messaging.destination.partition.id", String.valueOf(source.getPartition()));
            span.setAttribute("messaging.kafka.offset", source.getOffset());
            ReasonCode failed = validate(record, ctx, out);
            if (failed != null) {
                span.setStatus(StatusCode.ERROR, failed.name());
            }
        } finally {
            span.end();
        }
    }

    /** Validates one record, or sends its dead letter and returns the reason. */
    private ReasonCode validate(RawRecord record, Context ctx, Collector<ValidatedEvent> out) {
        eventsIn.inc();
        EventValidator.Result result = validator.validate(record.getKey(), record.getValue(), record.getTimestamp(),
                System.currentTimeMillis());
        if (result.isValid()) {
            valid.inc();
            ValidatedEvent event = result.event();
            event.source = record.getSource();
            out.collect(event);
            return null;
        }
        invalid.inc();
        var letter = DeadLetters.of(record.getValue(), record.getSource(), result.reason(), result.message());
        if (result.event() != null) {
            DeadLetters.withIds(letter, result.event().getEventId(), result.event().getEntityId());
        }
        ctx.output(DeadLetters.TAG, letter);
        return result.reason();
    }
}
