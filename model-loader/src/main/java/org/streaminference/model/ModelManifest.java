package org.streaminference.model;

import org.streaminference.schemas.StorableValues;
import org.streaminference.schemas.UntrustedText;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.io.Serializable;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Describes one model version: where its ONNX file is, the checksum that file must have, and the
 * signature it must expose. The manifest is the contract between whoever publishes a model and the
 * job that serves it; it is stored as {@code manifest.json} next to the model file.
 */
@PublicEvolving
@JsonIgnoreProperties(ignoreUnknown = false)
public final class ModelManifest implements Serializable {
    private static final long serialVersionUID = 1L;

    /** File name of a manifest inside a model version directory. */
    public static final String FILE_NAME = "manifest.json";

    /** Manifests larger than this are refused unread. */
    public static final int MAX_BYTES = 1024 * 1024;

    private static final ObjectMapper JSON =
            new ObjectMapper()
                    .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    // a key given twice would be read as its last value by one reader and its first
                    // by another
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final String name;
    private final String version;
    private final String modelFile;
    private final String sha256;
    private final List<ModelInput> inputs;
    private final List<ModelOutput> outputs;
    private final BatchingPolicy batching;
    private final TokenizerConfig tokenizer;
    private final String baseline;
    private final List<String> labels;
    private final String featureSpec;
    private final long createdAt;
    private final Map<String, String> files;

    /**
     * A manifest built field by field; {@link Builder#build()} checks it as a manifest read from
     * JSON is checked.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this manifest's fields, to derive another version's manifest. */
    public Builder toBuilder() {
        return new Builder()
                .name(name)
                .version(version)
                .modelFile(modelFile)
                .sha256(sha256)
                .inputs(inputs)
                .outputs(outputs)
                .batching(batching)
                .tokenizer(tokenizer)
                .baseline(baseline)
                .labels(labels)
                .featureSpec(featureSpec)
                .createdAt(createdAt)
                .files(files.isEmpty() ? null : files);
    }

    /**
     * Reads either form: {@code inputs}/{@code outputs}, or the single {@code input}, {@code
     * output} and {@code outputKind} of manifests written before models could have several (still
     * served as they were).
     */
    @JsonCreator
    private ModelManifest(
            @JsonProperty(value = "name", required = true) String name,
            @JsonProperty(value = "version", required = true) String version,
            @JsonProperty(value = "modelFile", required = true) String modelFile,
            @JsonProperty(value = "sha256", required = true) String sha256,
            @JsonProperty("inputs") List<ModelInput> inputs,
            @JsonProperty("outputs") List<ModelOutput> outputs,
            @JsonProperty("batching") BatchingPolicy batching,
            @JsonProperty("tokenizer") TokenizerConfig tokenizer,
            @JsonProperty("baseline") String baseline,
            @JsonProperty("input") TensorSignature legacyInput,
            @JsonProperty("output") TensorSignature legacyOutput,
            @JsonProperty("outputKind") OutputRole legacyOutputKind,
            @JsonProperty("labels") List<String> labels,
            @JsonProperty("featureSpec") String featureSpec,
            @JsonProperty("createdAt") long createdAt,
            @JsonProperty("files") Map<String, String> files) {
        this.name = ManifestNames.requireSafeName(name, "name");
        this.version = ManifestNames.requireSafeName(version, "version");
        this.modelFile = requireText(modelFile, "modelFile");
        this.sha256 = requireText(sha256, "sha256").toLowerCase(Locale.ROOT);
        if (!this.sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("sha256 must be 64 hex digits");
        }
        boolean legacy = legacyInput != null || legacyOutput != null || legacyOutputKind != null;
        if (legacy) {
            if (inputs != null || outputs != null) {
                throw new IllegalArgumentException(
                        "a manifest has 'inputs' and 'outputs', or the older 'input',"
                                + " 'output' and 'outputKind', not both");
            }
            Objects.requireNonNull(legacyInput, "manifest field 'input' is missing");
            Objects.requireNonNull(legacyOutput, "manifest field 'output' is missing");
            Objects.requireNonNull(legacyOutputKind, "manifest field 'outputKind' is missing");
            inputs = List.of(ModelInput.of(legacyInput, ModelInput.DEFAULT_GROUP));
            outputs = List.of(ModelOutput.of(legacyOutput, legacyOutputKind));
        }
        if (inputs == null || inputs.isEmpty()) {
            throw new IllegalArgumentException("manifest field 'inputs' is missing or empty");
        }
        if (outputs == null || outputs.isEmpty()) {
            throw new IllegalArgumentException("manifest field 'outputs' is missing or empty");
        }
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.batching = batching == null ? BatchingPolicy.DYNAMIC : batching;
        this.tokenizer = tokenizer;
        this.baseline = baseline;
        this.labels = labels == null ? List.of() : List.copyOf(labels);
        Map<String, String> checked = new TreeMap<>();
        if (files != null) {
            for (Map.Entry<String, String> f : files.entrySet()) {
                if (!ManifestNames.isPlainRelativePath(f.getKey())) {
                    throw new IllegalArgumentException(
                            "a file of 'files' is not a plain path inside the version's"
                                    + " directory");
                }
                if (f.getValue() == null
                        || !f.getValue().toLowerCase(Locale.ROOT).matches("[0-9a-f]{64}")) {
                    throw new IllegalArgumentException(
                            "the sha256 of a file of 'files' must be 64 hex digits");
                }
                checked.put(f.getKey(), f.getValue().toLowerCase(Locale.ROOT));
            }
        }
        this.files = Collections.unmodifiableMap(checked);
        for (String label : this.labels) {
            if (label == null || StorableValues.textProblem(label) != null) {
                throw new IllegalArgumentException(
                        "a label is null, contains U+0000 or an unpaired surrogate, or is"
                                + " longer than "
                                + StorableValues.MAX_TEXT_CHARS
                                + " characters");
            }
        }
        this.featureSpec = featureSpec;
        this.createdAt = createdAt;
        checkContract();
    }

