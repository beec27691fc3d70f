package org.streaminference.jobs.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Grafana dashboard charts only metrics that exist: the job's own, Flink's, and the query
 * service's.
 */
class GrafanaDashboardTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Pattern OPERATOR_METRIC =
            Pattern.compile(
                    "flink_taskmanager_job_task_operator_(?:model_version_)?(?:feature_)?([A-Za-z]+)");
    private static final Pattern QUERY_METRIC =
            Pattern.compile("\\b(query_[a-z_]+?)(?:_bucket|_count|_sum)?\\b");

    /**
     * Flink's own metrics the dashboard uses (FLIP-33 source metrics, task and checkpoint metrics).
     */
    private static final Set<String> FLINK_METRICS = Set.of("pendingRecords");

    static String sources() throws Exception {
        StringBuilder all = new StringBuilder();
        try (Stream<Path> files = Files.walk(ROOT)) {
            for (Path f :
                    files.filter(
                                    p ->
                                            p.toString().endsWith(".java")
                                                    && p.toString().contains("/src/main/"))
                            .collect(Collectors.toList())) {
                all.append(Files.readString(f));
            }
        }
        return all.toString();
    }

    @Test
    void everyChartedMetricIsRegistered() throws Exception {
        JsonNode dashboard =
                new ObjectMapper()
                        .readTree(
                                ROOT.resolve("k8s/grafana/streaminference-dashboard.json")
                                        .toFile());
        List<String> expressions = new ArrayList<>();
        dashboard
                .path("panels")
                .forEach(
                        p -> {
                            assertThat(p.path("targets"))
                                    .as("panel %s has queries", p.path("title").asText())
                                    .isNotEmpty();
                            p.path("targets")
                                    .forEach(t -> expressions.add(t.path("expr").asText()));
                        });
        assertThat(expressions).hasSizeGreaterThan(10);
        String code = sources();
        for (String expr : expressions) {
            Matcher m = OPERATOR_METRIC.matcher(expr);
            while (m.find()) {
                String name = m.group(1);
                if (!FLINK_METRICS.contains(name)) {
                    assertThat(code)
                            .as("metric %s charted by %s", name, expr)
                            .contains("\"" + name + "\"");
                }
            }
            Matcher q = QUERY_METRIC.matcher(expr);
            while (q.find()) {
                String name = q.group(1).replaceAll("_total$", "");
                assertThat(code).as("query metric %s", name).contains("\"" + name);
            }
        }
    }
}
