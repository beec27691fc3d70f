package org.streaminference.model;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;

/** Creates input tensors of the element types a manifest may declare. */
@Internal
public final class OnnxTensors {
    private OnnxTensors() {}

    /** A tensor of {@code shape} filled with zeros (empty strings, false). */
    public static OnnxTensor zeros(OrtEnvironment env, ElementType type, long[] shape)
            throws OrtException {
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        int n = Math.toIntExact(count);
        if (type == ElementType.STRING) {
            String[] empty = new String[n];
            Arrays.fill(empty, "");
            return OnnxTensor.createTensor(env, empty, shape);
        }
        return ofBytes(
                env,
                type,
                ByteBuffer.allocateDirect(n * bytesPer(type)).order(ByteOrder.nativeOrder()),
                shape);
    }

    /**
     * A tensor of an integer type holding {@code values} (narrowed to int32 where the type is
     * INT32).
     */
    public static OnnxTensor ofLongs(
            OrtEnvironment env, ElementType type, long[] values, long[] shape) throws OrtException {
        if (type == ElementType.INT64) {
            return OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape);
        }
        if (type == ElementType.INT32) {
            int[] narrow = new int[values.length];
            for (int i = 0; i < values.length; i++) {
                narrow[i] = Math.toIntExact(values[i]);
            }
            return OnnxTensor.createTensor(env, IntBuffer.wrap(narrow), shape);
        }
        throw new IllegalArgumentException("integer values cannot feed a " + type + " input");
    }

    /**
     * What an input fed by the tokenizer takes from a batch's tokens: one of them, [rows, length].
     */
    public static OnnxTensor ofTokens(
            OrtEnvironment env, ModelInput input, TextTokenizer.Tokens tokens) throws OrtException {
        return ofLongs(
                env,
                input.elementType(),
                tokens.get(input.tokenizerOutput()),
                new long[] {tokens.rows(), tokens.length()});
    }

    /**
     * A tensor over {@code buffer} (native order, position 0, as many bytes as the shape needs).
     */
    public static OnnxTensor ofBytes(
            OrtEnvironment env, ElementType type, ByteBuffer buffer, long[] shape)
            throws OrtException {
        return OnnxTensor.createTensor(env, buffer, shape, javaType(type));
    }

    public static int bytesPer(ElementType type) {
        return switch (type) {
            case FLOAT, INT32 -> 4;
            case DOUBLE, INT64 -> 8;
            case BOOL -> 1;
            default -> throw new IllegalArgumentException(type + " has no fixed width");
        };
    }

    private static OnnxJavaType javaType(ElementType type) {
        return switch (type) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT64 -> OnnxJavaType.INT64;
            case INT32 -> OnnxJavaType.INT32;
            case BOOL -> OnnxJavaType.BOOL;
            default -> throw new IllegalArgumentException(type + " is not a fixed-width type");
        };
    }
}
