package org.streaminference.model;

import ai.onnx.proto.OnnxMl;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes a multi-layer perceptron as a real ONNX model (Gemm and Tanh layers, then Softmax or
 * nothing), with a dynamic batch dimension. Lets the project make its demo and test models in Java,
 * with no Python toolchain.
 */
public final class OnnxMlpWriter {
    private static final int IR_VERSION = 8;
    private static final int OPSET = 13;

    private final String inputName;
    private final String outputName;
    private final List<float[][]> weights = new ArrayList<>();
    private final List<float[]> biases = new ArrayList<>();
    private boolean softmax;

    public OnnxMlpWriter(String inputName, String outputName) {
        this.inputName = inputName;
        this.outputName = outputName;
    }

    /**
     * Adds a dense layer {@code y = x W + b}, with {@code W} of shape [in, out]; layers but the
     * last use tanh.
     */
    public OnnxMlpWriter dense(float[][] w, float[] b) {
        if (w.length == 0 || w[0].length != b.length) {
            throw new IllegalArgumentException("weights [in, out] and bias [out] do not match");
        }
        if (!weights.isEmpty() && weights.get(weights.size() - 1)[0].length != w.length) {
            throw new IllegalArgumentException(
                    "layer input size does not match the previous layer's output");
        }
        weights.add(w);
        biases.add(b);
        return this;
    }

    /**
     * Ends the network with a softmax over the last layer's outputs, so the output holds
     * probabilities.
     */
    public OnnxMlpWriter softmax() {
        this.softmax = true;
        return this;
    }

    public int inputSize() {
        return weights.get(0).length;
    }

    public int outputSize() {
        return biases.get(biases.size() - 1).length;
    }

    public byte[] toBytes() {
        if (weights.isEmpty()) {
            throw new IllegalStateException("an MLP needs at least one layer");
        }
        OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder().setName("mlp");
        graph.addInput(valueInfo(inputName, inputSize()));
        graph.addOutput(valueInfo(outputName, outputSize()));

        String current = inputName;
        for (int layer = 0; layer < weights.size(); layer++) {
            boolean last = layer == weights.size() - 1;
            String w = "W" + layer;
            String b = "b" + layer;
            graph.addInitializer(tensor(w, weights.get(layer)));
            graph.addInitializer(tensor(b, biases.get(layer)));
            String gemmOut = last && !softmax ? outputName : "dense" + layer;
            graph.addNode(node("Gemm", List.of(current, w, b), gemmOut));
            current = gemmOut;
            if (!last) {
                String act = "tanh" + layer;
                graph.addNode(node("Tanh", List.of(current), act));
                current = act;
            }
        }
        if (softmax) {
            graph.addNode(
                    node("Softmax", List.of(current), outputName).toBuilder()
                            .addAttribute(
                                    OnnxMl.AttributeProto.newBuilder()
                                            .setName("axis")
                                            .setType(OnnxMl.AttributeProto.AttributeType.INT)
                                            .setI(1))
                            .build());
        }
        return OnnxMl.ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("streaminference")
                .addOpsetImport(
                        OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(graph)
                .build()
                .toByteArray();
    }

    private static OnnxMl.NodeProto node(String op, List<String> inputs, String output) {
        return OnnxMl.NodeProto.newBuilder()
                .setOpType(op)
                .setName(output + "_" + op)
                .addAllInput(inputs)
                .addOutput(output)
                .build();
    }

    private static OnnxMl.ValueInfoProto valueInfo(String name, int width) {
        OnnxMl.TensorShapeProto shape =
                OnnxMl.TensorShapeProto.newBuilder()
                        .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                        .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(width))
                        .build();
        return OnnxMl.ValueInfoProto.newBuilder()
                .setName(name)
                .setType(
                        OnnxMl.TypeProto.newBuilder()
                                .setTensorType(
                                        OnnxMl.TypeProto.Tensor.newBuilder()
                                                .setElemType(
                                                        OnnxMl.TensorProto.DataType.FLOAT
                                                                .getNumber())
                                                .setShape(shape)))
                .build();
    }

    private static OnnxMl.TensorProto tensor(String name, float[][] values) {
        OnnxMl.TensorProto.Builder t =
                OnnxMl.TensorProto.newBuilder()
                        .setName(name)
                        .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                        .addDims(values.length)
                        .addDims(values[0].length);
        for (float[] row : values) {
            for (float v : row) {
                t.addFloatData(v);
            }
        }
        return t.build();
    }

    private static OnnxMl.TensorProto tensor(String name, float[] values) {
        OnnxMl.TensorProto.Builder t =
                OnnxMl.TensorProto.newBuilder()
                        .setName(name)
                        .setDataType(OnnxMl.TensorProto.DataType.FLOAT.getNumber())
                        .addDims(values.length);
        for (float v : values) {
            t.addFloatData(v);
        }
        return t.build();
    }
}
