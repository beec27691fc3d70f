package org.streaminference.cli;

import org.streaminference.model.BatchingPolicy;
import org.streaminference.model.ElementType;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ManifestNames;
import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.OnnxClassLabels;
import org.streaminference.model.OnnxExternalData;
import org.streaminference.model.OutputRole;
import org.streaminference.model.Pooling;
import org.streaminference.model.TokenizerConfig;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelRole;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code models publish}: checks an ONNX file, copies it with its manifest into the model store as
 * an immutable version, and announces it on the control topic.
 */
@Command(
        name = "publish",
        mixinStandardHelpOptions = true,
        description =
                "Copy an ONNX model into the model store as a new version and announce it to running jobs.")
final class PublishCommand implements Callable<Integer> {
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The name a version's tokenizer is stored under. */
    static final String TOKENIZER_FILE = "tokenizer.json";

    /** The name a version's training baseline is stored under. */
    static final String BASELINE_FILE = "baseline.json";

    @CommandLine.Mixin ModelsCli.Connection connection;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--name", required = true, description = "Model name, e.g. churn.")
    String name;

    @Option(
            names = "--version",
            required = true,
            description = "New version, e.g. 3. Versions are immutable.")
    String version;

    @Option(names = "--file", required = true, description = "The .onnx file.")
    java.nio.file.Path file;

    @Option(
            names = "--store",
            required = true,
            description =
                    "Model store root as a Flink FileSystem URI"
                            + " (file:///models, s3://bucket/models); the version goes to <store>/<name>/<version>/.")
    String store;

    @CommandLine.ArgGroup(exclusive = true)
    Role role = new Role();

    static final class Role {
        @Option(
                names = "--canary",
                description = "Serve it to this percentage of entities first (1-100).")
        Integer canary;

        @Option(
                names = "--shadow",
                description = "Score every record with it on the side, never as the answer.")
        boolean shadow;
    }

    @Option(
            names = "--output-kind",
            description =
                    "What the answer output holds where its shape does not say:"
                            + " SCORE, SIGMOID, PROBABILITIES, LOGITS or EMBEDDING (default: inferred from the model, else as the"
                            + " newest version of the model in the store).")
    OutputRole outputKind;

    @Option(
            names = "--labels",
            split = ",",
            description =
                    "Class labels in output order (default: the classifier's"
                            + " own classlabels where the export has them, else as the newest version; ZipMap outputs name their"
                            + " classes themselves).")
    List<String> labels;

    @Option(
            names = "--feature-spec",
            description =
                    "Feature spec the model was trained on, e.g. skeleton:1"
                            + " (default: as the newest version).")
    String featureSpec;

    @Option(
            names = "--input-from",
            split = ",",
            description =
                    "Which feature group feeds an input, as INPUT=GROUP"
                            + " (default: a model of one input takes group 'features'; with several, each takes the group of its"
                            + " own name).")
    Map<String, String> inputFrom = new HashMap<>();

    @Option(
            names = "--output",
            description =
                    "The output that is the answer, where the model has several float"
                            + " outputs.")
    String outputName;

    @Option(
            names = "--pass-through",
            split = ",",
            description = "Other outputs to deliver as named tensors.")
    List<String> passThrough = List.of();

    @Option(
            names = "--threshold",
            description =
                    "SIGMOID: the probability at and above which a record is class 1"
                            + " (default 0.5).")
    Double threshold;

    @Option(
            names = "--pooling",
            description = "EMBEDDING per token [N,T,D]: MEAN (over the attention mask) or CLS.")
    Pooling pooling;

    @Option(names = "--normalize", description = "EMBEDDING: L2-normalise the pooled vector.")
    boolean normalize;

    @Option(
            names = "--tokenizer",
            description =
                    "A Hugging Face tokenizer.json that turns a text feature into the"
                            + " model's input_ids, attention_mask and token_type_ids; stored with the version, under its checksum.")
    java.nio.file.Path tokenizerFile;

    @Option(
            names = "--baseline",
            description =
                    "The version's training baseline (from 'models baseline'), which"
                            + " drift monitoring compares what the job serves with; stored with the version, under its checksum.")
    java.nio.file.Path baselineFile;

