package org.streaminference.query;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** The query service's own Prometheus metrics, served on {@code /metrics}. */
final class QueryMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests =
            Counter.builder()
                    .name("query_requests_total")
                    .help("HTTP requests by route and status")
                    .labelNames("route", "status")
                    .register(registry);
    private final Histogram latency =
            Histogram.builder()
                    .name("query_request_duration_seconds")
                    .help("Time to answer a request, by route")
                    .labelNames("route")
                    .register(registry);
    private final Counter rejected =
            Counter.builder()
                    .name("query_rejected_total")
                    .help(
                            "Requests refused before they reached the database, by reason (unauthenticated, forbidden,"
                                    + " rate_limited, invalid)")
                    .labelNames("reason")
                    .register(registry);

    void observe(String route, int status, double seconds) {
        requests.labelValues(route, Integer.toString(status)).inc();
        latency.labelValues(route).observe(seconds);
    }

    void rejected(String reason) {
        rejected.labelValues(reason).inc();
    }

    String scrape() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }
}
