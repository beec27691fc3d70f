package org.streaminference.jobs.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The alert rules of {@code k8s/prometheus-rules.yaml} as Prometheus reads them: {@code promtool
 * check rules} accepts them, {@code promtool test rules} shows each alert firing on the series that
 * should raise it and staying quiet on the others, and every metric they read is one the job, Flink
 * or its Kafka source registers.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class AlertRulesTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern OPERATOR_METRIC =
            Pattern.compile(
                    "flink_taskmanager_job_task_operator_(?:model_version_)?(?:feature_)?([A-Za-z]+)");

    /**
     * Flink's own metrics the rules read: the FLIP-33 source metric and the JobManager's job
     * metrics.
     */
    private static final List<String> FLINK_METRICS = List.of("pendingRecords");

    @TempDir Path dir;

    @Test
    void promtoolAcceptsTheRulesAndEveryAlertFiresWhereItShould() throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        Assumptions.assumeTrue(
                Files.isExecutable(promtool),
                "skipped: no promtool (apt-get install prometheus; .ci/run installs it)");
        JsonNode resource = YAML.readTree(ROOT.resolve("k8s/prometheus-rules.yaml").toFile());
        assertThat(resource.path("kind").asText()).isEqualTo("PrometheusRule");
        ObjectNode rules = YAML.createObjectNode();
        rules.set("groups", resource.path("spec").path("groups"));
        Files.writeString(dir.resolve("rules.yaml"), YAML.writeValueAsString(rules));
        try (InputStream tests = getClass().getResourceAsStream("/alerts/alert-rules-test.yaml")) {
            Files.copy(tests, dir.resolve("alert-rules-test.yaml"));
        }

        String check = run(promtool.toString(), "check", "rules", "rules.yaml");
        assertThat(check).contains("SUCCESS: 6 rules found");
        String test = run(promtool.toString(), "test", "rules", "alert-rules-test.yaml");
        assertThat(test).contains("SUCCESS");
        System.out.printf(
                "ALERTS promtool: %s; %s%n",
                check.lines().filter(l -> l.contains("SUCCESS")).findFirst().orElse("").trim(),
                test.replaceAll("\\s+", " ").trim());
    }

    @Test
    void everyAlertHasASeverityASummaryAndReadsRegisteredMetrics() throws Exception {
        JsonNode resource = YAML.readTree(ROOT.resolve("k8s/prometheus-rules.yaml").toFile());
        String code = GrafanaDashboardTest.sources();
        List<String> alerts = new ArrayList<>();
        for (JsonNode group : resource.path("spec").path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                String name = rule.path("alert").asText();
                alerts.add(name);
                assertThat(rule.path("labels").path("severity").asText())
                        .as(name)
                        .isIn("warning", "critical");
                assertThat(rule.path("annotations").path("summary").asText()).as(name).isNotBlank();
                Matcher m = OPERATOR_METRIC.matcher(rule.path("expr").asText());
                while (m.find()) {
                    String metric = m.group(1);
                    if (!FLINK_METRICS.contains(metric)) {
                        assertThat(code)
                                .as("metric %s read by %s", metric, name)
                                .contains("\"" + metric + "\"");
                    }
                }
            }
        }
        assertThat(alerts)
                .containsExactly(
                        "ModelFeatureDrifting",
                        "DeadLetterRatioHigh",
                        "EndToEndLatencyHigh",
                        "ConsumerLagHigh",
                        "CheckpointsFailing",
                        "JobRestarting");
    }

    private String run(String... command) throws Exception {
        Process process =
                new ProcessBuilder(command)
                        .directory(dir.toFile())
                        .redirectErrorStream(true)
                        .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("promtool finishes").isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        return output;
    }
}
