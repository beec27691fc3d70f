package org.streaminference.tracing;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import org.apache.flink.annotation.Internal;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Spans of records for one operator instance. A record carries its W3C trace context ({@code
 * traceparent}) from the Kafka header it arrived with through the job; each stage starts the
 * record's span as a child of it and passes the span's context on, so the producer's trace
 * continues to the prediction's header. With tracing off (the default) there is no SDK and every
 * method returns at once.
 *
 * <p>One OpenTelemetry SDK per configuration is shared by the operator instances of a TaskManager
 * (its span exporter batches in one thread) and shut down, flushing, when the last one closes.
 */
@Internal
public final class RecordTracing implements AutoCloseable {
    /** The Kafka header the trace context travels in. */
    public static final String HEADER = "traceparent";

    /**
     * Longer header values are not trace contexts (version 00 has 55 characters) and are ignored.
     */
    public static final int MAX_HEADER_LENGTH = 128;

    private static final RecordTracing OFF = new RecordTracing(null, null);
    private static final Map<TracingConfig, Shared> SDKS = new HashMap<>();
    private static final TextMapGetter<String> GETTER =
            new TextMapGetter<>() {
                @Override
                public Iterable<String> keys(String carrier) {
                    return List.of(HEADER);
                }

                @Override
                public String get(String carrier, String key) {
                    return HEADER.equals(key) ? carrier : null;
                }
            };

    private static final class Shared {
        final OpenTelemetrySdk sdk;
        int holders;

        Shared(OpenTelemetrySdk sdk) {
            this.sdk = sdk;
        }
    }

    private final TracingConfig config;
    private final Tracer tracer;
    private boolean closed;

    private RecordTracing(TracingConfig config, Tracer tracer) {
        this.config = config;
        this.tracer = tracer;
    }

    /** Tracing off: no spans. */
    public static RecordTracing off() {
        return OFF;
    }

    /**
     * The tracing of one operator instance; {@code scope} names the instrumentation (the stage).
     * Close it in the operator's {@code close()}.
     */
    public static RecordTracing open(TracingConfig config, String scope, ClassLoader classLoader) {
        if (config == null || !config.enabled()) {
            return OFF;
        }
        synchronized (SDKS) {
            Shared shared = SDKS.get(config);
            if (shared == null) {
                Map<String, String> properties = new HashMap<>();
                properties.put("otel.service.name", config.serviceName());
                properties.put("otel.traces.exporter", config.exporter());
                properties.put("otel.metrics.exporter", "none");
                properties.put("otel.logs.exporter", "none");
                // which records start a trace is decided before a span is built (startEntrySpan); a
                // span is built
                // only for a sampled record, so the SDK's sampler keeps every span it is asked for
                properties.put("otel.traces.sampler", "parentbased_always_on");
                properties.put("otel.exporter.otlp.protocol", "http/protobuf");
                properties.put("otel.exporter.otlp.endpoint", config.endpoint());
                properties.put("otel.propagators", "tracecontext");
                OpenTelemetrySdk sdk =
                        AutoConfiguredOpenTelemetrySdk.builder()
                                .addPropertiesSupplier(() -> properties)
                                .setServiceClassLoader(classLoader)
                                .disableShutdownHook()
                                .build()
                                .getOpenTelemetrySdk();
                shared = new Shared(sdk);
                SDKS.put(config, shared);
            }
            shared.holders++;
            return new RecordTracing(config, shared.sdk.getTracer("org.streaminference." + scope));
        }
    }

    public boolean enabled() {
        return tracer != null;
    }

