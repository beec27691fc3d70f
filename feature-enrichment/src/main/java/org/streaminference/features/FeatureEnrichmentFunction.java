package org.streaminference.features;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.LateEventPolicy;
import org.streaminference.features.state.EntityFeatureState;
import org.streaminference.features.state.FeatureEngine;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.DoubleList;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.FeatureProblem;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;
import org.streaminference.tracing.RecordTracing;
import org.streaminference.tracing.TracingConfig;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.TimerService;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Keyed by entity: computes the feature spec's vector for each event from the entity's state in
 * keyed state (RocksDB in the job) and emits the event with it.
 *
 * <p>Lateness is judged against the entity's own newest event time, not the job's watermark, so an
 * event's features depend only on its entity's events in partition order: a replay after a failure
 * or a restore from a savepoint computes exactly the same vectors. Watermarks drive expiry: an
 * event-time timer removes the state of an entity idle for the spec's {@code entityTtl}; an entity
 * whose next event comes that long after its previous one starts fresh whether or not the timer
 * fired yet, so expiry does not depend on watermark timing either.
 */
@PublicEvolving
public class FeatureEnrichmentFunction
        extends KeyedProcessFunction<String, ValidatedEvent, EnrichedEvent> {
    private static final long serialVersionUID = 1L;

    private final FeatureEngine engine;
    private final FeatureSpec spec;

    /** How the events' values are laid out (the decoder's layout: the spec's fields). */
    private final EventFields fields;

    private transient ValueState<byte[]> state;
    private transient Counter enriched;
    private transient Counter lateDeadLettered;
    private transient Counter lateCounted;
    private transient Counter expired;
    private transient Counter reset;
    private transient Counter invalid;
    private transient Counter readOnlyRequests;
    private final TracingConfig tracingConfig;
    private transient RecordTracing tracing;

    public FeatureEnrichmentFunction(FeatureSpec spec) {
        this(spec, TracingConfig.DISABLED);
    }

    /**
     * @param tracing whether each record gets a span here, a child of the one it arrived with
     */
    public FeatureEnrichmentFunction(FeatureSpec spec, TracingConfig tracing) {
        this.spec = spec;
        this.engine = new FeatureEngine(spec);
        this.fields = spec.eventFields();
        this.tracingConfig = tracing;
    }

    @Override
    public void open(OpenContext openContext) {
        state =
                getRuntimeContext()
                        .getState(
                                new ValueStateDescriptor<>(
                                        "entity-features",
                                        PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
        var metrics = getRuntimeContext().getMetricGroup();
        enriched = metrics.counter("eventsEnriched");
        lateDeadLettered = metrics.counter("lateEventsDeadLettered");
        lateCounted = metrics.counter("lateEventsCounted");
        expired = metrics.counter("entitiesExpired");
        reset = metrics.counter("featureStateResets");
        invalid = metrics.counter("invalidFeatureInputs");
        readOnlyRequests = metrics.counter("readOnlyRequests");
        tracing =
                RecordTracing.open(
                        tracingConfig, "features", getRuntimeContext().getUserCodeClassLoader());
    }

    @Override
    public void close() throws Exception {
        if (tracing != null) {
            tracing.close();
        }
        super.close();
    }

    @Override
    public void processElement(ValidatedEvent value, Context ctx, Collector<EnrichedEvent> out)
            throws Exception {
        process(
                value,
                ctx.timerService(),
                letter -> ctx.output(DeadLetters.TAG, letter),
                out::collect);
    }

    /**
     * Enriches one event: what both this function and {@link ControlledFeatureEnrichmentFunction}
     * do per event.
     *
     * @param deadLetters where the event's dead letter goes, if it gets one
     * @param out where its enriched event goes
     */
    void process(
            ValidatedEvent value,
            TimerService timers,
            Consumer<DeadLetter> deadLetters,
            Consumer<EnrichedEvent> out)
            throws Exception {
        if (!tracing.enabled()) {
            enrich(value, timers, deadLetters, out);
            return;
        }
        SourcePosition source = value.getSource();
        Span span = tracing.startRecordSpan("features", source.getTraceparent(), SpanKind.INTERNAL);
        source.setTraceparent(RecordTracing.carry(span, source.getTraceparent()));
        try {
            span.setAttribute("entity.id", value.entityId);
            ReasonCode failed = enrich(value, timers, deadLetters, out);
            if (failed != null) {
                span.setStatus(StatusCode.ERROR, failed.name());
            }
        } finally {
            span.end();
        }
    }

    /** Enriches one event, or sends its dead letter and returns the reason. */
    private ReasonCode enrich(
            ValidatedEvent event,
            TimerService timers,
            Consumer<DeadLetter> deadLetters,
            Consumer<EnrichedEvent> out)
            throws Exception {
        long time = event.eventTime;
        if (!engine.keepsState()) {
            // features of the event alone (numeric, one-hot, hashed, vector, integer, text):
            // nothing of the entity's
            // past is read, so there is no keyed state to read or write, and lateness and expiry do
            // not apply
            emit(event, engine.newState(), time, out);
            return null;
        }
        EntityFeatureState current = load();
        // a read-only predict request sees the state as an event would, and leaves it as it was
        boolean readOnly = readOnly(event);
        if (current.seen() && time - current.maxEventTime() >= spec.entityTtlMillis()) {
            current = readOnly ? engine.newState() : freshAfterExpiry(current, timers);
        }
        long at = time;
        if (current.seen() && time < current.maxEventTime() - spec.maxOutOfOrdernessMillis()) {
            if (spec.lateEvents() == LateEventPolicy.DEAD_LETTER) {
                lateDeadLettered.inc();
                deadLetters.accept(
                        DeadLetters.of(
                                event.toInputEvent(fields),
                                event.source,
                                ReasonCode.LATE_EVENT,
                                "event time "
                                        + time
                                        + " is "
                                        + Duration.ofMillis(current.maxEventTime() - time)
                                        + " behind entity's newest event, beyond the feature spec's maxOutOfOrderness "
                                        + Duration.ofMillis(spec.maxOutOfOrdernessMillis())));
                return ReasonCode.LATE_EVENT;
            }
            lateCounted.inc();
            at = current.maxEventTime();
        }
        emit(event, current, at, out);
        if (readOnly) {
            readOnlyRequests.inc();
            return null;
        }
        if (current.expiryTimer() == Long.MIN_VALUE) {
            long timer = current.maxEventTime() + spec.entityTtlMillis();
            timers.registerEventTimeTimer(timer);
            current.expiryTimer(timer);
        }
        state.update(engine.encode(current));
        return null;
    }

    private static boolean readOnly(ValidatedEvent event) {
        return event.source != null
                && event.source.getRequest() != null
                && event.source.getRequest().getReadOnly();
    }

    /**
     * Counts the event at {@code at} in {@code current} and emits it with its vector and what is
     * wrong with its values, group by group: a model that reads a group with a problem answers the
     * event with a dead letter (the inference operator checks each model an event reaches), the
     * others serve it.
     */
    private void emit(
            ValidatedEvent event,
            EntityFeatureState current,
            long at,
            Consumer<EnrichedEvent> out) {
        List<FeatureProblem> problems = engine.problems(event);
        if (!problems.isEmpty()) {
            invalid.inc();
        }
        double[] vector = engine.update(current, event, at);
        out.accept(
                new EnrichedEvent(
                        carried(event),
                        event.source,
                        new DoubleList(vector),
                        engine.integers(event),
                        engine.texts(event),
                        problems,
                        null));
        enriched.inc();
    }

    /**
     * What of the event travels on to inference: its ids, time and type, and its categorical fields
     * (serving-plan routes may match them). The numeric and vector fields became the features and
     * are not carried again: for wide events (an image's 784 values) they were most of what every
     * later copy and network hop moved.
     */
    InputEvent carried(ValidatedEvent event) {
        return new InputEvent(
                event.eventId,
                event.entityId,
                event.eventTime,
                event.eventType,
                Map.of(),
                event.categoricalFields(fields),
                Map.of());
    }

    /**
     * Removes the entity's state once it has been idle for the TTL; otherwise waits for its new
     * expiry time.
     */
    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<EnrichedEvent> out)
            throws Exception {
        expire(timestamp, ctx.timerService());
    }

    /** An expiry timer of the current entity fired. */
    void expire(long timestamp, TimerService timers) throws Exception {
        byte[] bytes = state.value();
        EntityFeatureState current = bytes == null ? null : engine.decode(bytes);
        if (current == null || current.expiryTimer() != timestamp) {
            return; // a timer of state that was replaced since
        }
        long due = current.maxEventTime() + spec.entityTtlMillis();
        if (timestamp >= due) {
            state.clear();
            expired.inc();
        } else {
            timers.registerEventTimeTimer(due);
            current.expiryTimer(due);
            state.update(engine.encode(current));
        }
    }

    private EntityFeatureState load() throws Exception {
        byte[] bytes = state.value();
        if (bytes == null) {
            return engine.newState();
        }
        EntityFeatureState decoded = engine.decode(bytes);
        if (decoded == null) {
            reset.inc(); // written under another feature spec layout
            return engine.newState();
        }
        return decoded;
    }

    private EntityFeatureState freshAfterExpiry(EntityFeatureState old, TimerService timers) {
        expired.inc();
        if (old.expiryTimer() != Long.MIN_VALUE) {
            timers.deleteEventTimeTimer(old.expiryTimer());
        }
        return engine.newState();
    }
}
