package org.streaminference.model;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;

/**
 * Refuses models whose tensors live in external files (ONNX external data): ONNX Runtime would read those files by
 * paths written inside the model, relative to wherever it resolves them, outside every check the loader makes on the
 * model file. The whole graph is searched, subgraphs of control-flow nodes included. Parsed with ONNX's own protobuf
 * classes; a model that does not parse is left to ONNX Runtime, which refuses it with its own error.
 */
final class OnnxExternalData {
    private OnnxExternalData() {}

    static void refuseIfAny(ModelManifest manifest, byte[] model) throws ModelLoadException {
        OnnxMl.ModelProto proto;
        try {
            proto = OnnxMl.ModelProto.parseFrom(model);
        } catch (InvalidProtocolBufferException e) {
            return;
        }
        String where = external(proto.getGraph(), 0);
        if (where != null) {
            throw new ModelLoadException(ModelLoadException.Reason.EXTERNAL_DATA, manifest.id() + ": tensor '"
                    + org.streaminference.schemas.Printable.truncate(where) + "' reads external data; export the model"
                    + " with its weights inside the .onnx file (e.g. onnx.save(model, path,"
                    + " save_as_external_data=False))");
        }
    }

    /** The name of the first tensor with external data in {@code graph}, or null. */
    private static String external(OnnxMl.GraphProto graph, int depth) {
        if (depth > 64) {
            return "(nested too deep)";
        }
        for (OnnxMl.TensorProto t : graph.getInitializerList()) {
            if (isExternal(t)) {
                return t.getName();
            }
        }
        for (OnnxMl.SparseTensorProto t : graph.getSparseInitializerList()) {
            if (isExternal(t.getValues()) || isExternal(t.getIndices())) {
                return t.getValues().getName();
            }
        }
        for (OnnxMl.NodeProto node : graph.getNodeList()) {
            for (OnnxMl.AttributeProto a : node.getAttributeList()) {
                if (a.hasT() && isExternal(a.getT())) {
                    return a.getT().getName();
                }
                for (OnnxMl.TensorProto t : a.getTensorsList()) {
                    if (isExternal(t)) {
                        return t.getName();
                    }
                }
                if (a.hasG()) {
                    String inner = external(a.getG(), depth + 1);
                    if (inner != null) {
                        return inner;
                    }
                }
                for (OnnxMl.GraphProto g : a.getGraphsList()) {
                    String inner = external(g, depth + 1);
                    if (inner != null) {
                        return inner;
                    }
                }
            }
        }
        return null;
    }

    private static boolean isExternal(OnnxMl.TensorProto t) {
        return t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0;
    }
}
