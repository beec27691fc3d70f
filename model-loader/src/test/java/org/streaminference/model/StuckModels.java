package org.streaminference.model;

import ai.onnx.proto.OnnxMl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Real ONNX models that do not finish a run, for the tests of run termination: a {@code Loop} over
 * the input whose trip count is, for {@link #neverWarmsUp}, the largest int64 (its warm-up run
 * would take longer than the universe has), and for {@link #stuckOnLargeInputs}, the largest input
 * value (a row of zeros, the warm-up, is instant; a feature of 1e15 is not). Each takes the demo
 * spec's 27 features and answers a score [N,1] (the sum of its inputs).
 */
public final class StuckModels {
    private static final int FLOAT = OnnxMl.TensorProto.DataType.FLOAT.getNumber();
    private static final int INT64 = OnnxMl.TensorProto.DataType.INT64.getNumber();
    private static final int BOOL = OnnxMl.TensorProto.DataType.BOOL.getNumber();

    private StuckModels() {}

    /** A version whose warm-up never ends; returns its directory. */
    public static Path neverWarmsUp(Path root, String name, String version) throws IOException {
        return write(root, name, version, true);
    }

    /** A version that warms up at once but runs for ever on a record with a large feature. */
    public static Path stuckOnLargeInputs(Path root, String name, String version)
            throws IOException {
        return write(root, name, version, false);
    }

    private static Path write(Path root, String name, String version, boolean forever)
            throws IOException {
        int width = DemoModels.FEATURES;
        OnnxMl.GraphProto body =
                OnnxMl.GraphProto.newBuilder()
                        .setName("body")
                        .addInput(tensor("i", INT64))
                        .addInput(tensor("cond_in", BOOL))
                        .addInput(tensor("x_in", FLOAT, -1, width))
                        .addOutput(tensor("cond_out", BOOL))
                        .addOutput(tensor("x_out", FLOAT, -1, width))
                        .addNode(node("Identity", "cond_out", "cond_in"))
                        .addNode(node("Identity", "x_out", "x_in"))
                        .build();
        OnnxMl.GraphProto.Builder graph =
                OnnxMl.GraphProto.newBuilder()
                        .setName("stuck")
                        .addInput(tensor(DemoModels.INPUT, FLOAT, -1, width))
                        .addOutput(tensor("score", FLOAT, -1, 1))
                        .addInitializer(
                                OnnxMl.TensorProto.newBuilder()
                                        .setName("go")
                                        .setDataType(BOOL)
                                        .addInt32Data(1))
                        .addInitializer(
                                OnnxMl.TensorProto.newBuilder()
                                        .setName("axis1")
                                        .setDataType(INT64)
                                        .addDims(1)
                                        .addInt64Data(1));
        if (forever) {
            graph.addInitializer(
                    OnnxMl.TensorProto.newBuilder()
                            .setName("trips")
                            .setDataType(INT64)
                            .addInt64Data(Long.MAX_VALUE));
        } else {
            graph.addNode(
                    node("ReduceMax", "largest", DemoModels.INPUT).toBuilder()
                            .addAttribute(
                                    OnnxMl.AttributeProto.newBuilder()
                                            .setName("keepdims")
                                            .setI(0)
                                            .setType(OnnxMl.AttributeProto.AttributeType.INT)));
            graph.addNode(
                    node("Cast", "trips", "largest").toBuilder()
                            .addAttribute(
                                    OnnxMl.AttributeProto.newBuilder()
                                            .setName("to")
                                            .setI(INT64)
                                            .setType(OnnxMl.AttributeProto.AttributeType.INT)));
        }
        graph.addNode(
                OnnxMl.NodeProto.newBuilder()
                        .setOpType("Loop")
                        .addInput("trips")
                        .addInput("go")
                        .addInput(DemoModels.INPUT)
                        .addOutput("looped")
                        .addAttribute(
                                OnnxMl.AttributeProto.newBuilder()
                                        .setName("body")
                                        .setType(OnnxMl.AttributeProto.AttributeType.GRAPH)
                                        .setG(body)));
        graph.addNode(
                OnnxMl.NodeProto.newBuilder()
                        .setOpType("ReduceSum")
                        .addInput("looped")
                        .addInput("axis1")
                        .addOutput("score"));
        byte[] model =
                OnnxMl.ModelProto.newBuilder()
                        .setIrVersion(8)
                        .setGraph(graph)
                        .addOpsetImport(
                                OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                        .build()
                        .toByteArray();
        Path dir = root.resolve(name).resolve(version);
        Files.createDirectories(dir);
        Files.write(dir.resolve("model.onnx"), model);
        DemoModels.writeManifest(
                dir,
                ModelManifest.builder()
                        .name(name)
                        .version(version)
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(model))
                        .input(
                                new TensorSignature(
                                        DemoModels.INPUT, "FLOAT", new long[] {-1, width}))
                        .output(
                                new TensorSignature("score", "FLOAT", new long[] {-1, 1}),
                                OutputRole.SCORE)
                        .featureSpec(DemoModels.SPEC)
                        .build());
        return dir;
    }

    private static OnnxMl.NodeProto node(String op, String output, String... inputs) {
        OnnxMl.NodeProto.Builder node =
                OnnxMl.NodeProto.newBuilder().setOpType(op).addOutput(output);
        for (String input : inputs) {
            node.addInput(input);
        }
        return node.build();
    }

    private static OnnxMl.ValueInfoProto tensor(String name, int type, long... dims) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
        for (long d : dims) {
            shape.addDim(
                    d < 0
                            ? OnnxMl.TensorShapeProto.Dimension.newBuilder()
                                    .setDimParam("batch")
                                    .build()
                            : OnnxMl.TensorShapeProto.Dimension.newBuilder()
                                    .setDimValue(d)
                                    .build());
        }
        return OnnxMl.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(
                        OnnxMl.TypeProto.newBuilder()
                                .setTensorType(
                                        OnnxMl.TypeProto.Tensor.newBuilder()
                                                .setElemType(type)
                                                .setShape(shape)))
                .build();
    }
}
