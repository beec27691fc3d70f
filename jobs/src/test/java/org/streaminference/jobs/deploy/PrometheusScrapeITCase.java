package org.streaminference.jobs.deploy;

import org.streaminference.embedded.DemoEventGenerator;
import org.streaminference.embedded.DemoEvents;
import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.jobs.DefaultTopics;
import org.streaminference.jobs.MonitoringOptions;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.StreamInferenceJob;
import org.streaminference.model.DemoModels;
import org.streaminference.model.drift.Distribution;
import org.streaminference.model.drift.DriftBaseline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real Prometheus (Debian's package; .ci/run installs it) scrapes the job's Flink Prometheus
 * reporter while the pipeline runs, and the test asks Prometheus, not the job, for the inference
 * metrics under the names and labels the README and the Grafana dashboard use.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PrometheusScrapeITCase {
    private static final String OPERATOR = "flink_taskmanager_job_task_operator_model_version_";
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /**
     * Flink's Prometheus reporter turns characters Prometheus does not allow, '-' among them, into
     * '_'.
     */
    private static final String MODEL_LABEL = DemoModels.NAME.replace('-', '_');

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Path prometheusBinary() {
        for (String candidate : new String[] {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
            if (Files.isExecutable(Path.of(candidate))) {
                return Path.of(candidate);
            }
        }
        return null;
    }

    /** The result vector of an instant query. */
    private static JsonNode query(int port, String promql) throws Exception {
        String url =
                "http://127.0.0.1:"
                        + port
                        + "/api/v1/query?query="
                        + URLEncoder.encode(promql, StandardCharsets.UTF_8);
        HttpResponse<String> response =
                HTTP.send(
                        HttpRequest.newBuilder(URI.create(url)).build(),
                        HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            return JSON.createArrayNode();
        }
        return JSON.readTree(response.body()).at("/data/result");
    }

    @Test
    void prometheusScrapesTheInferenceMetrics() throws Exception {
        Path prometheus = prometheusBinary();
        Assumptions.assumeTrue(
                prometheus != null,
                "skipped: no prometheus binary (apt-get install prometheus; .ci/run installs it)");
        int reporterPort = freePort();
        int prometheusPort = freePort();

        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0)) {
            DefaultTopics.create(kafka, 2, 2);

            Configuration clusterConfig = new Configuration();
            clusterConfig.setString(
                    "metrics.reporter.prom.factory.class",
                    "org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
            clusterConfig.setString("metrics.reporter.prom.port", Integer.toString(reporterPort));
            MiniCluster cluster =
                    new MiniCluster(
                            new MiniClusterConfiguration.Builder()
                                    .setConfiguration(clusterConfig)
                                    .setNumTaskManagers(1)
                                    .setNumSlotsPerTaskManager(2)
                                    .build());
            cluster.start();
            Process scraper = null;
            try (DemoEventGenerator generator =
                    new DemoEventGenerator(
                            kafka.bootstrapServers(),
                            "events",
                            new DemoEvents(7, 50, "prom"),
                            100,
                            0.0,
                            7)) {
                Configuration options = new Configuration();
                options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
                Path version = DemoModels.write(dir.resolve("models"), 1);
                // a baseline of two features and the classes, so that the drift monitor exports its
                // gauges
                double[] amounts = new Random(3).doubles(1_000, 1, 500).toArray();
                DemoModels.attachBaseline(
                        version,
                        new DriftBaseline(
                                1_000,
                                Map.of(
                                        "amount",
                                        Distribution.of(amounts, 10),
                                        "quantity",
                                        Distribution.of(new double[] {1, 1, 2, 3, 1, 2}, 10)),
                                new DriftBaseline.Predictions(
                                        null, Map.of("normal", 0.9, "suspicious", 0.1))));
                options.set(PipelineOptions.MODEL_URI, List.of(version.toString()));
                options.set(MonitoringOptions.DRIFT_MIN_EVENTS, 50L);
                options.set(MonitoringOptions.DRIFT_REPORT_INTERVAL, Duration.ofSeconds(1));
                options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
                options.set(
                        PipelineOptions.MODEL_ALLOW_UNSIGNED,
                        true); // trust is not what this test is about
                options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
                options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
                StreamExecutionEnvironment env =
                        StreamExecutionEnvironment.getExecutionEnvironment(options);
                env.setParallelism(2);
                StreamInferenceJob.prepare(env, options);
                JobID job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
                Thread producer = new Thread(generator, "demo-generator");
                producer.start();

                Path config = dir.resolve("prometheus.yml");
                Files.writeString(
                        config,
                        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                                + "  - job_name: flink\n    static_configs:\n      - targets: ['127.0.0.1:"
                                + reporterPort
                                + "']\n");
                scraper =
                        new ProcessBuilder(
                                        prometheus.toString(),
                                        "--config.file=" + config,
                                        "--storage.tsdb.path=" + dir.resolve("tsdb"),
                                        "--web.listen-address=127.0.0.1:" + prometheusPort)
                                .redirectErrorStream(true)
                                .redirectOutput(dir.resolve("prometheus.log").toFile())
                                .start();

                int port = prometheusPort;
                // until Prometheus serves (a connection it closes while starting is not yet an
                // answer) and has scraped
                await().atMost(Duration.ofMinutes(2))
                        .pollInterval(Duration.ofSeconds(1))
                        .ignoreExceptionsInstanceOf(IOException.class)
                        .until(
                                () ->
                                        query(
                                                                port,
                                                                "sum("
                                                                        + OPERATOR
                                                                        + "inferenceSuccesses{model=\""
                                                                        + MODEL_LABEL
                                                                        + "\",version=\"1\"})")
                                                        .path(0)
                                                        .at("/value/1")
                                                        .asDouble(0)
                                                >= 100);
                JsonNode traffic =
                        query(port, OPERATOR + "trafficPercent{model=\"" + MODEL_LABEL + "\"}");
                assertThat(traffic).isNotEmpty();
                assertThat(traffic.get(0).at("/metric/version").asText()).isEqualTo("1");
                assertThat(traffic.get(0).at("/value/1").asDouble()).isEqualTo(100.0);
                JsonNode latency =
                        query(port, OPERATOR + "endToEndLatencyMillis{quantile=\"0.99\"}");
                assertThat(latency).as("latency quantiles are exported").isNotEmpty();
                assertThat(query(port, "flink_taskmanager_job_task_operator_eventsIn"))
                        .isNotEmpty();
                // the drift monitor's gauges, labelled by model, version and feature, once it
                // computed them
                await().atMost(Duration.ofMinutes(1))
                        .pollInterval(Duration.ofSeconds(1))
                        .until(
                                () ->
                                        query(
                                                                port,
                                                                OPERATOR
                                                                        + "feature_driftPsi{model=\""
                                                                        + MODEL_LABEL
                                                                        + "\",version=\"1\",feature=\"amount\"} >= 0")
                                                        .size()
                                                == 1);
                JsonNode drift =
                        query(port, OPERATOR + "feature_driftPsi{model=\"" + MODEL_LABEL + "\"}");
                assertThat(drift)
                        .extracting(d -> d.at("/metric/feature").asText())
                        .containsExactlyInAnyOrder("amount", "quantity", "prediction");
                assertThat(
                                query(
                                        port,
                                        OPERATOR
                                                + "feature_drifting{model=\""
                                                + MODEL_LABEL
                                                + "\"}"))
                        .hasSize(3);
                StringBuilder psi = new StringBuilder();
                drift.forEach(
                        d ->
                                psi.append(' ')
                                        .append(d.at("/metric/feature").asText())
                                        .append('=')
                                        .append(d.at("/value/1").asText()));
                System.out.printf("PROMETHEUS drift PSI of %s:1 scraped:%s%n", MODEL_LABEL, psi);
                assertThat(query(port, "up{job=\"flink\"}").get(0).at("/value/1").asText())
                        .isEqualTo("1");
                cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
            } finally {
                if (scraper != null) {
                    scraper.destroy();
                    scraper.waitFor(30, TimeUnit.SECONDS);
                }
                cluster.closeAsync().get(1, TimeUnit.MINUTES);
            }
        }
    }
}
