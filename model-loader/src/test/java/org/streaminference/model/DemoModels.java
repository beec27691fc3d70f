package org.streaminference.model;

import org.streaminference.model.drift.DriftBaseline;

import ai.onnx.proto.OnnxMl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The demo model: a small binary classifier over the 27 values of the demo feature spec ({@code
 * feature-specs/demo-transactions.yaml}), in two versions. Both share seeded weights; version 2
 * adds 1.0 to the positive class's bias, so its positive-class probability is strictly higher than
 * version 1's for every input: the two versions are told apart by any single prediction.
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
     * Writes versions 1 and 2 under {@code root/demo-classifier/<version>/} (model.onnx and
     * manifest.json) and returns the two version directories.
     */
    public static List<Path> writeTo(Path root) throws IOException {
        return List.of(write(root, 1), write(root, 2));
    }

    /** Writes one version and returns its directory. */
    public static Path write(Path root, int version) throws IOException {
        return writeAs(root, NAME, version);
    }

    /**
     * Writes the network of one version under another model name ({@code root/<name>/<version>/}):
     * a second model of the same features, for jobs that serve several.
     */
    public static Path writeAs(Path root, String name, int version) throws IOException {
        if (version != 1 && version != 2) {
            throw new IllegalArgumentException("the demo model has versions 1 and 2");
        }
        byte[] model = network(version).toBytes();
        Path dir = root.resolve(name).resolve(Integer.toString(version));
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.onnx"), model);
        ModelManifest manifest =
                ModelManifest.builder()
                        .name(name)
                        .version(Integer.toString(version))
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(model))
                        .input(new TensorSignature(INPUT, "FLOAT", new long[] {-1, FEATURES}))
                        .output(
                                new TensorSignature(
                                        OUTPUT, "FLOAT", new long[] {-1, LABELS.size()}),
                                OutputRole.PROBABILITIES)
                        .labels(LABELS)
                        .featureSpec(SPEC)
                        .build();
        writeManifest(dir, manifest);
        return dir;
    }

    /** The external data file of {@link #writeWithExternalWeights}. */
    public static final String EXTERNAL_WEIGHTS = "weights.bin";

    /**
     * Writes one version with its first weight tensor in {@value #EXTERNAL_WEIGHTS} beside the
     * model file (ONNX external data, as exporters of large models write it) and a manifest that
     * names the file with its sha256 when {@code covered}; returns its directory. It computes
     * exactly what {@link #write} writes.
     */
    public static Path writeWithExternalWeights(Path root, int version, boolean covered)
            throws IOException {
        Path dir = write(root, version);
        OnnxMl.ModelProto model =
                OnnxMl.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        OnnxMl.GraphProto.Builder graph = model.getGraph().toBuilder();
        OnnxMl.TensorProto weights = graph.getInitializer(0);
        byte[] data;
        if (!weights.getRawData().isEmpty()) {
            data = weights.getRawData().toByteArray();
        } else {
            ByteBuffer b =
                    ByteBuffer.allocate(4 * weights.getFloatDataCount())
                            .order(ByteOrder.LITTLE_ENDIAN);
            weights.getFloatDataList().forEach(b::putFloat);
            data = b.array();
        }
        Files.write(dir.resolve(EXTERNAL_WEIGHTS), data);
        graph.setInitializer(
                0,
                weights.toBuilder()
                        .clearRawData()
                        .clearFloatData()
                        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", EXTERNAL_WEIGHTS))
                        .addExternalData(entry("offset", "0"))
                        .addExternalData(entry("length", Integer.toString(data.length))));
        byte[] bytes = model.toBuilder().setGraph(graph).build().toByteArray();
        Files.write(dir.resolve("model.onnx"), bytes);
        ModelManifest m =
                ModelManifest.builder()
                        .name(NAME)
                        .version(Integer.toString(version))
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(new TensorSignature(INPUT, "FLOAT", new long[] {-1, FEATURES}))
                        .output(
                                new TensorSignature(
                                        OUTPUT, "FLOAT", new long[] {-1, LABELS.size()}),
                                OutputRole.PROBABILITIES)
                        .labels(LABELS)
                        .featureSpec(SPEC)
                        .files(
                                covered
                                        ? Map.of(EXTERNAL_WEIGHTS, ModelLoader.sha256Hex(data))
                                        : null)
                        .build();
        writeManifest(dir, m);
        return dir;
    }

    private static OnnxMl.StringStringEntryProto entry(String key, String value) {
        return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    /**
     * Gives the version in {@code dir} a training baseline, as {@code models publish --baseline}
     * does: the file beside the model and named, with its sha256, in the (unsigned) manifest.
     */
    public static void attachBaseline(Path dir, DriftBaseline baseline) throws IOException {
        byte[] json = baseline.toJson();
        Files.write(dir.resolve("baseline.json"), json);
        ModelManifest manifest =
                new ObjectMapper()
                        .readValue(
                                dir.resolve(ModelManifest.FILE_NAME).toFile(), ModelManifest.class);
        Map<String, String> files = new TreeMap<>(manifest.files());
        files.put("baseline.json", ModelLoader.sha256Hex(json));
        writeManifest(dir, manifest.toBuilder().baseline("baseline.json").files(files).build());
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
