package org.streaminference.model;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;
import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The class labels an exported classifier names in its graph: the {@code classlabels_int64s} or
 * {@code classlabels_strings} of its ONNX-ML classifier node ({@code TreeEnsembleClassifier},
 * {@code LinearClassifier}, {@code SVMClassifier}), in the order of the columns of its probability
 * output. Exports differ in that order (and in whether a ZipMap follows), so {@code models publish}
 * writes these labels into the manifest of a version whose answer is a probability tensor: its
 * classes are then known by name, and an ensemble combines them class by class.
 */
@Internal
public final class OnnxClassLabels {
    private OnnxClassLabels() {}

    /**
     * The labels, or an empty list where the graph has no classifier node, or classifiers naming
     * different ones.
     */
    public static List<String> of(byte[] model) {
        OnnxMl.ModelProto proto;
        try {
            proto = OnnxMl.ModelProto.parseFrom(model);
        } catch (InvalidProtocolBufferException e) {
            return List.of();
        }
        Set<List<String>> found = new LinkedHashSet<>();
        for (OnnxMl.NodeProto node : proto.getGraph().getNodeList()) {
            if (!"ai.onnx.ml".equals(node.getDomain())
                    || !node.getOpType().endsWith("Classifier")) {
                continue;
            }
            for (OnnxMl.AttributeProto attribute : node.getAttributeList()) {
                List<String> labels = new ArrayList<>();
                if (attribute.getName().equals("classlabels_int64s")) {
                    attribute.getIntsList().forEach(v -> labels.add(Long.toString(v)));
                } else if (attribute.getName().equals("classlabels_strings")) {
                    attribute.getStringsList().forEach(v -> labels.add(v.toStringUtf8()));
                }
                if (!labels.isEmpty()) {
                    found.add(List.copyOf(labels));
                }
            }
        }
        return found.size() == 1 ? found.iterator().next() : List.of();
    }
}
