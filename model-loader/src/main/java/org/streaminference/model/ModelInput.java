package org.streaminference.model;

import org.streaminference.schemas.FeatureLayout;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;

/**
 * One input of a model as its manifest declares it: the tensor's name, element type and shape
 * (first dimension the batch: -1 where it is dynamic, or the fixed batch size an export may have;
 * -1 for other dynamic dimensions), and what feeds it: a group of the feature spec by name ({@code
 * features} is the group of every feature a spec does not put in another), or an output of the
 * version's tokenizer ({@code tokenizer.input_ids}, {@code tokenizer.attention_mask}, {@code
 * tokenizer.token_type_ids}).
 */
@PublicEvolving
public final class ModelInput implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The group a spec's features belong to unless they name another. */
    public static final String DEFAULT_GROUP = FeatureLayout.DEFAULT_GROUP;

    /** Prefix of an input fed by the tokenizer. */
    public static final String TOKENIZER_PREFIX = "tokenizer.";

    /** What a tokenizer gives, in the names Hugging Face exports use. */
    public static final Set<String> TOKENIZER_OUTPUTS =
            Set.of("input_ids", "attention_mask", "token_type_ids");

    private final TensorSignature tensor;
    private final String from;

    @JsonCreator
    public ModelInput(
            @JsonProperty(value = "name", required = true) String name,
            @JsonProperty(value = "elementType", required = true) ElementType elementType,
            @JsonProperty(value = "shape", required = true) long[] shape,
            @JsonProperty("from") String from) {
        this.tensor =
                new TensorSignature(
                        name, Objects.requireNonNull(elementType, "elementType").name(), shape);
        this.from = from == null ? DEFAULT_GROUP : from;
        if (elementType == ElementType.MAP_SEQUENCE) {
            throw new IllegalArgumentException(
                    "input '" + name + "': a sequence of maps cannot be fed");
        }
        if (shape.length < 1 || (shape[0] != -1 && shape[0] < 1)) {
            throw new IllegalArgumentException(
                    "input '"
                            + name
                            + "' must have a batch dimension first: -1 where it"
                            + " is dynamic, or the fixed batch size of the export");
        }
        if (fromTokenizer()) {
            if (!TOKENIZER_OUTPUTS.contains(tokenizerOutput())) {
                throw new IllegalArgumentException(
                        "input '"
                                + name
                                + "' is fed from '"
                                + this.from
                                + "'; a tokenizer"
                                + " gives "
                                + TOKENIZER_OUTPUTS);
            }
            if (shape.length != 2 || !elementType.isInteger()) {
                throw new IllegalArgumentException(
                        "input '"
                                + name
                                + "' is fed by the tokenizer, so it must be an"
                                + " INT64 or INT32 tensor [batch, sequence]");
            }
        } else {
            ManifestNames.requireSafeName(this.from, "from");
            for (int i = 1; i < shape.length; i++) {
                if (shape[i] < 0) {
                    throw new IllegalArgumentException(
                            "input '"
                                    + name
                                    + "' is fed by feature group '"
                                    + this.from
                                    + "', so every dimension after the batch must be fixed; the manifest has "
                                    + Arrays.toString(shape));
                }
            }
        }
    }

    /** An input named {@code tensor.name()} fed by feature group {@code from}. */
    public static ModelInput of(TensorSignature tensor, String from) {
        return new ModelInput(tensor.name(), tensor.type(), tensor.shape(), from);
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

    /** A feature group's name, or {@code tokenizer.<output>}. */
    @JsonProperty
    public String from() {
        return from;
    }

    public boolean fromTokenizer() {
        return from.startsWith(TOKENIZER_PREFIX);
    }

    /** For an input the tokenizer feeds: which of its outputs. */
    public String tokenizerOutput() {
        return from.substring(TOKENIZER_PREFIX.length());
    }

    public TensorSignature tensor() {
        return tensor;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelInput that && tensor.equals(that.tensor) && from.equals(that.from);
    }

    @Override
    public int hashCode() {
        return Objects.hash(tensor, from);
    }

    @Override
    public String toString() {
        return tensor + "<-" + from;
    }
}
