package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The Crayfish benchmark's feed-forward network, a model this project did not write (input
 * float[batch, 1, 784], 10 logits), served end to end: events carrying 784 pixel fields through the
 * job's pipeline, each prediction equal to ONNX Runtime run directly on the same pixels.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class CrayfishPipelineITCase {
    private static final int PIXELS = 784;
    private static final Path PEER_MODEL =
            Path.of("..", "..", "shared", "peer-models", "crayfish-ffnn", "model-ffnn.onnx")
                    .toAbsolutePath()
                    .normalize();

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @TempDir Path dir;

    @Test
    void theCrayfishPeerModelIsServedEndToEnd() throws Exception {
        Assumptions.assumeTrue(
                Files.isReadable(PEER_MODEL),
                "skipped: ../shared/peer-models is absent (" + PEER_MODEL + ")");
        Path modelDir = Files.createDirectories(dir.resolve("models/crayfish-ffnn/1"));
        byte[] bytes = Files.readAllBytes(PEER_MODEL);
        Files.write(modelDir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                modelDir,
                ModelManifest.builder()
                        .name("crayfish-ffnn")
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature("input", "FLOAT", new long[] {-1, 1, PIXELS}))
                        .output(
                                new TensorSignature("output", "FLOAT", new long[] {-1, 10}),
                                OutputRole.LOGITS)
                        .labels(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
                        .featureSpec("pixels:1")
                        .build());

        List<String> fields = FeatureSpec.indexedFields("pixel", PIXELS);
        Random random = new Random(7);
        Map<String, float[]> pixels = new HashMap<>();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            float[] image = new float[PIXELS];
            Map<String, Double> numeric = new HashMap<>();
            for (int p = 0; p < PIXELS; p++) {
                image[p] = random.nextFloat();
                numeric.put(fields.get(p), (double) image[p]);
            }
            InputEvent event =
                    InputEvent.newBuilder()
                            .setEventId("img-" + i)
                            .setEntityId("camera-" + (i % 13))
                            .setEventTime(1_760_000_000_000L + i)
                            .setEventType("image")
                            .setNumericFields(numeric)
                            .setCategoricalFields(Map.of())
                            .build();
            pixels.put(event.getEventId(), image);
            records.add(
                    new ProducerRecord<>(
                            "events",
                            event.getEntityId().getBytes(StandardCharsets.UTF_8),
                            PipelineTestSupport.bytes(event.toByteBuffer())));
        }

        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0)) {
            DefaultTopics.create(kafka, 2, 2);
            PipelineTestSupport.produce(kafka.bootstrapServers(), records, 0);

            Configuration options = new Configuration();
            options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            options.set(PipelineOptions.SOURCE_BOUNDED, true);
            options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toUri().toString()));
            options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
            options.set(
                    PipelineOptions.MODEL_ALLOW_UNSIGNED,
                    true); // trust is not what this test is about
            options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
            options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.getExecutionEnvironment(options);
            env.setParallelism(2);
            StreamInferencePipeline.applyDefaults(env, options);
            StreamInferencePipeline.build(
                    env,
                    options,
                    PipelineStages.forSpec(
                            options, FeatureSpec.ofNumericFields("pixels", 1, fields), false));
            env.execute("crayfish-it");

            List<Prediction> predictions =
                    PipelineTestSupport.readCommitted(
                            kafka.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
            assertThat(
                            PipelineTestSupport.readCommitted(
                                    kafka.bootstrapServers(), "dead-letters", b -> b))
                    .isEmpty();
            assertThat(predictions)
                    .extracting(Prediction::getEventId)
                    .doesNotHaveDuplicates()
                    .containsExactlyInAnyOrderElementsOf(pixels.keySet());
            try (LoadedModel direct =
                    new ModelLoader(ModelLoaderConfig.defaults()).load(modelDir.toString())) {
                for (Prediction p : predictions) {
                    float[] logits = direct.run(FloatBuffer.wrap(pixels.get(p.getEventId())), 1)[0];
                    double[] softmax = softmax(logits);
                    int argmax = 0;
                    for (int c = 1; c < logits.length; c++) {
                        argmax = logits[c] > logits[argmax] ? c : argmax;
                    }
                    assertThat(p.getModelName()).isEqualTo("crayfish-ffnn");
                    assertThat(p.getPredictedClass()).as(p.getEventId()).isEqualTo(argmax);
                    assertThat(p.getPredictedLabel()).isEqualTo(Integer.toString(argmax));
                    for (int c = 0; c < logits.length; c++) {
                        assertThat(p.getProbabilities().get(c)).isCloseTo(softmax[c], within(1e-5));
                    }
                }
            }
        }
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] out = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }
}
