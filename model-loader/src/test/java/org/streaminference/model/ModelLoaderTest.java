package org.streaminference.model;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ModelLoaderTest {
    private final ModelLoader loader = new ModelLoader(ModelLoaderConfig.defaults());

    @TempDir Path root;

    @Test
    void demoVersionsLoadAndDifferForEveryInput() throws Exception {
        List<Path> dirs = DemoModels.writeTo(root);
        try (LoadedModel v1 = loader.load(dirs.get(0).toString());
                LoadedModel v2 = loader.load(dirs.get(1).toUri().toString())) {
            assertThat(v1.manifest().version()).isEqualTo("1");
            assertThat(v2.manifest().version()).isEqualTo("2");
            assertThat(v1.loadTimeMillis()).isGreaterThanOrEqualTo(0);

            Random random = new Random(7);
            int rows = 64;
            float[] batch = new float[rows * DemoModels.FEATURES];
            for (int i = 0; i < batch.length; i++) {
                batch[i] = (float) (random.nextGaussian() * 100);
            }
            float[][] p1 = v1.run(FloatBuffer.wrap(batch), rows);
            float[][] p2 = v2.run(FloatBuffer.wrap(batch), rows);
            assertThat(p1).hasNumberOfRows(rows);
            for (int r = 0; r < rows; r++) {
                assertThat(p1[r][0] + p1[r][1]).isCloseTo(1f, within(1e-5f));
                assertThat(p2[r][1]).isGreaterThan(p1[r][1]);
            }
        }
    }

    @Test
    void corruptedWeightsAreRejectedByChecksum() throws Exception {
        Path dir = DemoModels.write(root, 1);
        byte[] bytes = Files.readAllBytes(dir.resolve("model.onnx"));
        bytes[bytes.length - 3] ^= 0x5A;
        Files.write(dir.resolve("model.onnx"), bytes);

        assertThatThrownBy(() -> loader.load(dir.toString()))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.CHECKSUM_MISMATCH));
    }

    @Test
    void truncatedModelWithMatchingChecksumIsARuntimeError() throws Exception {
        Path dir = DemoModels.write(root, 1);
        ModelManifest good = loader.readManifest(dir.toString());
        byte[] bytes = Files.readAllBytes(dir.resolve("model.onnx"));
        byte[] truncated = Arrays.copyOf(bytes, bytes.length / 2);
        Files.write(dir.resolve("model.onnx"), truncated);
        DemoModels.writeManifest(dir, withSha(good, ModelLoader.sha256Hex(truncated)));

        assertReason(dir, ModelLoadException.Reason.RUNTIME_ERROR);
    }

    @Test
    void manifestThatDisagreesWithTheModelIsASignatureMismatch() throws Exception {
        Path dir = DemoModels.write(root, 1);
        ModelManifest good = loader.readManifest(dir.toString());
        DemoModels.writeManifest(
                dir,
                good.toBuilder()
                        .input(new TensorSignature("features", "FLOAT", new long[] {-1, 5}))
                        .build());

        assertReason(dir, ModelLoadException.Reason.INTERFACE_MISMATCH);
    }

    @Test
    void modelFileMayNotLeaveTheManifestDirectory() throws Exception {
        Path dir = DemoModels.write(root, 1);
        ModelManifest good = loader.readManifest(dir.toString());
        DemoModels.writeManifest(dir, good.toBuilder().modelFile("../1/model.onnx").build());

        assertReason(dir, ModelLoadException.Reason.URI_NOT_ALLOWED);
    }

    @Test
    void onlyConfiguredSchemesAndRootsAreRead() throws Exception {
        Path dir = DemoModels.write(root.resolve("store"), 1);
        Path elsewhere = DemoModels.write(root.resolve("elsewhere"), 1);
        ModelLoader confined =
                new ModelLoader(
                        ModelLoaderConfig.defaults()
                                .withAllowedLocations(
                                        List.of("file"),
                                        List.of(root.resolve("store").toUri().toString())));
        confined.load(dir.toUri().toString()).close();
        confined.load(dir.toString()).close(); // a plain path is a file: URI

        for (String location :
                List.of(
                        elsewhere.toUri().toString(),
                        root.resolve("store") + "/../elsewhere/demo-classifier/1",
                        root.resolve("store-sibling").toUri().toString(),
                        "hdfs://namenode" + dir)) {
            assertThatThrownBy(() -> confined.load(location))
                    .as(location)
                    .isInstanceOf(ModelLoadException.class)
                    .satisfies(
                            e ->
                                    assertThat(((ModelLoadException) e).reason())
                                            .isEqualTo(ModelLoadException.Reason.URI_NOT_ALLOWED));
        }
        ModelLoader localOnly =
                new ModelLoader(
                        ModelLoaderConfig.defaults()
                                .withAllowedLocations(List.of("s3"), List.of()));
        assertThatThrownBy(() -> localOnly.load(dir.toString()))
                .hasMessageContaining("scheme 'file' is not one of");
    }

    @Test
    void filesOverTheSizeLimitAreRefused() throws Exception {
        Path dir = DemoModels.write(root, 1);
        ModelLoader small = new ModelLoader(ModelLoaderConfig.builder().maxModelBytes(100).build());
        assertThatThrownBy(() -> small.load(dir.toString()))
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.TOO_LARGE));
    }

    @Test
    void missingAndMalformedManifestsHaveClearReasons() throws Exception {
        assertReason(root.resolve("nowhere"), ModelLoadException.Reason.NOT_FOUND);

        Path dir = Files.createDirectories(root.resolve("bad"));
        Files.writeString(dir.resolve(ModelManifest.FILE_NAME), "{\"name\": \"x\"}");
        assertReason(dir, ModelLoadException.Reason.INVALID_MANIFEST);
    }

    @Test
    void cudaWithoutAGpuFailsClearlyUnlessFallbackIsConfigured() throws Exception {
        Path dir = DemoModels.write(root, 1);
        ModelLoader strict = new ModelLoader(ModelLoaderConfig.defaults().withCuda(0, false));
        assertThatThrownBy(() -> strict.load(dir.toString()))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("CUDA")
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.PROVIDER_UNAVAILABLE));

        ModelLoader lenient = new ModelLoader(ModelLoaderConfig.defaults().withCuda(0, true));
        try (LoadedModel model = lenient.load(dir.toString())) {
            assertThat(model.fellBackToCpu()).isTrue();
            assertThat(model.executionProvider()).isEqualTo(ExecutionProvider.CPU);
            assertThat(model.run(FloatBuffer.wrap(new float[DemoModels.FEATURES]), 1)[0])
                    .hasSize(2);
        }
    }

    @Test
    void servesTheCrayfishPeerModelWithARank3Input() throws Exception {
        Path peer =
                Path.of("..", "..", "shared", "peer-models", "crayfish-ffnn", "model-ffnn.onnx")
                        .toAbsolutePath()
                        .normalize();
        Assumptions.assumeTrue(
                Files.isReadable(peer), "skipped: ../shared/peer-models is absent (" + peer + ")");
        Path dir = Files.createDirectories(root.resolve("crayfish"));
        byte[] bytes = Files.readAllBytes(peer);
        Files.write(dir.resolve("model-ffnn.onnx"), bytes);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name("crayfish-ffnn")
                        .version("1")
                        .modelFile("model-ffnn.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature("input", "FLOAT", new long[] {-1, 1, 784}))
                        .output(
                                new TensorSignature("output", "FLOAT", new long[] {-1, 10}),
                                OutputRole.LOGITS)
                        .build());

        try (LoadedModel model = loader.load(dir.toString())) {
            assertThat(model.inputValuesPerRow()).isEqualTo(784);
            float[][] out = model.run(FloatBuffer.wrap(new float[3 * 784]), 3);
            assertThat(out).hasNumberOfRows(3);
            assertThat(out[0]).hasSize(10);
        }
    }

    private void assertReason(Path dir, ModelLoadException.Reason reason) {
        assertThatThrownBy(() -> loader.load(dir.toString()))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(reason.name())
                .satisfies(e -> assertThat(((ModelLoadException) e).reason()).isEqualTo(reason));
    }

    private static ModelManifest withSha(ModelManifest m, String sha) {
        return m.toBuilder().sha256(sha).build();
    }
}
