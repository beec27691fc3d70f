package org.streaminference.jobs;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.time.Duration;
import java.util.List;

/** Options of the job's model monitoring: drift against training baselines, and tracing. */
@PublicEvolving
public final class MonitoringOptions {
    private MonitoringOptions() {}

    public static final ConfigOption<Boolean> DRIFT_ENABLED =
            ConfigOptions.key("monitoring.drift.enabled")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether versions published with a training baseline ('models publish --baseline') are"
                                    + " watched for drift: served features and predictions are sketched per subtask and compared"
                                    + " with the baseline by one monitor. Versions without a baseline cost nothing either way.");

    public static final ConfigOption<Duration> DRIFT_WINDOW =
            ConfigOptions.key("monitoring.drift.window")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "The sliding window of event time over which served values are compared with the"
                                    + " baseline.");

    public static final ConfigOption<Duration> DRIFT_SLICE =
            ConfigOptions.key("monitoring.drift.slice")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(1))
                    .withDescription(
                            "The step of the sliding window: sketches are kept per slice of event time, and the"
                                    + " oldest slice leaves the window as a new one arrives.");

    public static final ConfigOption<Duration> DRIFT_REPORT_INTERVAL =
            ConfigOptions.key("monitoring.drift.report-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription(
                            "How often each inference subtask sends its sketches to the drift monitor; the"
                                    + " monitor recomputes the drift of a version on each.");

    public static final ConfigOption<Double> DRIFT_PSI_THRESHOLD =
            ConfigOptions.key("monitoring.drift.psi-threshold")
                    .doubleType()
                    .defaultValue(0.2)
                    .withDescription(
                            "Population stability index above which a feature (or the prediction) is drifting; it"
                                    + " stops drifting below 80% of it. Below 0.1 is commonly read as stable, above 0.25 as a large"
                                    + " shift.");

    public static final ConfigOption<Long> DRIFT_MIN_EVENTS =
            ConfigOptions.key("monitoring.drift.min-events")
                    .longType()
                    .defaultValue(500L)
                    .withDescription(
                            "Predictions the window must hold before drift is computed: fewer give an index that is"
                                    + " mostly sampling noise.");

    public static final ConfigOption<Double> TRACING_SAMPLE_RATIO =
            ConfigOptions.key("monitoring.tracing.sample-ratio")
                    .doubleType()
                    .defaultValue(0.0)
                    .withDescription(
                            "Share of events without a sampled trace context that start a trace (0 to 1)."
                                    + " An event whose Kafka header 'traceparent' is sampled is always traced: spans for"
                                    + " validation and features per record and for inference per batch, and the"
                                    + " prediction's header continues the trace. 0 (the default) turns tracing off: no"
                                    + " OpenTelemetry SDK, no header read.");

    public static final ConfigOption<String> TRACING_EXPORTER =
            ConfigOptions.key("monitoring.tracing.exporter")
                    .stringType()
                    .defaultValue("otlp")
                    .withDescription(
                            "The OpenTelemetry span exporter: 'otlp' (HTTP/protobuf to"
                                    + " monitoring.tracing.otlp-endpoint), 'logging', or the name of one a jar on the classpath"
                                    + " registers (ConfigurableSpanExporterProvider).");

    public static final ConfigOption<String> TRACING_OTLP_ENDPOINT =
            ConfigOptions.key("monitoring.tracing.otlp-endpoint")
                    .stringType()
                    .defaultValue("http://localhost:4318")
                    .withDescription("The OTLP/HTTP endpoint of the collector spans are sent to.");

    public static final ConfigOption<String> TRACING_SERVICE_NAME =
            ConfigOptions.key("monitoring.tracing.service-name")
                    .stringType()
                    .defaultValue("streaminference")
                    .withDescription("The service name of the job's spans.");

    public static List<ConfigOption<?>> all() {
        return List.of(
                DRIFT_ENABLED,
                DRIFT_WINDOW,
                DRIFT_SLICE,
                DRIFT_REPORT_INTERVAL,
                DRIFT_PSI_THRESHOLD,
                DRIFT_MIN_EVENTS,
                TRACING_SAMPLE_RATIO,
                TRACING_EXPORTER,
                TRACING_OTLP_ENDPOINT,
                TRACING_SERVICE_NAME);
    }
}
