package org.streaminference.jobs;

import org.streaminference.model.DemoModels;
import org.streaminference.model.trust.ManifestSignatures;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * How the job's entry point reads its options and refuses to start on a model it could never serve.
 */
class StreamInferenceJobTest {
    @TempDir Path dir;

    @Test
    void theClustersConfigurationReachesTheJobAndArgumentsOverrideIt() {
        Configuration cluster =
                Configuration.fromMap(
                        Map.of(
                                "model.allowed-roots", "s3://models/",
                                "validation.max-future-skew", "10 min",
                                "parallelism.default", "3"));
        Configuration arguments =
                StreamInferenceJob.options(
                        new String[] {
                            "--kafka.bootstrap-servers",
                            "kafka:9092",
                            "--validation.max-future-skew",
                            "2 min"
                        });
        Configuration options = StreamInferenceJob.withClusterConfiguration(cluster, arguments);
        assertThat(options.get(PipelineOptions.MODEL_ALLOWED_ROOTS))
                .containsExactly("s3://models/");
        assertThat(options.get(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS)).isEqualTo("kafka:9092");
        assertThat(options.get(PipelineOptions.VALIDATION_MAX_FUTURE_SKEW)).hasMinutes(2);
        assertThat(options.getString("parallelism.default", null)).isEqualTo("3");
    }

    private Configuration options(Path model) throws Exception {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, "localhost:1");
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.MODEL_URI, List.of(model.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(dir.resolve("models").toUri().toString()));
        var key = ManifestSignatures.generateKeyPair();
        options.set(
                PipelineOptions.MODEL_TRUSTED_KEYS,
                Files.writeString(
                                dir.resolve("trusted.pub"),
                                ManifestSignatures.publicKeyPem(key.getPublic()))
                        .toString());
        ManifestSignatures.signVersion(model, key);
        return options;
    }

    @Test
    void aStartingModelThatFailsItsChecksFailsTheStartWithItsReason() throws Exception {
        Path model = DemoModels.write(dir.resolve("models"), 1);
        Configuration options = options(model);
        StreamInferenceJob.prepare(
                StreamExecutionEnvironment.getExecutionEnvironment(options), options); // fine

        byte[] bytes = Files.readAllBytes(model.resolve("model.onnx"));
        bytes[bytes.length - 3] ^= 0x5A; // corrupted weights: ONNX Runtime would load them silently
        Files.write(model.resolve("model.onnx"), bytes);
        assertThatThrownBy(
                        () ->
                                StreamInferenceJob.prepare(
                                        StreamExecutionEnvironment.getExecutionEnvironment(options),
                                        options))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("model.uri")
                .hasMessageContaining("CHECKSUM_MISMATCH");

        Path unsigned = DemoModels.write(dir.resolve("models"), 2);
        options.set(PipelineOptions.MODEL_URI, List.of(unsigned.toUri().toString()));
        assertThatThrownBy(
                        () ->
                                StreamInferenceJob.prepare(
                                        StreamExecutionEnvironment.getExecutionEnvironment(options),
                                        options))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("UNSIGNED");
    }

    @Test
    void aParallelismArgumentWinsAndAnExplicitOneIsKept() throws Exception {
        Configuration rest = new Configuration();
        rest.set(CoreOptions.DEFAULT_PARALLELISM, 1); // a REST request's "parallelism": 1
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(rest);
        StreamInferenceJob.applyParallelismArgument(env, new Configuration());
        assertThat(env.getParallelism()).as("the explicit 1 is kept").isEqualTo(1);

        StreamExecutionEnvironment pinned =
                StreamExecutionEnvironment.getExecutionEnvironment(rest);
        StreamInferenceJob.applyParallelismArgument(
                pinned, StreamInferenceJob.options(new String[] {"--parallelism.default", "3"}));
        assertThat(pinned.getParallelism()).as("a program argument wins").isEqualTo(3);
    }
}
