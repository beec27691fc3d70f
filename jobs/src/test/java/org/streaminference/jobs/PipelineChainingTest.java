package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpecs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobgraph.JobEdge;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job's shape on the data path: one network shuffle (the {@code keyBy}) between the events'
 * source and the sinks, inference chained to the features even when the control topic's commands
 * reach it, and chained operators handing records on without copies (object reuse). {@code
 * CrayfishPipelineITCase} runs that shape with a control topic and checks every prediction against
 * ONNX Runtime run directly, which is what proves object reuse safe.
 */
class PipelineChainingTest {

    private static Configuration options() {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, "kafka:9092");
        options.set(PipelineOptions.MODEL_URI, List.of("s3://models/demo-classifier/1"));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of("s3://models/"));
        options.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true);
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, "jdbc:postgresql://db:5432/x");
        return options;
    }

    private static JobGraph graph(Configuration options) {
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        StreamInferencePipeline.applyDefaults(env, options);
        StreamInferencePipeline.build(
                env, options, PipelineStages.forSpec(options, FeatureSpecs.demo(), false));
        return env.getStreamGraph().getJobGraph();
    }

    private static JobVertex vertexOf(JobGraph graph, String operator) {
        for (JobVertex v : graph.getVertices()) {
            if (v.getName().contains(operator)) {
                return v;
            }
        }
        throw new AssertionError("no vertex runs " + operator + " in " + names(graph));
    }

    private static List<String> names(JobGraph graph) {
        List<String> names = new ArrayList<>();
        graph.getVertices().forEach(v -> names.add(v.getName()));
        return names;
    }

    @Test
    void inferenceRunsChainedToTheFeaturesWithTheControlTopicAsTheirBroadcastSide() {
        Configuration options = options(); // the control topic is set by default
        assertThat(options.get(PipelineOptions.MODEL_CONTROL_TOPIC)).isNotBlank();
        JobGraph graph = graph(options);

        JobVertex features = vertexOf(graph, "features");
        assertThat(features.getName())
                .as("features, inference and the prediction sinks in one task")
                .contains("inference")
                .contains("predictions-kafka");
        // the features task reads the keyBy's shuffle and the broadcast commands: nothing else
        // crosses the network
        assertThat(features.getInputs())
                .extracting(e -> e.getShipStrategyName())
                .containsExactlyInAnyOrder("HASH", "BROADCAST");

        JobVertex source = vertexOf(graph, "Source: events");
        assertThat(source.getName()).as("validation chained to the source").contains("validate");
        List<JobEdge> fromSource = new ArrayList<>();
        source.getProducedDataSets().forEach(d -> fromSource.addAll(d.getConsumers()));
        assertThat(fromSource)
                .extracting(e -> e.getTarget().getName() + " " + e.getShipStrategyName())
                .as(
                        "the events reach the features through the keyBy, and only dead letters go elsewhere")
                .anySatisfy(edge -> assertThat(edge).contains("features").endsWith("HASH"));
    }

    @Test
    void aRequestCrossesTheNetworkOnceAndItsAnswerLeavesFromTheInferenceTask() {
        Configuration options = options();
        options.set(PipelineOptions.PREDICT_REQUESTS_TOPIC, "predict-requests");
        JobGraph graph = graph(options);

        JobVertex requests = vertexOf(graph, "Source: predict-requests");
        assertThat(requests.getName()).contains("validate-requests");
        List<JobEdge> fromRequests = new ArrayList<>();
        requests.getProducedDataSets().forEach(d -> fromRequests.addAll(d.getConsumers()));
        assertThat(fromRequests)
                .extracting(e -> e.getTarget().getName() + " " + e.getShipStrategyName())
                .anySatisfy(edge -> assertThat(edge).contains("features").endsWith("HASH"));

        JobVertex features = vertexOf(graph, "features");
        assertThat(features.getName())
                .as("an answer is written by the task that computed it: no hop, no buffer")
                .contains("inference")
                .contains("predict-answers-kafka")
                .contains("stream-predictions");
        assertThat(features.getInputs())
                .as("the events' and the requests' keyBy, and the commands")
                .extracting(e -> e.getShipStrategyName())
                .containsExactlyInAnyOrder("HASH", "HASH", "BROADCAST");

        // and a job without a request topic has none of it
        assertThat(names(graph(options())))
                .noneMatch(n -> n.contains("predict-") || n.contains("stream-predictions"));
    }

    @Test
    void chainedOperatorsReuseObjectsUnlessTheUserSaysOtherwise() {
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options());
        StreamInferencePipeline.applyDefaults(env, options());
        assertThat(env.getConfig().isObjectReuseEnabled()).isTrue();

        Configuration off = options();
        off.set(org.apache.flink.configuration.PipelineOptions.OBJECT_REUSE, false);
        StreamExecutionEnvironment userSaysNo =
                StreamExecutionEnvironment.getExecutionEnvironment(off);
        StreamInferencePipeline.applyDefaults(userSaysNo, off);
        assertThat(userSaysNo.getConfig().isObjectReuseEnabled()).isFalse();
    }
}
