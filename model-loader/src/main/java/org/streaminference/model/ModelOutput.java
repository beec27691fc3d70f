package org.streaminference.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * One output of a model as its manifest declares it: the tensor's name, element type and shape, and
 * its {@link OutputRole} in the prediction. A sigmoid has a threshold (default 0.5); an embedding
 * of shape [N,T,D] a {@link Pooling} and whether the pooled vector is L2-normalised. Outputs a
 * manifest does not list are not fetched.
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class ModelOutput implements Serializable {
    private static final long serialVersionUID = 1L;

    private final TensorSignature tensor;
    private final OutputRole role;
    private final Double threshold;
    private final Pooling pooling;
    private final Boolean normalize;

    @JsonCreator
    public ModelOutput(
            @JsonProperty(value = "name", required = true) String name,
            @JsonProperty(value = "elementType", required = true) ElementType elementType,
            @JsonProperty(value = "shape", required = true) long[] shape,
            @JsonProperty(value = "role", required = true) OutputRole role,
            @JsonProperty("threshold") Double threshold,
            @JsonProperty("pooling") Pooling pooling,
            @JsonProperty("normalize") Boolean normalize) {
        this.tensor =
                new TensorSignature(
                        name, Objects.requireNonNull(elementType, "elementType").name(), shape);
        this.role = Objects.requireNonNull(role, "role");
        if (shape.length < 1) {
            throw new IllegalArgumentException("output '" + name + "' must have a batch dimension");
        }
        String where =
                "output '"
                        + name
                        + "' ("
                        + role
                        + ", "
                        + elementType
                        + Arrays.toString(shape)
                        + "): ";
        boolean floating = elementType.isFloatingPoint();
        int rank = shape.length;
        switch (role) {
            case SCORE, SIGMOID ->
                    require(
                            floating && (rank == 1 || (rank == 2 && shape[1] == 1)),
                            where + "must be a FLOAT or DOUBLE tensor [N] or [N,1]");
            case PROBABILITIES ->
                    require(
                            elementType == ElementType.MAP_SEQUENCE || (floating && rank == 2),
                            where
                                    + "must be a FLOAT or DOUBLE tensor [N,K] or a ZipMap sequence of maps");
            case LOGITS ->
                    require(
                            floating && rank == 2,
                            where + "must be a FLOAT or DOUBLE tensor [N,K]");
            case LABEL ->
                    require(
                            (elementType.isInteger() || elementType == ElementType.STRING)
                                    && (rank == 1 || (rank == 2 && shape[1] == 1)),
                            where + "must be an INT64, INT32 or STRING" + " tensor [N] or [N,1]");
            case EMBEDDING ->
                    require(
                            floating && (rank == 2 || rank == 3),
                            where + "must be a FLOAT or DOUBLE" + " tensor [N,D] or [N,T,D]");
            case TENSOR ->
                    require(
                            floating || elementType.isInteger() || elementType == ElementType.BOOL,
                            where + "must be a numeric tensor");
            default -> throw new IllegalArgumentException(where + "unknown role");
        }
        if ((role == OutputRole.PROBABILITIES || role == OutputRole.LOGITS)
                && rank == 2
                && shape[1] == 1) {
            throw new IllegalArgumentException(
                    where
                            + "one value per row is not a distribution over classes; a"
                            + " binary classifier's single probability is a SIGMOID output (with a threshold)");
        }
        if (role == OutputRole.SIGMOID) {
            this.threshold = threshold == null ? 0.5 : threshold;
            require(
                    this.threshold > 0 && this.threshold < 1,
                    where + "the threshold must be between 0 and 1");
        } else {
            require(threshold == null, where + "only a SIGMOID output has a threshold");
            this.threshold = null;
        }
        if (role == OutputRole.EMBEDDING) {
            Pooling p = pooling == null ? (rank == 2 ? Pooling.NONE : null) : pooling;
            require(p != null, where + "an embedding per token needs its pooling (MEAN or CLS)");
            require(
                    (rank == 2) == (p == Pooling.NONE),
                    where
                            + (rank == 2
                                    ? "is one vector per row: pooling NONE"
                                    : "is one vector per token: pooling MEAN or CLS"));
            this.pooling = p;
            this.normalize = normalize != null && normalize;
        } else {
            require(
                    pooling == null && normalize == null,
                    where + "only an EMBEDDING output has pooling and" + " normalize");
            this.pooling = null;
            this.normalize = null;
        }
        if (role != OutputRole.TENSOR && role != OutputRole.EMBEDDING) {
            for (int i = 1; i < rank; i++) {
                require(
                        shape[i] >= 0
                                || role == OutputRole.PROBABILITIES
                                || role == OutputRole.LOGITS,
                        where + "dimension " + i + " must be fixed");
            }
        }
    }

    /** An output of {@code role} with the role's defaults. */
    public static ModelOutput of(TensorSignature tensor, OutputRole role) {
        return new ModelOutput(
                tensor.name(), tensor.type(), tensor.shape(), role, null, null, null);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    @JsonProperty
    public String name() {
        return tensor.name();
    }

    @JsonProperty
    public ElementType elementType() {
        return tensor.type();
    }

    @JsonProperty
    public long[] shape() {
        return tensor.shape();
    }

    @JsonProperty
    public OutputRole role() {
        return role;
    }

    /** For a SIGMOID output: the probability at and above which the row is class 1. */
    @JsonProperty
    public Double threshold() {
        return threshold;
    }

    @JsonProperty
    public Pooling pooling() {
        return pooling;
    }

    @JsonProperty
    public Boolean normalize() {
        return normalize;
    }

    public TensorSignature tensor() {
        return tensor;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelOutput that
                && tensor.equals(that.tensor)
                && role == that.role
                && Objects.equals(threshold, that.threshold)
                && pooling == that.pooling
                && Objects.equals(normalize, that.normalize);
    }

    @Override
    public int hashCode() {
        return Objects.hash(tensor, role, threshold, pooling, normalize);
    }

    @Override
    public String toString() {
        return tensor + " as " + role;
    }
}
