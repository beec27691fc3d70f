package org.streaminference.tracing;

import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.traces.ConfigurableSpanExporterProvider;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.util.Collection;

/**
 * The exporter {@code monitoring.tracing.exporter: in-memory} names in tests: every SDK the job's
 * operators start (one per configuration and TaskManager, shut down with the job) exports into
 * {@link #SPANS}, the SDK's own in-memory exporter, which outlives them.
 */
public final class InMemorySpanExporterProvider implements ConfigurableSpanExporterProvider {
    public static final String NAME = "in-memory";
    public static final InMemorySpanExporter SPANS = InMemorySpanExporter.create();

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public SpanExporter createExporter(ConfigProperties config) {
        return new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                return SPANS.export(spans);
            }

            @Override
            public CompletableResultCode flush() {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode
                        .ofSuccess(); // the shared exporter stays open for the next SDK
            }
        };
    }
}
