package org.streaminference.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * Describes one model version: where its ONNX file is, the checksum that file must have, and the signature it
 * must expose. The manifest is the contract between whoever publishes a model and the job that serves it; it is
 * stored as {@code manifest.json} next to the model file.
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public final class ModelManifest implements Serializable {
    private static final long serialVersionUID = 1L;

    /** File name of a manifest inside a model version directory. */
    public static final String FILE_NAME = "manifest.json";

    private final String name;
    private final String version;
    private final String modelFile;
    private final String sha256;
    private final TensorSignature input;
    private final TensorSignature output;
    private final OutputKind outputKind;
    private final List<String> labels;
    private final String featureSpec;
    private final long createdAt;

    @JsonCreator
    public ModelManifest(
            @JsonProperty(value = "name", required = true) String name,
            @JsonProperty(value = "version", required = true) String version,
            @JsonProperty(value = "modelFile", required = true) String modelFile,
            @JsonProperty(value = "sha256", required = true) String sha256,
            @JsonProperty(value = "input", required = true) TensorSignature input,
            @JsonProperty(value = "output", required = true) TensorSignature output,
            @JsonProperty(value = "outputKind", required = true) OutputKind outputKind,
            @JsonProperty("labels") List<String> labels,
            @JsonProperty("featureSpec") String featureSpec,
            @JsonProperty("createdAt") long createdAt) {
        this.name = requireText(name, "name");
        this.version = requireText(version, "version");
        this.modelFile = requireText(modelFile, "modelFile");
        this.sha256 = requireText(sha256, "sha256").toLowerCase(java.util.Locale.ROOT);
        if (!this.sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("sha256 must be 64 hex digits, got '" + sha256 + "'");
        }
        this.input = Objects.requireNonNull(input, "input");
        this.output = Objects.requireNonNull(output, "output");
        this.outputKind = Objects.requireNonNull(outputKind, "outputKind");
        this.labels = labels == null ? List.of() : List.copyOf(labels);
        this.featureSpec = featureSpec;
        this.createdAt = createdAt;
    }

    private static String requireText(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("manifest field '" + field + "' is missing or blank");
        }
        return value;
    }

    @JsonProperty
    public String name() {
        return name;
    }

    @JsonProperty
    public String version() {
        return version;
    }

    /** The model file, relative to the manifest's directory or an absolute URI. */
    @JsonProperty
    public String modelFile() {
        return modelFile;
    }

    @JsonProperty
    public String sha256() {
        return sha256;
    }

    @JsonProperty
    public TensorSignature input() {
        return input;
    }

    @JsonProperty
    public TensorSignature output() {
        return output;
    }

    @JsonProperty
    public OutputKind outputKind() {
        return outputKind;
    }

    @JsonProperty
    public List<String> labels() {
        return labels;
    }

    @JsonProperty
    public String featureSpec() {
        return featureSpec;
    }

    @JsonProperty
    public long createdAt() {
        return createdAt;
    }

    /** {@code name:version}, the way logs and metrics name a model version. */
    public String id() {
        return name + ":" + version;
    }

    @Override
    public String toString() {
        return "ModelManifest{" + id() + ", file=" + modelFile + ", input=" + input + ", output=" + output + "}";
    }
}