    @Option(
            names = "--text-from",
            defaultValue = "text",
            description =
                    "The feature group of one text feature the"
                            + " tokenizer reads (default: ${DEFAULT-VALUE}).")
    String textFrom;

    @Option(
            names = "--max-length",
            defaultValue = "" + TokenizerConfig.DEFAULT_MAX_LENGTH,
            description =
                    "Tokens"
                            + " per record at most; longer texts are truncated (default: ${DEFAULT-VALUE}).")
    int maxLength;

    @Option(
            names = "--batching",
            description =
                    "DYNAMIC (micro-batches, the default) or SINGLE (every record"
                            + " alone: for models whose results depend on their batch neighbours, such as quantized transformers).")
    BatchingPolicy batching;

    @Option(
            names = "--signing-key",
            description =
                    "The publisher's key file from 'models keygen' (PEM: private and"
                            + " public key). The manifest and the PUBLISH command are signed with it; jobs serve only versions"
                            + " signed by a key in their model.trusted-keys and obey only commands signed so (unsigned ones only"
                            + " with model.allow-unsigned).")
    java.nio.file.Path signingKey;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ManifestNames.requireSafeName(name, "--name");
        ManifestNames.requireSafeName(version, "--version");
        PublisherKey key = signingKey == null ? null : PublisherKey.read(signingKey);
        try (ControlTopic control = connection.open()) {
            control.requireTopics(); // before anything is stored
        }
        byte[] bytes = readModelFile();
        String sha256 = ModelLoader.sha256Hex(bytes);
        Path versionDir = new Path(new Path(new Path(store), name), version);
        FileSystem fs = versionDir.getFileSystem();
        ModelLoaderConfig checks =
                key == null
                        ? ModelLoaderConfig.defaults()
                        : ModelLoaderConfig.defaults()
                                .withTrust(ModelTrust.of(List.of(key.publicKey()), false));
        ModelManifest stored =
                fs.exists(new Path(versionDir, ModelManifest.FILE_NAME))
                        ? alreadyStored(versionDir, sha256, checks, out)
                        : store(fs, versionDir, bytes, sha256, key, checks, out);
        return announce(stored, versionDir, key, out);
    }

    private byte[] readModelFile() throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("no model file at " + file);
        }
    }

    /** The version already in the store, if it holds this very file: versions are immutable. */
    private ModelManifest alreadyStored(
            Path versionDir, String sha256, ModelLoaderConfig checks, PrintWriter out)
            throws Exception {
        ModelManifest existing = new ModelLoader(checks).readManifest(versionDir.toString());
        if (!existing.sha256().equals(sha256)) {
            throw new IllegalArgumentException(
                    name
                            + ":"
                            + version
                            + " is already in the store at "
                            + versionDir
                            + " with another file (sha256 "
                            + existing.sha256()
                            + "); versions are immutable, publish"
                            + " a new version");
        }
        out.printf(
                "%s:%s is already in the store at %s with this file.%n", name, version, versionDir);
        return existing;
    }

    /**
     * Writes the version: the model, the files it reads (external data, tokenizer, baseline), the
     * signature and the manifest last (a version with a manifest is complete); then loads it as a
     * job would, and removes it if it does not pass.
     */
    private ModelManifest store(
            FileSystem fs,
            Path versionDir,
            byte[] bytes,
            String sha256,
            PublisherKey key,
            ModelLoaderConfig checks,
            PrintWriter out)
            throws Exception {
        Map<String, java.nio.file.Path> companions = companionFiles(bytes);
        Map<String, String> files = new TreeMap<>();
        for (Map.Entry<String, java.nio.file.Path> companion : companions.entrySet()) {
            try (InputStream in = Files.newInputStream(companion.getValue())) {
                files.put(companion.getKey(), ModelLoader.sha256Hex(in));
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException("no file at " + companion.getValue());
            }
        }
        ModelManifest manifest = manifest(bytes, sha256, newest(fs), files);
        write(fs, new Path(versionDir, "model.onnx"), model -> model.write(bytes));
        for (Map.Entry<String, java.nio.file.Path> companion : companions.entrySet()) {
            write(
                    fs,
                    new Path(versionDir, companion.getKey()),
                    copy -> Files.copy(companion.getValue(), copy));
        }
        byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
        if (key != null) {
            write(
                    fs,
                    new Path(versionDir, ManifestSignatures.FILE_NAME),
                    signature ->
                            signature.write(
                                    ManifestSignatures.sign(
                                                    manifestBytes,
                                                    key.privateKey(),
                                                    key.publicKey())
                                            .toJson()));
        } else {
            out.printf(
                    "WARNING: %s:%s is not signed (no --signing-key): jobs serve it only with"
                            + " model.allow-unsigned.%n",
                    name, version);
        }
        write(fs, new Path(versionDir, ModelManifest.FILE_NAME), json -> json.write(manifestBytes));
        try (LoadedModel loaded = new ModelLoader(checks).load(versionDir.toString())) {
            out.printf(
                    "Stored %s (sha256 %s, inputs %s, outputs %s%s) at %s; it loads in %d ms.%n",
                    manifest.id(),
                    sha256,
                    manifest.inputs(),
                    manifest.outputs(),
                    key == null ? "" : ", signed by key " + key.keyId(),
                    versionDir,
                    loaded.loadTimeMillis());
        } catch (ModelLoadException e) {
            fs.delete(versionDir, true);
            throw new IllegalArgumentException(
                    "the model does not pass the job's checks, nothing published: "
                            + e.getMessage());
        }
        return manifest;
    }

    /**
     * The files that travel with the model, by their path in the version: external data (weights
     * beside the model, as exports of large models have them), the tokenizer and the baseline; each
     * is named with its sha256 in the signed manifest.
     */
    private Map<String, java.nio.file.Path> companionFiles(byte[] bytes)
            throws IOException, ModelLoadException {
        Map<String, java.nio.file.Path> companions = new TreeMap<>();
        for (String location : OnnxExternalData.locations(name + ":" + version, bytes)) {
            java.nio.file.Path data = file.toAbsolutePath().getParent().resolve(location);
            if (!Files.isRegularFile(data)) {
                throw new IllegalArgumentException(
                        "the model reads external data '"
                                + location
                                + "', which is"
                                + " not a file beside it ("
                                + data
                                + ")");
            }
            companions.put(location, data);
        }
        if (tokenizerFile != null) {
            companions.put(TOKENIZER_FILE, tokenizerFile);
        }
        if (baselineFile != null) {
            checkBaseline(baselineFile);
            companions.put(BASELINE_FILE, baselineFile);
        }
        return companions;
    }

    private interface FileWriter {
        void write(FSDataOutputStream out) throws IOException;
    }

    /** Writes a new file of the version; never overwrites one. */
    private static void write(FileSystem fs, Path path, FileWriter writer) throws IOException {
        try (FSDataOutputStream out = fs.create(path, FileSystem.WriteMode.NO_OVERWRITE)) {
            writer.write(out);
        }
    }

    /** Sends the PUBLISH of the stored version and reports what the running jobs answered. */
    private int announce(ModelManifest stored, Path versionDir, PublisherKey key, PrintWriter out)
            throws Exception {
        ModelRole as =
                role.canary != null
                        ? ModelRole.CANARY
                        : role.shadow ? ModelRole.SHADOW : ModelRole.ACTIVE;
        ModelCommand command =
                ModelCommands.withManifest(
                        ModelCommands.publish(
                                name, version, versionDir.toUri().toString(), as, role.canary),
                        stored);
        ModelCommands.validate(command);
        try (ControlTopic control = connection.open()) {
            return control.sendAndReport(command, key, connection.wait, out);
        }
    }

    private ModelManifest manifest(
            byte[] bytes,
            String sha256,
            Optional<ModelManifest> previous,
            Map<String, String> files)
            throws OrtException {
        String spec =
                featureSpec != null
                        ? featureSpec
                        : previous.map(ModelManifest::featureSpec).orElse(null);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                // a model with external data is opened from its file, so that ONNX Runtime finds
                // the data beside it
                OrtSession session =
                        files.keySet().stream()
                                        .allMatch(
                                                f ->
                                                        f.equals(TOKENIZER_FILE)
                                                                || f.equals(BASELINE_FILE))
                                ? env.createSession(bytes, options)
                                : env.createSession(file.toAbsolutePath().toString(), options)) {
            List<String> exported = OnnxClassLabels.of(bytes);
            ModelSignature signature =
                    new ModelSignature(
                            session.getInputInfo(), session.getOutputInfo(), !exported.isEmpty());
            List<ModelInput> inputs = signature.inputs(inputFrom, tokenizerFile != null);
            OutputRole kind =
                    outputKind != null
                            ? outputKind
                            : previous.flatMap(
                                            m ->
                                                    m.outputs().stream()
                                                            .filter(
                                                                    o ->
                                                                            o.role().isAnswer()
                                                                                    || o.role()
                                                                                            == OutputRole
                                                                                                    .EMBEDDING)
                                                            .findFirst())
                                    .map(ModelOutput::role)
                                    .orElse(null);
            List<ModelOutput> outputs =
                    signature.outputs(outputName, kind, threshold, pooling, normalize, passThrough);
            // a probability tensor's classes are named by the export's own classifier where it has
            // one: exports
            // differ in their order, so the previous version's labels are no default for them (a
            // ZipMap names its
            // classes by its keys)
            boolean tensorClasses =
                    outputs.stream()
                            .anyMatch(
                                    o ->
                                            (o.role() == OutputRole.PROBABILITIES
                                                            || o.role() == OutputRole.LOGITS)
                                                    && o.elementType() != ElementType.MAP_SEQUENCE);
            List<String> classLabels =
                    labels != null
                            ? labels
                            : tensorClasses && !exported.isEmpty()
                                    ? exported
                                    : previous.map(ModelManifest::labels).orElse(List.of());
            return ModelManifest.builder()
                    .name(name)
                    .version(version)
                    .modelFile("model.onnx")
                    .sha256(sha256)
                    .inputs(inputs)
                    .outputs(outputs)
                    .labels(classLabels)
                    .featureSpec(spec)
                    .batching(
                            batching != null
                                    ? batching
                                    : previous.map(ModelManifest::batching).orElse(null))
                    .tokenizer(
                            tokenizerFile == null
                                    ? null
                                    : new TokenizerConfig(TOKENIZER_FILE, textFrom, maxLength))
                    .baseline(baselineFile == null ? null : BASELINE_FILE)
                    .createdAt(System.currentTimeMillis())
                    .files(files)
                    .build();
        } catch (OrtException e) {
            throw new IllegalArgumentException(
                    file + " is not a model ONNX Runtime can open: " + e.getMessage());
        }
    }

    /** Refuses a baseline file the job could not read, before anything is stored. */
    private static void checkBaseline(java.nio.file.Path baseline) throws IOException {
        try {
            DriftBaseline.parse(Files.readAllBytes(baseline));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("no baseline file at " + baseline);
        } catch (IOException e) {
            throw new IllegalArgumentException(baseline + " is not a baseline: " + e.getMessage());
        }
    }

    /**
     * The newest version of this model already in the store, whose output kind, labels and spec are
     * defaults.
     */
    private Optional<ModelManifest> newest(FileSystem fs) throws IOException {
        Path modelDir = new Path(new Path(store), name);
        if (!fs.exists(modelDir)) {
            return Optional.empty();
        }
        ModelLoader reader = new ModelLoader(ModelLoaderConfig.defaults());
        ModelManifest newest = null;
        FileStatus[] statuses = fs.listStatus(modelDir);
        for (FileStatus status : statuses == null ? new FileStatus[0] : statuses) {
            if (!status.isDir()) {
                continue;
            }
            try {
                ModelManifest m = reader.readManifest(status.getPath().toString());
                if (newest == null || m.createdAt() > newest.createdAt()) {
                    newest = m;
                }
            } catch (ModelLoadException e) {
                // an incomplete or foreign directory: not a version to take defaults from
            }
        }
        return Optional.ofNullable(newest);
    }
}
