package org.streaminference.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * The demo model: a small binary classifier over the 27 values of the demo feature spec
 * ({@code feature-specs/demo-transactions.yaml}), in two versions. Both share seeded
 * weights; version 2 adds 1.0 to the positive class's bias, so its positive-class probability is strictly higher
 * than version 1's for every input: the two versions are told apart by any single prediction.
 */
public final class DemoModels {
    public static final String NAME = "demo-classifier";
    public static final String INPUT = "features";
    public static final String OUTPUT = "probabilities";
    public static final int FEATURES = 27;
    /** The feature spec the demo model was trained on. */
    public static final String SPEC = "demo-transactions:1";
    public static final List<String> LABELS = List.of("normal", "suspicious");
    private static final int HIDDEN = 8;
    private static final long SEED = 20261126L;

    private DemoModels() {}

    /**
     * Writes versions 1 and 2 under {@code root/demo-classifier/<version>/} (model.onnx and manifest.json) and
     * returns the two version directories.
     */
    public static List<Path> writeTo(Path root) throws IOException {
        return List.of(write(root, 1), write(root, 2));
    }

    /** Writes one version and returns its directory. */
    public static Path write(Path root, int version) throws IOException {
        if (version != 1 && version != 2) {
            throw new IllegalArgumentException("the demo model has versions 1 and 2");
        }
        byte[] model = network(version).toBytes();
        Path dir = root.resolve(NAME).resolve(Integer.toString(version));
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.onnx"), model);
        ModelManifest manifest = new ModelManifest(
                NAME,
                Integer.toString(version),
                "model.onnx",
                ModelLoader.sha256Hex(model),
                new TensorSignature(INPUT, "FLOAT", new long[] {-1, FEATURES}),
                new TensorSignature(OUTPUT, "FLOAT", new long[] {-1, LABELS.size()}),
                OutputKind.PROBABILITIES,
                LABELS,
                SPEC,
                0L);
        writeManifest(dir, manifest);
        return dir;
    }

    /** Writes {@code manifest.json} into a model version directory. */
    public static void writeManifest(Path dir, ModelManifest manifest) throws IOException {
        new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(dir.resolve(ModelManifest.FILE_NAME).toFile(), manifest);
    }

    static OnnxMlpWriter network(int version) {
        Random random = new Random(SEED);
        float[][] w1 = gaussian(random, FEATURES, HIDDEN, 0.02f);
        float[] b1 = gaussian(random, 1, HIDDEN, 0.1f)[0];
        float[][] w2 = gaussian(random, HIDDEN, LABELS.size(), 0.7f);
        float[] b2 = gaussian(random, 1, LABELS.size(), 0.1f)[0];
        b2[1] -= 2.8f; // most demo traffic is 'normal' under version 1
        if (version == 2) {
            b2[1] += 1.0f;
        }
        return new OnnxMlpWriter(INPUT, OUTPUT).dense(w1, b1).dense(w2, b2).softmax();
    }

    private static float[][] gaussian(Random random, int rows, int cols, float scale) {
        float[][] m = new float[rows][cols];
        for (float[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) random.nextGaussian() * scale;
            }
        }
        return m;
    }
}