    /**
     * Reads a manifest. Errors name the problem and its line and column, never the file's contents:
     * the location was chosen by whoever wrote the command, and the message goes back to them.
     */
    public static ModelManifest fromJson(byte[] json) {
        try {
            return JSON.readValue(json, ModelManifest.class);
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause();
            throw new IllegalArgumentException(
                    cause instanceof IllegalArgumentException
                                    || cause instanceof NullPointerException
                            ? String.valueOf(cause.getMessage())
                            : "a field has an invalid value");
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException(
                    "unknown field '" + UntrustedText.excerpt(e.getPropertyName()) + "'");
        } catch (MismatchedInputException e) {
            throw new IllegalArgumentException("a field is missing or has the wrong type" + at(e));
        } catch (JsonParseException e) {
            String problem = String.valueOf(e.getOriginalMessage());
            throw new IllegalArgumentException(
                    (problem.startsWith("Duplicate field")
                                    ? UntrustedText.excerpt(
                                                    problem.substring("Duplicate ".length()))
                                            + " given twice"
                                    : "not a JSON manifest")
                            + at(e));
        } catch (IOException e) {
            throw new IllegalArgumentException("not a JSON manifest" + at(e));
        }
    }

    private static String at(IOException e) {
        if (e instanceof JsonProcessingException j && j.getLocation() != null) {
            return " (line "
                    + j.getLocation().getLineNr()
                    + ", column "
                    + j.getLocation().getColumnNr()
                    + ")";
        }
        return "";
    }

