package org.streaminference.bench;

import org.streaminference.model.DemoModels;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OnnxMlpWriter;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * The benchmark's models: a tiny and a heavy MLP written here, and the Crayfish peer model where it
 * is present.
 */
final class BenchModels {
    private BenchModels() {}

    /** A model to benchmark: where it is and how wide one input row is. */
    record Workload(String name, Path dir, int valuesPerRow, long records) {}

    /** 32 → 64 → 1: a model whose run is cheaper than moving its data. */
    static Workload tiny(Path root, long records) throws IOException {
        return mlp(root, "tiny-mlp", new int[] {32, 64, 1}, records);
    }

    /** 256 → 1024 → 1024 → 1: a model whose run dominates. */
    static Workload heavy(Path root, long records) throws IOException {
        return mlp(root, "heavy-mlp", new int[] {256, 1024, 1024, 1}, records);
    }

    /**
     * The tiny MLP again under another name: a second light model, for a fan-out to two light
     * models.
     */
    static Workload tinyCopy(Path root, long records) throws IOException {
        return mlp(root, "tiny-mlp-b", new int[] {32, 64, 1}, records);
    }

    /**
     * 32 → 1024 → 1536 → 1: the tiny MLP's input at about 50 times its cost per row in ONNX Runtime
     * (the benchmark measures the ratio), for a job that serves a light and a heavy model on the
     * same features.
     */
    static Workload wide(Path root, long records) throws IOException {
        return mlp(root, "wide-mlp", new int[] {32, 1024, 1536, 1}, records);
    }

    /**
     * The Crayfish benchmark's feed-forward network (input [batch, 1, 784], 10 logits), or null
     * where absent.
     */
    static Workload crayfish(Path root, Path sharedDir, long records) throws IOException {
        Path source = sharedDir.resolve("peer-models/crayfish-ffnn/model-ffnn.onnx");
        if (!Files.isReadable(source)) {
            return null;
        }
        Path dir = Files.createDirectories(root.resolve("crayfish-ffnn"));
        byte[] bytes = Files.readAllBytes(source);
        Files.write(dir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name("crayfish-ffnn")
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature("input", "FLOAT", new long[] {-1, 1, 784}))
                        .output(
                                new TensorSignature("output", "FLOAT", new long[] {-1, 10}),
                                OutputRole.LOGITS)
                        .build());
        return new Workload("crayfish-ffnn", dir, 784, records);
    }

    private static Workload mlp(Path root, String name, int[] sizes, long records)
            throws IOException {
        return mlp(root.resolve(name), name, "1", 17, sizes, records);
    }

    /**
     * Two versions of the heavy MLP with different weights, in {@code root/heavy-mlp/1} and {@code
     * /2}.
     */
    static List<Workload> heavyVersions(Path root, long records) throws IOException {
        int[] sizes = {256, 1024, 1024, 1};
        Path models = root.resolve("heavy-mlp");
        return List.of(
                mlp(models.resolve("1"), "heavy-mlp", "1", 17, sizes, records),
                mlp(models.resolve("2"), "heavy-mlp", "2", 18, sizes, records));
    }

    private static Workload mlp(
            Path dir, String name, String version, long seed, int[] sizes, long records)
            throws IOException {
        Random random = new Random(seed);
        OnnxMlpWriter writer = new OnnxMlpWriter("x", "y");
        for (int l = 0; l + 1 < sizes.length; l++) {
            float[][] w = new float[sizes[l]][sizes[l + 1]];
            float scale = (float) (1 / Math.sqrt(sizes[l]));
            for (float[] row : w) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = (float) random.nextGaussian() * scale;
                }
            }
            writer.dense(w, new float[sizes[l + 1]]);
        }
        byte[] bytes = writer.toBytes();
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name(name)
                        .version(version)
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature("x", "FLOAT", new long[] {-1, sizes[0]}))
                        .output(
                                new TensorSignature(
                                        "y", "FLOAT", new long[] {-1, sizes[sizes.length - 1]}),
                                OutputRole.SCORE)
                        .build());
        return new Workload(name, dir, sizes[0], records);
    }
}
