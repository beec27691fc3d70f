package org.streaminference.gateway;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.apache.flink.annotation.Internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The gateway's Prometheus metrics, on {@code /metrics}: requests by protocol and outcome, where
 * their time went (Kafka, the job, the gateway), what was refused and why, and what is in flight.
 */
@Internal
public final class GatewayMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests =
            Counter.builder()
                    .name("gateway_predictions_total")
                    .help("Prediction requests by protocol (rest, grpc, oip) and outcome")
                    .labelNames("protocol", "outcome")
                    .register(registry);
    private final Histogram latency =
            Histogram.builder()
                    .name("gateway_prediction_seconds")
                    .help(
                            "Time of answered synchronous requests by part: total, job (read to answer),"
                                    + " kafka (both trips), gateway (the rest)")
                    .labelNames("part")
                    .register(registry);
    private final Counter rejected =
            Counter.builder()
                    .name("gateway_rejected_total")
                    .help(
                            "Requests refused at the door, by reason (unauthenticated, forbidden, rate_limited,"
                                    + " overloaded, invalid)")
                    .labelNames("reason")
                    .register(registry);
    private final Counter replies =
            Counter.builder()
                    .name("gateway_replies_total")
                    .help(
                            "Records read from this instance's reply partition: matched, late (after the caller"
                                    + " gave up), duplicate, foreign (not a request of ours), undecodable")
                    .labelNames("kind")
                    .register(registry);
    final Gauge inFlight =
            Gauge.builder()
                    .name("gateway_in_flight")
                    .help("Synchronous requests waiting for the job's answer")
                    .register(registry);

    void answered(String protocol, String outcome) {
        requests.labelValues(protocol, outcome).inc();
    }

    void timing(double totalMs, double jobMs, double kafkaMs, double gatewayMs) {
        latency.labelValues("total").observe(totalMs / 1e3);
        latency.labelValues("job").observe(jobMs / 1e3);
        latency.labelValues("kafka").observe(kafkaMs / 1e3);
        latency.labelValues("gateway").observe(gatewayMs / 1e3);
    }

    void rejected(String reason) {
        rejected.labelValues(reason).inc();
    }

    void reply(String kind) {
        replies.labelValues(kind).inc();
    }

    String scrape() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }
}
