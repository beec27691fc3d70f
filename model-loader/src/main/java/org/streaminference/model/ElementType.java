package org.streaminference.model;

import ai.onnxruntime.MapInfo;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.SequenceInfo;
import ai.onnxruntime.TensorInfo;
import org.apache.flink.annotation.PublicEvolving;

/**
 * The element type of a model input or output, as a manifest names it. {@code MAP_SEQUENCE} is the
 * {@code seq(map(key, float))} that scikit-learn, LightGBM and XGBoost exports give their class
 * probabilities as (ONNX-ML's ZipMap).
 */
@PublicEvolving
public enum ElementType {
    FLOAT,
    DOUBLE,
    INT64,
    INT32,
    BOOL,
    STRING,
    MAP_SEQUENCE;

    /** Whether a value of this type is a number a prediction can be read from. */
    public boolean isFloatingPoint() {
        return this == FLOAT || this == DOUBLE;
    }

    public boolean isInteger() {
        return this == INT64 || this == INT32;
    }

    /**
     * The type of an ONNX Runtime input or output, or null where this project cannot feed or read
     * it.
     */
    public static ElementType of(NodeInfo node) {
        if (node.getInfo() instanceof TensorInfo tensor) {
            return of(tensor.type);
        }
        if (node.getInfo() instanceof SequenceInfo sequence && sequence.isSequenceOfMaps()) {
            MapInfo map = sequence.mapInfo;
            boolean floatValues =
                    map.valueType == OnnxJavaType.FLOAT || map.valueType == OnnxJavaType.DOUBLE;
            boolean keys = map.keyType == OnnxJavaType.INT64 || map.keyType == OnnxJavaType.STRING;
            return floatValues && keys ? MAP_SEQUENCE : null;
        }
        return null;
    }

    public static ElementType of(OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> FLOAT;
            case DOUBLE -> DOUBLE;
            case INT64 -> INT64;
            case INT32 -> INT32;
            case BOOL -> BOOL;
            case STRING -> STRING;
            default -> null;
        };
    }

    /** The shape ONNX Runtime reports for {@code node}; a sequence is one value per batch row. */
    public static long[] shapeOf(NodeInfo node) {
        return node.getInfo() instanceof TensorInfo tensor ? tensor.getShape() : new long[] {-1};
    }
}
