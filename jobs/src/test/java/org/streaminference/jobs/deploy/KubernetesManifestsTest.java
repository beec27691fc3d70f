package org.streaminference.jobs.deploy;

import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.gateway.PredictGatewayOptions;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferencePipeline;
import org.streaminference.schemas.TopicOptions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Kubernetes manifests in {@code k8s/} against the Flink Kubernetes Operator's CRD (1.15.0,
 * from {@code ../shared/k8s-crds}), with every property the schema does not name treated as an
 * error, and the checks the schema cannot make: the GPU request on flink-main-container, the Flink
 * version and image tags against the build.
 */
class KubernetesManifestsTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path CRD =
            ROOT.resolveSibling("shared")
                    .resolve("k8s-crds")
                    .resolve("flink-kubernetes-operator-1.15.0")
                    .resolve("flinkdeployments.flink.apache.org-v1.yml");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Schema flinkDeploymentSchema;
    private static List<String> flinkVersions;
    private static String projectVersion;
    private static String flinkVersion;

    @BeforeAll
    static void load() throws Exception {
        Assumptions.assumeTrue(
                Files.isReadable(CRD), "skipped: ../shared/k8s-crds is absent (" + CRD + ")");
        JsonNode crd = YAML.readTree(CRD.toFile());
        JsonNode schema = crd.at("/spec/versions/0/schema/openAPIV3Schema");
        strict(schema);
        // what every Kubernetes object carries, which the CRD leaves to the API server
        ObjectNode root = (ObjectNode) schema.get("properties");
        root.putObject("apiVersion").put("type", "string");
        root.putObject("kind").put("type", "string");
        root.putObject("metadata").put("type", "object");
        flinkDeploymentSchema =
                SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_4)
                        .getSchema(JSON.writeValueAsString(schema), InputFormat.JSON);
        flinkVersions = new ArrayList<>();
        schema.at("/properties/spec/properties/flinkVersion/enum")
                .forEach(v -> flinkVersions.add(v.asText()));
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        projectVersion =
                match(
                        pom,
                        "<artifactId>streaminference-parent</artifactId>\\s*<version>([^<]+)</version>");
        flinkVersion = match(pom, "<flink.version>([^<]+)</flink.version>");
    }

    private static String match(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as(regex).isTrue();
        return m.group(1);
    }

    /**
     * Makes unknown properties errors, as the API server's structural schema pruning would silently
     * drop them: every object schema that names its properties and does not preserve unknown fields
     * gets {@code additionalProperties: false}.
     */
    private static void strict(JsonNode node) {
        if (node instanceof ObjectNode object) {
            if (object.has("properties")
                    && !object.has("additionalProperties")
                    && !object.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)) {
                object.put("additionalProperties", false);
            }
            for (Iterator<JsonNode> it = object.elements(); it.hasNext(); ) {
                strict(it.next());
            }
        } else if (node.isArray()) {
            node.forEach(KubernetesManifestsTest::strict);
        }
    }

    private static List<JsonNode> documents(Path file) throws Exception {
        List<JsonNode> docs = new ArrayList<>();
        try (var parser = YAML.getFactory().createParser(file.toFile())) {
            for (Iterator<JsonNode> it = YAML.readValues(parser, JsonNode.class); it.hasNext(); ) {
                JsonNode doc = it.next();
                if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                    docs.add(doc);
                }
            }
        }
        return docs;
    }

    private static List<Path> manifests() throws Exception {
        try (Stream<Path> files = Files.list(ROOT.resolve("k8s"))) {
            return files.filter(f -> f.toString().endsWith(".yaml"))
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    private static List<JsonNode> flinkDeployments() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (Path f : manifests()) {
            for (JsonNode doc : documents(f)) {
                if (doc.path("kind").asText().equals("FlinkDeployment")) {
                    out.add(doc);
                }
            }
        }
        return out;
    }

    private static List<Error> validate(JsonNode flinkDeployment) throws Exception {
        return flinkDeploymentSchema.validate(
                JSON.writeValueAsString(flinkDeployment), InputFormat.JSON);
    }

    @Test
    void everyManifestIsAWellFormedResource() throws Exception {
        assertThat(manifests()).isNotEmpty();
        for (Path f : manifests()) {
            for (JsonNode doc : documents(f)) {
                assertThat(doc.path("apiVersion").asText())
                        .as("%s apiVersion", f.getFileName())
                        .isNotBlank();
                assertThat(doc.path("kind").asText()).as("%s kind", f.getFileName()).isNotBlank();
                assertThat(doc.at("/metadata/name").asText())
                        .as("%s metadata.name", f.getFileName())
                        .isNotBlank();
            }
        }
    }

    @Test
    void theFlinkDeploymentsMatchTheOperatorsSchema() throws Exception {
        List<JsonNode> deployments = flinkDeployments();
        assertThat(deployments)
                .extracting(d -> d.at("/metadata/name").asText())
                .containsExactlyInAnyOrder("streaminference", "streaminference-gpu");
        for (JsonNode d : deployments) {
            assertThat(validate(d))
                    .as("%s against the CRD", d.at("/metadata/name").asText())
                    .isEmpty();
            assertThat(d.at("/spec/job/upgradeMode").asText()).isEqualTo("savepoint");
            assertThat(d.at("/spec/flinkConfiguration/high-availability.type").asText())
                    .isEqualTo("kubernetes");
            assertThat(d.at("/spec/flinkConfiguration/execution.checkpointing.dir").asText())
                    .startsWith("s3://");
        }
    }

    @Test
    void aMisspeltFieldIsAnError() throws Exception {
        ObjectNode wrong = (ObjectNode) flinkDeployments().get(0).deepCopy();
        ObjectNode taskManager = (ObjectNode) wrong.at("/spec/taskManager");
        taskManager.set(
                "resources", taskManager.remove("resource")); // the plural is a common mistake
        assertThat(validate(wrong)).isNotEmpty();
    }

    @Test
    void theGpuDeploymentRequestsItsGpuOnTheMainContainer() throws Exception {
        JsonNode gpu =
                flinkDeployments().stream()
                        .filter(d -> d.at("/metadata/name").asText().endsWith("-gpu"))
                        .findFirst()
                        .orElseThrow();
        JsonNode podSpec = gpu.at("/spec/taskManager/podTemplate/spec");
        JsonNode main = null;
        for (JsonNode c : podSpec.path("containers")) {
            if (c.path("name").asText().equals("flink-main-container")) {
                main = c;
            }
        }
        assertThat(main)
                .as(
                        "a container named flink-main-container (the operator merges into that name only)")
                .isNotNull();
        assertThat(main.at("/resources/limits/nvidia.com~1gpu").asInt()).isEqualTo(1);
        assertThat(podSpec.path("nodeSelector").size()).isPositive();
        assertThat(podSpec.path("tolerations"))
                .anySatisfy(t -> assertThat(t.path("key").asText()).isEqualTo("nvidia.com/gpu"));
        JsonNode conf = gpu.at("/spec/flinkConfiguration");
        assertThat(conf.path("external-resources").asText()).isEqualTo("gpu");
        assertThat(conf.path("external-resource.gpu.kubernetes.config-key").asText())
                .isEqualTo("nvidia.com/gpu");
        assertThat(conf.path("model.execution-provider").asText()).isEqualTo("CUDA");
        // a CPU deployment must not ask for GPUs: the GPU driver fails where it finds none
        JsonNode cpu =
                flinkDeployments().stream()
                        .filter(d -> !d.at("/metadata/name").asText().endsWith("-gpu"))
                        .findFirst()
                        .orElseThrow();
        assertThat(cpu.at("/spec/flinkConfiguration/external-resources").isMissingNode()).isTrue();
    }

    @Test
    void flinkVersionAndImagesMatchTheBuild() throws Exception {
        String[] parts = flinkVersion.split("\\.");
        String exact = "v" + parts[0] + "_" + parts[1];
        // the operator's newest version at or below the build's: v2_2 for Flink 2.3 with operator
        // 1.15.0
        String expected =
                flinkVersions.contains(exact)
                        ? exact
                        : flinkVersions.stream()
                                .filter(
                                        v ->
                                                v.compareTo(exact) < 0
                                                        && v.startsWith("v" + parts[0] + "_"))
                                .max(String::compareTo)
                                .orElseThrow();
        for (JsonNode d : flinkDeployments()) {
            assertThat(d.at("/spec/flinkVersion").asText())
                    .as(d.at("/metadata/name").asText())
                    .isEqualTo(expected);
            String tag = d.at("/spec/image").asText().replaceAll(".*:", "");
            assertThat(tag)
                    .isEqualTo(
                            d.at("/metadata/name").asText().endsWith("-gpu")
                                    ? projectVersion + "-gpu"
                                    : projectVersion);
            assertThat(d.at("/spec/job/jarURI").asText())
                    .isEqualTo("local:///opt/flink/usrlib/streaminference.jar");
        }
        for (String dockerfile : List.of("Dockerfile", "Dockerfile.gpu")) {
            String text = Files.readString(ROOT.resolve("k8s").resolve(dockerfile));
            assertThat(text)
                    .as(dockerfile)
                    .contains("FROM flink:" + flinkVersion + "-java17")
                    .contains("streaminference-jobs-" + projectVersion + "-job")
                    .contains("/opt/flink/usrlib/streaminference.jar");
        }
        assertThat(Files.readString(ROOT.resolve("k8s/Dockerfile.gpu")))
                .contains(
                        "onnxruntime_gpu-"
                                + match(
                                        Files.readString(ROOT.resolve("pom.xml")),
                                        "<onnxruntime.version>([^<]+)</onnxruntime.version>"));
    }

    @Test
    void theJobOptionsInTheManifestsAreRealOptions() throws Exception {
        Set<String> jobKeys =
                PipelineOptions.all().stream().map(ConfigOption::key).collect(Collectors.toSet());
        for (JsonNode d : flinkDeployments()) {
            for (Iterator<Map.Entry<String, JsonNode>> it =
                            d.at("/spec/flinkConfiguration").fields();
                    it.hasNext(); ) {
                String key = it.next().getKey();
                if (key.startsWith("kafka.")
                        || key.startsWith("model.")
                        || key.startsWith("result-store.")
                        || key.startsWith("inference.")) {
                    assertThat(jobKeys)
                            .as("%s in %s", key, d.at("/metadata/name").asText())
                            .contains(key);
                }
            }
        }
    }

    @Test
    void thePredictGatewaysOptionsInItsManifestAreRealOptions() throws Exception {
        Set<String> known = new java.util.HashSet<>();
        PredictGatewayOptions.all().forEach(o -> known.add(o.key()));
        TopicOptions.all().forEach(o -> known.add(o.key()));
        List<JsonNode> docs = documents(ROOT.resolve("k8s/predict-gateway.yaml"));
        JsonNode configMap =
                docs.stream()
                        .filter(d -> d.path("kind").asText().equals("ConfigMap"))
                        .findFirst()
                        .orElseThrow();
        List<String> keys = new ArrayList<>();
        flatten("", YAML.readTree(configMap.at("/data/config.yaml").asText()), keys);
        assertThat(keys).isNotEmpty();
        assertThat(known).as("config.yaml of the predict gateway").containsAll(keys);
        JsonNode statefulSet =
                docs.stream()
                        .filter(d -> d.path("kind").asText().equals("StatefulSet"))
                        .findFirst()
                        .orElseThrow();
        List<String> args = new ArrayList<>();
        statefulSet.at("/spec/template/spec/containers/0/args").forEach(a -> args.add(a.asText()));
        assertThat(args).contains("--" + PredictGatewayOptions.PARTITION.key());
        // the job's side of it: the same topics
        for (JsonNode d : flinkDeployments()) {
            assertThat(
                            d.at("/spec/flinkConfiguration")
                                    .path(TopicOptions.PREDICT_REQUESTS_TOPIC.key())
                                    .asText())
                    .isEqualTo(
                            YAML.readTree(configMap.at("/data/config.yaml").asText())
                                    .at("/kafka/topic/predict-requests")
                                    .asText());
        }
    }

    private static void flatten(String prefix, JsonNode node, List<String> keys) {
        if (!node.isObject()) {
            keys.add(prefix);
            return;
        }
        node.fields()
                .forEachRemaining(
                        f ->
                                flatten(
                                        prefix.isEmpty() ? f.getKey() : prefix + "." + f.getKey(),
                                        f.getValue(),
                                        keys));
    }

    /**
     * The autoscaler keys of operator 1.15's {@code AutoScalerOptions} these manifests may use (the
     * artifact is not on Maven Central, so the list is copied from its source); a misspelt key
     * would be ignored silently.
     */
    private static final Set<String> AUTOSCALER_KEYS =
            Set.of(
                    "enabled",
                    "scaling.enabled",
                    "metrics.window",
                    "stabilization.interval",
                    "utilization.target",
                    "utilization.min",
                    "utilization.max",
                    "catch-up.duration",
                    "restart.time",
                    "scale-down.interval",
                    "vertex.min-parallelism",
                    "vertex.max-parallelism",
                    "vertex.exclude.ids",
                    "memory.tuning.enabled");

    @Test
    void theAutoscalerScalesWhatMayScaleAndLeavesTheRest() throws Exception {
        JobGraph graph = jobGraph();
        Map<String, JobVertex> byId = new HashMap<>();
        String inference = null;
        for (JobVertex v : graph.getVertices()) {
            byId.put(v.getID().toHexString(), v);
            if (v.getName().contains("inference")) { // chained to the features: their task
                inference = v.getID().toHexString();
            }
            if (v.getName().contains("model-commands") || v.getName().startsWith("drift-monitor")) {
                assertThat(v.getMaxParallelism()).as("%s never scales", v.getName()).isEqualTo(1);
            }
        }
        assertThat(inference).as("the inference vertex").isNotNull();
        for (JsonNode d : flinkDeployments()) {
            String name = d.at("/metadata/name").asText();
            JsonNode conf = d.at("/spec/flinkConfiguration");
            assertThat(conf.path("job.autoscaler.enabled").asText()).as(name).isEqualTo("true");
            for (Iterator<String> it = conf.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (key.startsWith("job.autoscaler.")) {
                    assertThat(AUTOSCALER_KEYS)
                            .as("%s in %s", key, name)
                            .contains(key.substring("job.autoscaler.".length()));
                }
            }
            assertThat(conf.path("pipeline.max-parallelism").asInt())
                    .as("%s: key groups for every scale", name)
                    .isGreaterThanOrEqualTo(
                            conf.path("job.autoscaler.vertex.max-parallelism").asInt());
            double target = conf.path("job.autoscaler.utilization.target").asDouble();
            assertThat(target)
                    .isBetween(
                            conf.path("job.autoscaler.utilization.min").asDouble(),
                            conf.path("job.autoscaler.utilization.max").asDouble());
            List<String> excluded =
                    conf.has("job.autoscaler.vertex.exclude.ids")
                            ? List.of(
                                    conf.path("job.autoscaler.vertex.exclude.ids")
                                            .asText()
                                            .split(";"))
                            : List.of();
            for (String id : excluded) {
                assertThat(byId).as("%s excludes a vertex of the job", name).containsKey(id);
            }
            boolean gpu = conf.path("model.execution-provider").asText().equals("CUDA");
            if (gpu) {
                assertThat(excluded)
                        .as("%s: inference stays on its GPUs", name)
                        .containsExactly(inference);
            } else {
                assertThat(excluded).as("%s: inference scales on CPU", name).isEmpty();
            }
        }
    }

    /**
     * The job's graph as the manifests' job builds it (nothing is opened: the graph is only
     * described).
     */
    private static JobGraph jobGraph() {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, "kafka:9092");
        options.set(PipelineOptions.MODEL_URI, List.of("s3://models/demo-classifier/1"));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of("s3://models/"));
        options.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true);
        options.set(
                PipelineOptions.RESULT_STORE_JDBC_URL,
                "jdbc:postgresql://postgres:5432/streaminference");
        var env = StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(4);
        StreamInferencePipeline.build(
                env, options, PipelineStages.forSpec(options, FeatureSpecs.demo(), false));
        return env.getStreamGraph().getJobGraph();
    }
}