    /**
     * Starts and stops the SDK {@code config} asks for, where the job is built: an exporter no jar
     * registers fails the start with its name, instead of every task failing in {@code open()} and
     * the job restarting forever.
     *
     * @throws IllegalArgumentException naming the exporter and why the SDK cannot start
     */
    public static void check(TracingConfig config, ClassLoader classLoader) {
        if (config == null || !config.enabled()) {
            return;
        }
        try {
            open(config, "check", classLoader).close();
        } catch (RuntimeException | ServiceConfigurationError e) {
            throw new IllegalArgumentException(
                    "tracing cannot start with exporter '"
                            + config.exporter()
                            + "': "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * Starts the span of a record entering the job: a child of the context it arrived with where
     * that is sampled, a new trace for a share of the records that arrived without one (the sample
     * ratio), and otherwise the invalid span, which records nothing and costs nothing. End it when
     * the stage is done with the record.
     */
    public Span startEntrySpan(String name, String traceparent, SpanKind kind) {
        return startEntrySpan(name, traceparent, kind, 0);
    }

    /**
     * As {@link #startEntrySpan(String, String, SpanKind)}, started at {@code startEpochNanos}
     * (when the work on the record began, before this call); 0 for now.
     */
    public Span startEntrySpan(
            String name, String traceparent, SpanKind kind, long startEpochNanos) {
        if (tracer == null) {
            return Span.getInvalid();
        }
        SpanBuilder builder;
        if (traceparent == null) {
            if (ThreadLocalRandom.current().nextDouble() >= config.sampleRatio()) {
                return Span.getInvalid();
            }
            builder = tracer.spanBuilder(name).setSpanKind(kind).setNoParent();
        } else {
            SpanContext parent = sampled(traceparent);
            if (parent == null) {
                return Span.getInvalid(); // an unsampled context passes through untouched
            }
            builder =
                    tracer.spanBuilder(name)
                            .setSpanKind(kind)
                            .setParent(Context.root().with(Span.wrap(parent)));
        }
        if (startEpochNanos > 0) {
            builder.setStartTimestamp(startEpochNanos, TimeUnit.NANOSECONDS);
        }
        return builder.startSpan();
    }

    /**
     * Starts the span of a record at a later stage, a child of the context it carries where that is
     * sampled; the invalid span otherwise (a later stage never starts a trace). End it when the
     * stage is done with the record.
     */
    public Span startRecordSpan(String name, String traceparent, SpanKind kind) {
        if (tracer == null) {
            return Span.getInvalid();
        }
        SpanContext parent = sampled(traceparent);
        if (parent == null) {
            return Span.getInvalid(); // an unsampled context passes through untouched
        }
        return tracer.spanBuilder(name)
                .setSpanKind(kind)
                .setParent(Context.root().with(Span.wrap(parent)))
                .startSpan();
    }

    /**
     * Starts the span of a batch when any of its records is sampled: a child of the first sampled
     * record's context (so that it is in a sampled trace) and linked to every sampled record's.
     * Returns the invalid span, which records nothing, otherwise.
     */
    public Span startBatchSpan(String name, List<String> traceparents) {
        if (tracer == null) {
            return Span.getInvalid();
        }
        SpanBuilder builder = null;
        for (String traceparent : traceparents) {
            SpanContext record = sampled(traceparent);
            if (record == null) {
                continue;
            }
            if (builder == null) {
                builder =
                        tracer.spanBuilder(name)
                                .setSpanKind(SpanKind.INTERNAL)
                                .setParent(Context.root().with(Span.wrap(record)));
            }
            builder.addLink(record);
        }
        return builder == null ? Span.getInvalid() : builder.startSpan();
    }

    /**
     * The context a record carries on after {@code span}: the span's where it is sampled, else the
     * one it had.
     */
    public static String carry(Span span, String traceparent) {
        SpanContext context = span.getSpanContext();
        if (!context.isSampled()) {
            return traceparent;
        }
        return format(context);
    }

    /** The W3C {@code traceparent} of a span context, as the propagator writes it. */
    public static String format(SpanContext context) {
        String[] header = new String[1];
        W3CTraceContextPropagator.getInstance()
                .inject(
                        Context.root().with(Span.wrap(context)),
                        header,
                        (carrier, key, value) -> {
                            if (HEADER.equals(key)) {
                                carrier[0] = value;
                            }
                        });
        return header[0];
    }

    /** The span context of a {@code traceparent} if it is a valid, sampled one; null otherwise. */
    public static SpanContext sampled(String traceparent) {
        if (traceparent == null) {
            return null;
        }
        SpanContext context = Span.fromContext(context(traceparent)).getSpanContext();
        return context.isValid() && context.isSampled() ? context : null;
    }

    private static Context context(String traceparent) {
        if (traceparent == null || traceparent.length() > MAX_HEADER_LENGTH) {
            return Context.root();
        }
        return W3CTraceContextPropagator.getInstance().extract(Context.root(), traceparent, GETTER);
    }

    @Override
    public void close() {
        if (tracer == null || closed) {
            return;
        }
        closed = true;
        synchronized (SDKS) {
            Shared shared = SDKS.get(config);
            if (shared != null && --shared.holders == 0) {
                SDKS.remove(config);
                shared.sdk
                        .shutdown()
                        .join(10, TimeUnit.SECONDS); // flushes the spans not exported yet
            }
        }
    }

    /** The configurations with an SDK running, for tests. */
    static Map<TracingConfig, Integer> running() {
        synchronized (SDKS) {
            Map<TracingConfig, Integer> out = new HashMap<>();
            SDKS.forEach((c, s) -> out.put(c, s.holders));
            return Collections.unmodifiableMap(out);
        }
    }
}
