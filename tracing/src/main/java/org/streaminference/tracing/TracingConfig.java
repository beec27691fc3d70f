package org.streaminference.tracing;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Objects;

/**
 * Whether and how the job traces records: the share of new traces sampled (a producer's sampled
 * trace is always continued), the OpenTelemetry exporter by name ({@code otlp}, or one a jar
 * registers) and the OTLP endpoint.
 *
 * @param sampleRatio share of records without a sampled parent that start a trace; 0 turns tracing
 *     off entirely
 */
@PublicEvolving
public record TracingConfig(
        double sampleRatio, String exporter, String endpoint, String serviceName)
        implements Serializable {

    /** No spans, no SDK, no header read. */
    public static final TracingConfig DISABLED =
            new TracingConfig(0, "otlp", "http://localhost:4318", "streaminference");

    public TracingConfig {
        if (!(sampleRatio >= 0 && sampleRatio <= 1)) {
            throw new IllegalArgumentException("the tracing sample ratio must be between 0 and 1");
        }
        Objects.requireNonNull(exporter, "exporter");
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(serviceName, "serviceName");
    }

    public boolean enabled() {
        return sampleRatio > 0;
    }
}
