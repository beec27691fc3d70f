package org.streaminference.operators.validation;

import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;
import org.streaminference.tracing.RecordTracing;
import org.streaminference.tracing.TracingConfig;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Passes the source's valid events on and sends every record that failed validation to {@link
 * DeadLetters#TAG} with its reason, original bytes and source position (the source decoded and
 * validated them: {@link ValidatedRecord}), counting both. Where tracing is on, each record gets a
 * {@code validate} span from the moment the source began validating it, a child of the trace
 * context it arrived with. Never throws for a bad record.
 */
@Internal
public class EventValidationFunction extends ProcessFunction<ValidatedRecord, ValidatedEvent> {
    private static final long serialVersionUID = 2L;

    private final TracingConfig tracingConfig;
    private transient RecordTracing tracing;
    private transient Counter eventsIn;
    private transient Counter valid;
    private transient Counter invalid;

    public EventValidationFunction() {
        this(TracingConfig.DISABLED);
    }

    /**
     * @param tracing whether each record gets a span here, a child of the trace context it arrived
     *     with
     */
    public EventValidationFunction(TracingConfig tracing) {
        this.tracingConfig = tracing;
    }

    @Override
    public void open(OpenContext openContext) {
        var group = getRuntimeContext().getMetricGroup();
        eventsIn = group.counter("eventsIn");
        valid = group.counter("eventsValid");
        invalid = group.counter("eventsInvalid");
        tracing =
                RecordTracing.open(
                        tracingConfig, "validation", getRuntimeContext().getUserCodeClassLoader());
    }

    @Override
    public void close() throws Exception {
        if (tracing != null) {
            tracing.close();
        }
        super.close();
    }

    @Override
    public void processElement(ValidatedRecord record, Context ctx, Collector<ValidatedEvent> out) {
        if (tracing.enabled()) {
            trace(record);
        }
        eventsIn.inc();
        if (record.event != null) {
            valid.inc();
            out.collect(record.event);
        } else {
            invalid.inc();
            ctx.output(DeadLetters.TAG, record.deadLetter);
        }
    }

    /** The record as a message a consumer received: a child of the producer's span. */
    private void trace(ValidatedRecord record) {
        SourcePosition source = record.source();
        Span span =
                tracing.startEntrySpan(
                        "validate",
                        source.getTraceparent(),
                        SpanKind.CONSUMER,
                        record.validationStartNanos);
        source.setTraceparent(RecordTracing.carry(span, source.getTraceparent()));
        span.setAttribute("messaging.system", "kafka");
        span.setAttribute("messaging.destination.name", source.getTopic());
        span.setAttribute(
                "messaging.destination.partition.id", String.valueOf(source.getPartition()));
        span.setAttribute("messaging.kafka.offset", source.getOffset());
        if (record.deadLetter != null) {
            span.setStatus(StatusCode.ERROR, record.deadLetter.getReasonCode().name());
        }
        span.end();
    }
}