    private static String requireText(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(
                    "manifest field '" + field + "' is missing or blank");
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

    /** The model's inputs and what feeds each. */
    @JsonProperty
    public List<ModelInput> inputs() {
        return inputs;
    }

    /** The outputs the prediction is read from, each with its role; others are not fetched. */
    @JsonProperty
    public List<ModelOutput> outputs() {
        return outputs;
    }

    @JsonProperty
    public BatchingPolicy batching() {
        return batching;
    }

    /** The version's tokenizer, or null. */
    @JsonProperty
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public TokenizerConfig tokenizer() {
        return tokenizer;
    }

    /**
     * The file of the version's training baseline ({@code DriftBaseline}), which drift monitoring
     * compares the served features and predictions with; null where it has none. Covered by {@link
     * #files()}.
     */
    @JsonProperty
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public String baseline() {
        return baseline;
    }

    /** The output of {@code role}, if the manifest declares one. */
    public Optional<ModelOutput> output(OutputRole role) {
        return outputs.stream().filter(o -> o.role() == role).findFirst();
    }

    /**
     * Checks what no single input or output can: unique names, at most one answer, label and
     * embedding, a tokenizer exactly where an input is fed by one, and its file covered by a
     * checksum.
     */
    private void checkContract() {
        Set<String> names = new HashSet<>();
        for (ModelInput in : inputs) {
            if (!names.add(in.name())) {
                throw new IllegalArgumentException("input '" + in.name() + "' is declared twice");
            }
            if (in.fromTokenizer() && tokenizer == null) {
                throw new IllegalArgumentException(
                        "input '"
                                + in.name()
                                + "' is fed from '"
                                + in.from()
                                + "' but the manifest has no 'tokenizer'");
            }
        }
        fixedBatch(); // the inputs agree on a fixed batch, if they have one
        names.clear();
        EnumMap<OutputRole, Integer> roles = new EnumMap<>(OutputRole.class);
        for (ModelOutput out : outputs) {
            if (!names.add(out.name())) {
                throw new IllegalArgumentException("output '" + out.name() + "' is declared twice");
            }
            roles.merge(out.role().isAnswer() ? OutputRole.SCORE : out.role(), 1, Integer::sum);
        }
        for (OutputRole single :
                List.of(OutputRole.SCORE, OutputRole.LABEL, OutputRole.EMBEDDING)) {
            if (roles.getOrDefault(single, 0) > 1) {
                throw new IllegalArgumentException(
                        single == OutputRole.SCORE
                                ? "at most one output may be the answer (SCORE, PROBABILITIES, LOGITS or SIGMOID)"
                                : "at most one output may have role " + single);
            }
        }
        if (tokenizer != null) {
            if (inputs.stream().noneMatch(ModelInput::fromTokenizer)) {
                throw new IllegalArgumentException(
                        "the manifest has a tokenizer but no input is fed from it");
            }
            if (!files.containsKey(tokenizer.file())) {
                throw new IllegalArgumentException(
                        "the tokenizer file '"
                                + tokenizer.file()
                                + "' must be listed"
                                + " in 'files' with its sha256");
            }
        }
        if (baseline != null && !files.containsKey(baseline)) {
            throw new IllegalArgumentException(
                    "the baseline file '"
                            + baseline
                            + "' must be listed in 'files' with"
                            + " its sha256");
        }
    }

    /**
     * The batch size the model's inputs fix, as some exports (PyTorch's with a fixed first
     * dimension) have it; 0 where the batch is dynamic. A version with a fixed batch of 1 runs a
     * row at a time; one of N is run in batches padded to N rows.
     *
     * @throws IllegalArgumentException when inputs fix different batch sizes
     */
    public int fixedBatch() {
        long fixed = 0;
        for (ModelInput in : inputs) {
            long batch = in.shape()[0];
            if (batch > 0) {
                if (fixed > 0 && batch != fixed) {
                    throw new IllegalArgumentException(
                            "the inputs fix different batch sizes ("
                                    + fixed
                                    + " and "
                                    + batch
                                    + ")");
                }
                fixed = batch;
            }
        }
        return Math.toIntExact(fixed);
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

    /**
     * Every other file the version reads, by its path inside the version's directory, with its
     * sha256: ONNX external data (weights kept beside the model file, as exports of large models
     * have them). Signed with the manifest.
     */
    @JsonProperty
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public Map<String, String> files() {
        return files;
    }

    /** {@code name:version}, the way logs and metrics name a model version. */
    public String id() {
        return name + ":" + version;
    }

    @Override
    public String toString() {
        return "ModelManifest{"
                + id()
                + ", file="
                + modelFile
                + ", inputs="
                + inputs
                + ", outputs="
                + outputs
                + "}";
    }

    /**
     * Builds a {@link ModelManifest}; name, version, modelFile, sha256, inputs and outputs are
     * required.
     */
    @PublicEvolving
    public static final class Builder {
        private String name;
        private String version;
        private String modelFile;
        private String sha256;
        private List<ModelInput> inputs;
        private List<ModelOutput> outputs;
        private BatchingPolicy batching;
        private TokenizerConfig tokenizer;
        private String baseline;
        private List<String> labels;
        private String featureSpec;
        private long createdAt;
        private Map<String, String> files;

        private Builder() {}

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder version(String version) {
            this.version = version;
            return this;
        }

        /** The model file's path inside the version's directory. */
        public Builder modelFile(String modelFile) {
            this.modelFile = modelFile;
            return this;
        }

        public Builder sha256(String sha256) {
            this.sha256 = sha256;
            return this;
        }

        public Builder inputs(List<ModelInput> inputs) {
            this.inputs = inputs;
            return this;
        }

        /**
         * A model of one input, fed by the spec's default group: every feature the spec does not
         * group.
         */
        public Builder input(TensorSignature input) {
            return inputs(List.of(ModelInput.of(input, ModelInput.DEFAULT_GROUP)));
        }

        public Builder outputs(List<ModelOutput> outputs) {
            this.outputs = outputs;
            return this;
        }

        /** A model whose one output has {@code role}, with the role's defaults. */
        public Builder output(TensorSignature output, OutputRole role) {
            return outputs(List.of(ModelOutput.of(output, role)));
        }

        /** {@link BatchingPolicy#DYNAMIC} unless set. */
        public Builder batching(BatchingPolicy batching) {
            this.batching = batching;
            return this;
        }

        public Builder tokenizer(TokenizerConfig tokenizer) {
            this.tokenizer = tokenizer;
            return this;
        }

        /** The training baseline's file, which {@link #files} must list; null for none. */
        public Builder baseline(String baseline) {
            this.baseline = baseline;
            return this;
        }

        public Builder labels(List<String> labels) {
            this.labels = labels;
            return this;
        }

        /**
         * The feature spec ({@code name:version}) the model was trained on; null for none named.
         */
        public Builder featureSpec(String featureSpec) {
            this.featureSpec = featureSpec;
            return this;
        }

        public Builder createdAt(long createdAt) {
            this.createdAt = createdAt;
            return this;
        }

        /**
         * Other files the version reads (ONNX external data, a tokenizer), by path, with their
         * sha256; null for none.
         */
        public Builder files(Map<String, String> files) {
            this.files = files;
            return this;
        }

        /**
         * @throws IllegalArgumentException naming the field that is missing or wrong
         */
        public ModelManifest build() {
            return new ModelManifest(
                    name,
                    version,
                    modelFile,
                    sha256,
                    inputs,
                    outputs,
                    batching,
                    tokenizer,
                    baseline,
                    null,
                    null,
                    null,
                    labels,
                    featureSpec,
                    createdAt,
                    files);
        }
    }
}
