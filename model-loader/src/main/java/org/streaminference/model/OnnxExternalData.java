package org.streaminference.model;

import org.streaminference.schemas.UntrustedText;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;
import org.apache.flink.annotation.Internal;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Finds the tensors of a model that live in external files (ONNX external data). ONNX Runtime reads
 * such files by paths written inside the model, relative to wherever it resolves them, outside
 * every check the loader makes on the model file; so a version may use external data only where its
 * signed manifest names each file with its sha256 (see {@link ModelLoader}). The whole graph is
 * searched, subgraphs of control-flow nodes included. Parsed with ONNX's own protobuf classes; a
 * model that does not parse is left to ONNX Runtime, which refuses it with its own error.
 */
@Internal
public final class OnnxExternalData {
    private OnnxExternalData() {}

    /**
     * The external data files the model reads, as its tensors name them (empty for a self-contained
     * model).
     *
     * @throws ModelLoadException EXTERNAL_DATA for a tensor whose location is not a plain path
     *     inside the model's directory
     */
    public static Set<String> locations(String modelId, byte[] model) throws ModelLoadException {
        OnnxMl.ModelProto proto;
        try {
            proto = OnnxMl.ModelProto.parseFrom(model);
        } catch (InvalidProtocolBufferException e) {
            return Set.of();
        }
        Map<String, String> found = new LinkedHashMap<>();
        collect(proto.getGraph(), 0, found);
        Set<String> locations = new TreeSet<>();
        for (Map.Entry<String, String> tensor : found.entrySet()) {
            if (!ManifestNames.isPlainRelativePath(tensor.getValue())) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.EXTERNAL_DATA,
                        modelId
                                + ": tensor '"
                                + UntrustedText.excerpt(tensor.getKey())
                                + "' reads external data"
                                + " from outside the version's directory");
            }
            locations.add(tensor.getValue());
        }
        return locations;
    }

    /**
     * Records tensor name → external location for every tensor with external data in {@code graph}.
     */
    private static void collect(OnnxMl.GraphProto graph, int depth, Map<String, String> found)
            throws ModelLoadException {
        if (depth > 64) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.EXTERNAL_DATA, "subgraphs nested too deep");
        }
        for (OnnxMl.TensorProto t : graph.getInitializerList()) {
            add(t, found);
        }
        for (OnnxMl.SparseTensorProto t : graph.getSparseInitializerList()) {
            add(t.getValues(), found);
            add(t.getIndices(), found);
        }
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            for (OnnxMl.AttributeProto a : node.getAttributeList()) {
                if (a.hasT()) {
                    add(a.getT(), found);
                }
                for (OnnxMl.TensorProto t : a.getTensorsList()) {
                    add(t, found);
                }
                if (a.hasG()) {
                    collect(a.getG(), depth + 1, found);
                }
                for (OnnxMl.GraphProto g : a.getGraphsList()) {
                    collect(g, depth + 1, found);
                }
            }
        }
    }

    private static void add(OnnxMl.TensorProto t, Map<String, String> found) {
        if (t.getDataLocation() != OnnxMl.TensorProto.DataLocation.EXTERNAL
                && t.getExternalDataCount() == 0) {
            return;
        }
        String location = "";
        for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location")) {
                location = e.getValue();
            }
        }
        found.put(t.getName(), location);
    }
}
