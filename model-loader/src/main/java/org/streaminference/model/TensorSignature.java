package org.streaminference.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * Name, element type and shape of one model input or output, as a manifest declares it. A dimension
 * of -1 is dynamic; the first dimension is always the batch dimension.
 */
@PublicEvolving
public final class TensorSignature implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String name;
    private final String elementType;
    private final long[] shape;
    private final ElementType type;

    @JsonCreator
    public TensorSignature(
            @JsonProperty(value = "name", required = true) String name,
            @JsonProperty(value = "elementType", required = true) String elementType,
            @JsonProperty(value = "shape", required = true) long[] shape) {
        this.name = Objects.requireNonNull(name, "name");
        this.elementType = Objects.requireNonNull(elementType, "elementType");
        try {
            this.type = ElementType.valueOf(elementType);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + name
                            + "': element type '"
                            + elementType
                            + "' is not one of "
                            + Arrays.toString(ElementType.values()));
        }
        this.shape = Objects.requireNonNull(shape, "shape").clone();
    }

    @JsonProperty
    public String name() {
        return name;
    }

    @JsonProperty
    public String elementType() {
        return elementType;
    }

    /** The element type. */
    public ElementType type() {
        return type;
    }

    @JsonProperty
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Number of values one batch row holds: the product of all dimensions after the batch
     * dimension.
     */
    public int valuesPerRow() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalStateException(
                        "tensor '"
                                + name
                                + "' has a dynamic non-batch dimension: "
                                + Arrays.toString(shape));
            }
            n *= shape[i];
        }
        return Math.toIntExact(n);
    }

    /** The shape of a batch of {@code batchSize} rows. */
    public long[] batchShape(int batchSize) {
        long[] s = shape.clone();
        s[0] = batchSize;
        return s;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TensorSignature)) {
            return false;
        }
        TensorSignature that = (TensorSignature) o;
        return name.equals(that.name)
                && elementType.equals(that.elementType)
                && Arrays.equals(shape, that.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, elementType, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + ":" + elementType + Arrays.toString(shape);
    }
}
