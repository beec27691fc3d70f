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
    private final Histogram replyTransport =
            Histogram.builder()
                    .name("gateway_reply_transport_seconds")
                    .help(
                            "From the job's producer sending an answer (its record's timestamp) to this instance"
                                    + " reading it: the reply's time in Kafka")
                    .register(registry);
    private final Histogram replyInJob =
            Histogram.builder()
                    .name("gateway_reply_sink_seconds")
                    .help(
                            "From the job's answer to its producer sending it (the record's timestamp): the"
                                    + " reply's time in the job's sink")
                    .register(registry);
    private final Histogram requestToBroker =
            Histogram.builder()
                    .name("gateway_request_to_record_seconds")
                    .help(
                            "From this instance sending a request to its record's Kafka timestamp (the broker's"
                                    + " append where the request topic keeps LogAppendTime)")
                    .register(registry);
    private final Histogram recordToJob =
            Histogram.builder()
                    .name("gateway_record_to_job_seconds")
                    .help(
                            "From the request record's Kafka timestamp to the job reading it: the broker, the"
                                    + " job's Kafka source and its hand-over to the task")
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

    void replyTimes(double sinkMs, double transportMs) {
        replyInJob.observe(Math.max(0, sinkMs) / 1e3);
        replyTransport.observe(Math.max(0, transportMs) / 1e3);
    }

    void requestTimes(double toRecordMs, double recordToJobMs) {
        requestToBroker.observe(Math.max(0, toRecordMs) / 1e3);
        recordToJob.observe(Math.max(0, recordToJobMs) / 1e3);
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
