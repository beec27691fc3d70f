package org.streaminference.model;

import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.schemas.UntrustedText;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxMap;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fetches a model version through Flink's {@link FileSystem} (so {@code file://} works locally and
 * {@code s3://}, {@code hdfs://} work on a cluster with Flink's filesystem plugins) and refuses it
 * unless it passes every check: a manifest signed by a trusted key, size limits, the manifest's
 * sha256 (ONNX Runtime loads corrupted weights silently), external data only as the signed manifest
 * names it, the declared inputs and outputs, and a warm-up run. Rejections carry a reason code and
 * a message that never repeats the contents of a file it read.
 */
@PublicEvolving
public final class ModelLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);

    private final ModelLoaderConfig options;
    private final ModelLocationPolicy locations;

    public ModelLoader(ModelLoaderConfig options) {
        this.options = options;
        this.locations = new ModelLocationPolicy(options.allowedSchemes(), options.allowedRoots());
    }

    /** What the one who asked for a version expects of it; null fields are not checked. */
    public record Expected(String name, String version, String sha256) {
        public static final Expected ANY = new Expected(null, null, null);
    }

    /**
     * Loads the model version described by {@code location}: a directory holding {@code
     * manifest.json}, or the manifest file itself.
     */
    public LoadedModel load(String location) throws ModelLoadException {
        return load(location, Expected.ANY);
    }

    /**
     * Loads the model version described by {@code location} if it is the one expected. Everything
     * that can be checked without ONNX Runtime is checked first, in this order: the manifest's
     * location and size, its signature by a trusted key, its name and version, the model file's
     * location, size and sha256 (against the manifest and the announcement), and each external data
     * file against the manifest. Only then does ONNX Runtime parse the model.
     */
    public LoadedModel load(String location, Expected expected) throws ModelLoadException {
        long start = System.nanoTime();
        Path manifestPath = manifestPathChecked(location);
        ModelManifest manifest = readVerifiedManifest(manifestPath);
        checkExpected(manifest, expected);
        Path modelPath =
                locations.check(resolveModelFile(manifestPath.getParent(), manifest.modelFile()));
        byte[] bytes = readLimited(modelPath, options.maxModelBytes());
        verifyChecksum(manifest, bytes);
        Set<String> externalData = OnnxExternalData.locations(manifest.id(), bytes);
        java.nio.file.Path staged =
                externalData.isEmpty()
                        ? null
                        : stageWithExternalData(
                                manifest, manifestPath.getParent(), bytes, externalData);
        TextTokenizer tokenizer = null;
        try {
            DriftBaseline baseline = baseline(manifest, manifestPath.getParent());
            tokenizer = tokenizer(manifest, manifestPath.getParent());
            return open(manifest, bytes, staged, tokenizer, baseline, start);
        } catch (ModelLoadException | RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        } finally {
            deleteQuietly(staged);
        }
    }

    /** Largest baseline file read: 1024 features of 100 bins each are about 5 MB. */
    static final int MAX_BASELINE_BYTES = 16 * 1024 * 1024;

    /**
     * Reads the version's training baseline, checked against the sha256 its manifest names; null
     * where it has none.
     */
    private DriftBaseline baseline(ModelManifest manifest, Path versionDir)
            throws ModelLoadException {
        if (manifest.baseline() == null) {
            return null;
        }
        byte[] json =
                readLimited(
                        locations.check(new Path(versionDir, manifest.baseline())),
                        MAX_BASELINE_BYTES);
        if (!sha256Hex(json).equals(manifest.files().get(manifest.baseline()))) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.CHECKSUM_MISMATCH,
                    manifest.id()
                            + ": the baseline '"
                            + manifest.baseline()
                            + "' does not have the sha256 its manifest names");
        }
        try {
            return DriftBaseline.parse(json);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.INVALID_MANIFEST,
                    manifest.id()
                            + ": the baseline '"
                            + manifest.baseline()
                            + "' is not a baseline: "
                            + e.getMessage(),
                    e);
        }
    }

    /** Largest tokenizer file read; real ones are 0.5 to 20 MB. */
    static final int MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

    /**
     * Reads the version's tokenizer, checked against the sha256 its manifest names; null where it
     * has none.
     */
    private TextTokenizer tokenizer(ModelManifest manifest, Path versionDir)
            throws ModelLoadException {
        TokenizerConfig config = manifest.tokenizer();
        if (config == null) {
            return null;
        }
        byte[] json =
                readLimited(
                        locations.check(new Path(versionDir, config.file())), MAX_TOKENIZER_BYTES);
        if (!sha256Hex(json).equals(manifest.files().get(config.file()))) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.CHECKSUM_MISMATCH,
                    manifest.id()
                            + ": the tokenizer '"
                            + config.file()
                            + "' does not have the sha256 its manifest names");
        }
        try {
            return TextTokenizer.of(json, config.maxLength());
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.INVALID_MANIFEST,
                    manifest.id()
                            + ": the tokenizer '"
                            + config.file()
                            + "' cannot be read: "
                            + e.getMessage(),
                    e);
        }
    }

    private LoadedModel open(
            ModelManifest manifest,
            byte[] bytes,
            java.nio.file.Path staged,
            TextTokenizer tokenizer,
            DriftBaseline baseline,
            long start)
            throws ModelLoadException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        ExecutionProvider provider = options.executionProvider();
        boolean fellBack = false;
        OrtSession session;
        try {
            session = createSession(env, bytes, staged, provider);
        } catch (OrtException e) {
            if (provider != ExecutionProvider.CUDA) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.RUNTIME_ERROR,
                        manifest.id() + ": ONNX Runtime cannot open the model: " + e.getMessage(),
                        e);
            }
            if (!options.fallbackToCpu()) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.PROVIDER_UNAVAILABLE,
                        manifest.id()
                                + ": the CUDA execution provider cannot start on device "
                                + options.cudaDeviceId()
                                + " ("
                                + e.getMessage()
                                + "); it needs the onnxruntime_gpu"
                                + " build, CUDA 12 and cuDNN 9, or enable the fallback to CPU",
                        e);
            }
            LOG.warn(
                    "{}: CUDA is unavailable on device {} ({}); falling back to CPU as configured",
                    manifest.id(),
                    options.cudaDeviceId(),
                    e.getMessage());
            provider = ExecutionProvider.CPU;
            fellBack = true;
            try {
                session = createSession(env, bytes, staged, provider);
            } catch (OrtException cpuError) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.RUNTIME_ERROR,
                        manifest.id()
                                + ": ONNX Runtime cannot open the model: "
                                + cpuError.getMessage(),
                        cpuError);
            }
        }
        try {
            int fixedBatch = verifyInterface(manifest, session);
            LoadedModel model =
                    new LoadedModel(
                            manifest, env, session, tokenizer, provider, fellBack, fixedBatch);
            model.baseline(baseline);
            warmUp(model, options.warmUpTimeout());
            model.markLoaded((System.nanoTime() - start) / 1_000_000);
            return model;
        } catch (ModelLoadException | RuntimeException e) {
            closeQuietly(session);
            throw e;
        }
    }

    /** Refuses a manifest that is not the version the caller asked for. */
    static void checkExpected(ModelManifest manifest, Expected expected) throws ModelLoadException {
        if ((expected.name() != null && !expected.name().equals(manifest.name()))
                || (expected.version() != null && !expected.version().equals(manifest.version()))) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.INVALID_MANIFEST,
                    "the manifest describes "
                            + UntrustedText.excerpt(manifest.id())
                            + ", not "
                            + expected.name()
                            + ":"
                            + expected.version());
        }
        if (expected.sha256() != null && !expected.sha256().equalsIgnoreCase(manifest.sha256())) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.CHECKSUM_MISMATCH,
                    "the store's "
                            + manifest.id()
                            + " has sha256 "
                            + manifest.sha256()
                            + " but was announced with "
                            + expected.sha256());
        }
    }

    /**
     * Reads the manifest's bytes, checks their signature where the job requires one, then parses
     * them.
     */
    private ModelManifest readVerifiedManifest(Path manifestPath) throws ModelLoadException {
        byte[] bytes = readLimited(manifestPath, ModelManifest.MAX_BYTES);
        verifySignature(manifestPath, bytes);
        try {
            return ModelManifest.fromJson(bytes);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.INVALID_MANIFEST,
                    "the manifest at " + manifestPath + " is not valid: " + e.getMessage());
        }
    }

    private void verifySignature(Path manifestPath, byte[] manifest) throws ModelLoadException {
        ModelTrust trust = options.trust();
        if (trust.allowUnsigned() && trust.keyIds().isEmpty()) {
            LOG.warn(
                    "Serving the model version at {} without checking any signature: no key is trusted and"
                            + " model.allow-unsigned is on",
                    manifestPath);
            return;
        }
        Path signaturePath = new Path(manifestPath.getParent(), ManifestSignatures.FILE_NAME);
        byte[] signatureBytes;
        try {
            signatureBytes =
                    readLimited(
                            locations.check(signaturePath),
                            ManifestSignatures.MAX_SIGNATURE_FILE_BYTES);
        } catch (ModelLoadException e) {
            if (e.reason() != ModelLoadException.Reason.NOT_FOUND) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.SIGNATURE_INVALID,
                        "the manifest's signature file cannot be read: " + e.getMessage());
            }
            if (trust.allowUnsigned()) {
                LOG.warn(
                        "Serving the UNSIGNED model version at {}: model.allow-unsigned is on",
                        manifestPath);
                return;
            }
            throw new ModelLoadException(
                    ModelLoadException.Reason.UNSIGNED,
                    "no "
                            + ManifestSignatures.FILE_NAME
                            + " next to "
                            + manifestPath
                            + ": this job serves only versions signed by a trusted key"
                            + " (models publish --signing-key; model.trusted-keys)");
        }
        ManifestSignatures.SignatureFile signature;
        try {
            signature = ManifestSignatures.SignatureFile.fromJson(signatureBytes);
        } catch (IOException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.SIGNATURE_INVALID,
                    ManifestSignatures.FILE_NAME
                            + " next to "
                            + manifestPath
                            + " is not a signature file");
        }
        if (!ManifestSignatures.ALGORITHM.equals(signature.algorithm())) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.SIGNATURE_INVALID,
                    "the manifest's signature is not " + ManifestSignatures.ALGORITHM);
        }
        PublicKey key = trust.key(signature.keyId());
        if (key == null) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.SIGNATURE_INVALID,
                    "the manifest at "
                            + manifestPath
                            + " is signed by key "
                            + UntrustedText.excerpt(signature.keyId())
                            + ", which this job does not trust (trusted: "
                            + trust.keyIds()
                            + ")");
        }
        if (!ManifestSignatures.verify(manifest, signature, key)) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.SIGNATURE_INVALID,
                    "the manifest at "
                            + manifestPath
                            + " does not match its signature by key "
                            + signature.keyId()
                            + ": it was changed after signing, or the signature is forged");
        }
    }

    /**
     * Copies the model and the external data files it reads into a private temporary directory,
     * each file checked on the way: named in the signed manifest's {@code files}, inside the
     * version's directory (the location policy on its real path), a regular file within the size
     * limit, its sha256 as the manifest says. ONNX Runtime then opens the copy, so no file can
     * change between its check and its use.
     */
    private java.nio.file.Path stageWithExternalData(
            ModelManifest manifest, Path versionDir, byte[] model, Set<String> dataFiles)
            throws ModelLoadException {
        for (String location : dataFiles) {
            if (!manifest.files().containsKey(location)) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.EXTERNAL_DATA,
                        manifest.id()
                                + ": the model"
                                + " reads external data from '"
                                + UntrustedText.excerpt(location)
                                + "', which the manifest's"
                                + " 'files' does not cover (models publish adds the files beside the model)");
            }
        }
        java.nio.file.Path dir = null;
        try {
            dir = Files.createTempDirectory("streaminference-model-");
            Files.write(dir.resolve("model.onnx"), model);
            for (String location : dataFiles) {
                Path source = locations.check(new Path(versionDir, location));
                java.nio.file.Path target = dir.resolve(location).normalize();
                Files.createDirectories(target.getParent());
                String actual = copyHashed(source, target, options.maxModelBytes());
                if (!actual.equals(manifest.files().get(location))) {
                    throw new ModelLoadException(
                            ModelLoadException.Reason.CHECKSUM_MISMATCH,
                            manifest.id()
                                    + ": external data '"
                                    + location
                                    + "' does not have the sha256 its manifest names");
                }
            }
            return dir;
        } catch (ModelLoadException e) {
            deleteQuietly(dir);
            throw e;
        } catch (IOException e) {
            deleteQuietly(dir);
            throw new ModelLoadException(
                    ModelLoadException.Reason.NOT_FOUND,
                    manifest.id() + ": cannot stage the external data: " + e.getMessage(),
                    e);
        }
    }

    /**
     * Copies {@code source} to {@code target}, at most {@code maxBytes}, returning the hex sha256
     * of what it copied.
     */
    private static String copyHashed(Path source, java.nio.file.Path target, long maxBytes)
            throws IOException, ModelLoadException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
        try (FSDataInputStream in = source.getFileSystem().open(source);
                OutputStream out = Files.newOutputStream(target)) {
            byte[] buffer = new byte[1 << 16];
            long total = 0;
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
                if (total > maxBytes) {
                    throw new ModelLoadException(
                            ModelLoadException.Reason.TOO_LARGE,
                            source + " is over the limit" + " of " + maxBytes + " bytes");
                }
                digest.update(buffer, 0, n);
                out.write(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static void deleteQuietly(java.nio.file.Path dir) {
        if (dir == null) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot delete the staged model in {}: {}", dir, e.toString());
        }
    }

    private OrtSession createSession(
            OrtEnvironment env, byte[] bytes, java.nio.file.Path staged, ExecutionProvider provider)
            throws OrtException {
        try (OrtSession.SessionOptions sessionOptions = new OrtSession.SessionOptions()) {
            if (options.intraOpThreads() > 0) {
                sessionOptions.setIntraOpNumThreads(options.intraOpThreads());
            }
            sessionOptions.setOptimizationLevel(
                    switch (options.optimization()) {
                        case DISABLED -> OrtSession.SessionOptions.OptLevel.NO_OPT;
                        case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
                        case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
                        case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
                    });
            sessionOptions.setCPUArenaAllocator(options.cpuArena());
            if (provider == ExecutionProvider.CUDA) {
                sessionOptions.addCUDA(options.cudaDeviceId());
            }
            // a staged model is opened from its directory, so that ONNX Runtime finds its checked
            // external data
            return staged == null
                    ? env.createSession(bytes, sessionOptions)
                    : env.createSession(staged.resolve("model.onnx").toString(), sessionOptions);
        }
    }

    /** Reads and validates only the manifest of a model version. */
    public ModelManifest readManifest(String location) throws ModelLoadException {
        return readVerifiedManifest(manifestPathChecked(location));
    }

    private Path manifestPathChecked(String location) throws ModelLoadException {
        Path path;
        try {
            path = manifestPath(location);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.URI_NOT_ALLOWED,
                    "'" + location + "' is not a valid location: " + e.getMessage());
        }
        return locations.check(path);
    }

    private static Path manifestPath(String location) {
        Path path = new Path(location);
        return path.getName().endsWith(".json") ? path : new Path(path, ModelManifest.FILE_NAME);
    }

    /**
     * A relative model file is resolved inside the manifest's directory and may not climb out of
     * it.
     */
    static Path resolveModelFile(Path directory, String modelFile) throws ModelLoadException {
        if (modelFile.contains("://") || modelFile.startsWith("/")) {
            return new Path(modelFile);
        }
        for (String segment : modelFile.split("[/\\\\]")) {
            if (segment.equals("..")) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.URI_NOT_ALLOWED,
                        "modelFile '" + modelFile + "' leaves the manifest's directory");
            }
        }
        return new Path(directory, modelFile);
    }

    private static byte[] readLimited(Path path, long maxBytes) throws ModelLoadException {
        try {
            FileSystem fs = path.getFileSystem();
            FileStatus status = fs.getFileStatus(path);
            if (status.getLen() > maxBytes) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.TOO_LARGE,
                        path + " is " + status.getLen() + " bytes, over the limit of " + maxBytes);
            }
            try (FSDataInputStream in = fs.open(path)) {
                ByteArrayOutputStream out = new ByteArrayOutputStream((int) status.getLen());
                byte[] buffer = new byte[64 * 1024];
                long total = 0;
                for (int n; (n = in.read(buffer)) > 0; ) {
                    total += n;
                    if (total > maxBytes) {
                        throw new ModelLoadException(
                                ModelLoadException.Reason.TOO_LARGE,
                                path + " grew past the limit of " + maxBytes + " bytes");
                    }
                    out.write(buffer, 0, n);
                }
                return out.toByteArray();
            }
        } catch (FileNotFoundException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.NOT_FOUND, "no model file at " + path, e);
        } catch (IOException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.NOT_FOUND, "cannot read " + path, e);
        }
    }

    /**
     * The hex sha256 of everything {@code in} holds, read as a stream (external data files can be
     * large).
     */
    public static String sha256Hex(InputStream in) throws IOException {
        try (DigestInputStream digesting =
                new DigestInputStream(in, MessageDigest.getInstance("SHA-256"))) {
            digesting.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(digesting.getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** The hex sha256 of a model file, as manifests carry it. */
    public static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static void verifyChecksum(ModelManifest manifest, byte[] bytes)
            throws ModelLoadException {
        String actual = sha256Hex(bytes);
        if (!actual.equals(manifest.sha256())) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.CHECKSUM_MISMATCH,
                    manifest.id()
                            + ": file sha256 "
                            + actual
                            + " differs from the manifest's "
                            + manifest.sha256());
        }
    }

    /**
     * Checks the manifest's inputs and outputs against the model's, and returns the batch size the
     * model fixes (0 where its batch is dynamic). A fixed batch is the export's contract: a
     * manifest that declares another fixed batch, or a fixed batch for a dynamic model, is refused;
     * one that calls a fixed batch dynamic (-1, as versions published before fixed batches were
     * kept have it) is served with the model's own batch, with a warning.
     */
    private static int verifyInterface(ModelManifest manifest, OrtSession session)
            throws ModelLoadException {
        Map<String, NodeInfo> inputs;
        Map<String, NodeInfo> outputs;
        try {
            inputs = session.getInputInfo();
            outputs = session.getOutputInfo();
        } catch (OrtException e) {
            throw new ModelLoadException(
                    ModelLoadException.Reason.RUNTIME_ERROR,
                    "cannot read the model's inputs and outputs",
                    e);
        }
        Set<String> fed = new HashSet<>();
        for (ModelInput input : manifest.inputs()) {
            checkTensor(manifest, "input", input.tensor(), inputs);
            fed.add(input.name());
        }
        for (String name : inputs.keySet()) {
            if (!fed.contains(name)) {
                throw interfaceMismatch(
                        manifest,
                        "the model has input '"
                                + name
                                + "', which the manifest does not"
                                + " feed (it feeds "
                                + fed
                                + ")");
            }
        }
        for (ModelOutput output : manifest.outputs()) {
            checkTensor(manifest, "output", output.tensor(), outputs);
        }
        long modelBatch = 0;
        for (ModelInput input : manifest.inputs()) {
            long batch = ElementType.shapeOf(inputs.get(input.name()))[0];
            if (batch > 0) {
                if (modelBatch > 0 && batch != modelBatch) {
                    throw interfaceMismatch(
                            manifest,
                            "the model's inputs fix different batch sizes ("
                                    + modelBatch
                                    + " and "
                                    + batch
                                    + ")");
                }
                modelBatch = batch;
            }
        }
        int declared;
        try {
            declared = manifest.fixedBatch();
        } catch (IllegalArgumentException e) {
            throw interfaceMismatch(manifest, e.getMessage());
        }
        if (declared > 0 && declared != modelBatch) {
            throw interfaceMismatch(
                    manifest,
                    "the manifest declares a fixed batch of "
                            + declared
                            + " but the model's"
                            + " batch is "
                            + (modelBatch > 0 ? "fixed at " + modelBatch : "dynamic"));
        }
        if (declared == 0 && modelBatch > 0) {
            LOG.warn(
                    "{}: the model fixes its batch at {} but the manifest declares it dynamic (-1); it runs in"
                            + " batches of exactly {} rows. Publish it again to state that in its manifest.",
                    manifest.id(),
                    modelBatch,
                    modelBatch);
        }
        return Math.toIntExact(modelBatch);
    }

    private static void checkTensor(
            ModelManifest manifest,
            String kind,
            TensorSignature declared,
            Map<String, NodeInfo> actual)
            throws ModelLoadException {
        NodeInfo node = actual.get(declared.name());
        if (node == null) {
            throw interfaceMismatch(
                    manifest,
                    "the model has no "
                            + kind
                            + " '"
                            + declared.name()
                            + "' (it has "
                            + actual.keySet()
                            + ")");
        }
        ElementType type = ElementType.of(node);
        if (type != declared.type()) {
            throw interfaceMismatch(
                    manifest,
                    kind
                            + " '"
                            + declared.name()
                            + "' is "
                            + node.getInfo()
                            + " in the model but "
                            + declared.type()
                            + " in the manifest");
        }
        if (type == ElementType.MAP_SEQUENCE) {
            return;
        }
        long[] modelShape = ElementType.shapeOf(node);
        long[] declaredShape = declared.shape();
        if (modelShape.length != declaredShape.length) {
            throw interfaceMismatch(
                    manifest,
                    kind
                            + " '"
                            + declared.name()
                            + "' has rank "
                            + modelShape.length
                            + " in the model but "
                            + declaredShape.length
                            + " in the manifest");
        }
        for (int i = 1; i < modelShape.length; i++) {
            if (modelShape[i] >= 0 && declaredShape[i] >= 0 && modelShape[i] != declaredShape[i]) {
                throw interfaceMismatch(
                        manifest,
                        kind
                                + " '"
                                + declared.name()
                                + "' dimension "
                                + i
                                + " is "
                                + modelShape[i]
                                + " in the model but "
                                + declaredShape[i]
                                + " in the manifest");
            }
        }
    }

    private static ModelLoadException interfaceMismatch(ModelManifest manifest, String message) {
        return new ModelLoadException(
                ModelLoadException.Reason.INTERFACE_MISMATCH, manifest.id() + ": " + message);
    }

    /**
     * Runs one row of zeros (and a short text through the tokenizer): a model that cannot run, or
     * whose outputs do not have the declared shape, is refused at load time rather than answering
     * every record with an error.
     */
    private static void warmUp(LoadedModel model, Duration timeout) throws ModelLoadException {
        ModelManifest manifest = model.manifest();
        Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
        int rows = Math.max(1, model.fixedBatch());
        TerminableRun run = null;
        Thread watchdog = null;
        try {
            List<String> texts = new ArrayList<>(Collections.nCopies(rows, ""));
            texts.set(0, "warm-up");
            TextTokenizer.Tokens tokens =
                    model.tokenizer() == null ? null : model.tokenizer().encode(texts);
            for (ModelInput input : manifest.inputs()) {
                inputs.put(
                        input.name(),
                        input.fromTokenizer()
                                ? OnnxTensors.ofTokens(model.environment(), input, tokens)
                                : OnnxTensors.zeros(
                                        model.environment(),
                                        input.elementType(),
                                        input.tensor().batchShape(rows)));
            }
            List<String> zipMapKeys = null;
            int tensorClasses = -1;
            run = TerminableRun.start();
            WARM_UPS.put(Thread.currentThread(), run);
            watchdog = watchdog(run, timeout, manifest.id());
            try (OrtSession.Result result = model.run(inputs, run.options())) {
                for (int i = 0; i < manifest.outputs().size(); i++) {
                    ModelOutput declared = manifest.outputs().get(i);
                    if (result.get(i) instanceof OnnxTensor tensor) {
                        long[] shape = tensor.getInfo().getShape();
                        long[] want = declared.shape();
                        for (int d = 1; d < Math.min(shape.length, want.length); d++) {
                            if (want[d] >= 0 && shape[d] != want[d]) {
                                throw interfaceMismatch(
                                        manifest,
                                        "output '"
                                                + declared.name()
                                                + "' has shape "
                                                + Arrays.toString(shape)
                                                + " for "
                                                + rows
                                                + " row(s) but the"
                                                + " manifest declares "
                                                + Arrays.toString(want));
                            }
                        }
                        if (declared.role().isAnswer()) {
                            tensorClasses =
                                    Math.toIntExact(tensor.getInfo().getNumElements() / rows);
                        }
                    } else if (declared.role().isAnswer()
                            && result.get(i) instanceof OnnxSequence sequence) {
                        zipMapKeys = zipMapKeys(sequence);
                    }
                }
            }
            AnswerContract contract = AnswerContract.of(manifest, zipMapKeys, tensorClasses);
            if (contract.kind() == AnswerContract.Kind.CLASS_PROBABILITIES
                    && !manifest.labels().isEmpty()
                    && contract.classCount() >= 0
                    && manifest.labels().size() != contract.classCount()) {
                throw interfaceMismatch(
                        manifest,
                        "the manifest names "
                                + manifest.labels().size()
                                + " labels "
                                + manifest.labels()
                                + " but the model gives probabilities of "
                                + contract.classCount()
                                + " classes");
            }
            model.answerContract(contract);
        } catch (OrtException | RuntimeException e) {
            if (run != null && run.terminated()) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.LOAD_TIMEOUT,
                        manifest.id()
                                + ": the warm-up"
                                + " run did not finish in time and was stopped (model.load-timeout "
                                + timeout
                                + ")",
                        e);
            }
            throw new ModelLoadException(
                    ModelLoadException.Reason.RUNTIME_ERROR,
                    manifest.id() + ": warm-up run failed: " + e.getMessage(),
                    e);
        } finally {
            if (watchdog != null) {
                watchdog.interrupt();
            }
            if (run != null) {
                WARM_UPS.remove(Thread.currentThread(), run);
                run.close(); // after the run returned: never under it
            }
            inputs.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * Warm-up runs in progress, by the thread that loads: so that whoever gave up on a load can
     * stop its run.
     */
    private static final Map<Thread, TerminableRun> WARM_UPS = new ConcurrentHashMap<>();

    /**
     * Stops the warm-up run that {@code loading} is in, if it is in one, through ONNX Runtime's run
     * termination: its load then fails with {@code LOAD_TIMEOUT} and the thread goes on (and ends,
     * where it has nothing else to do). For the owner of a loader thread that gave up waiting, or
     * is closing.
     */
    public static void stopWarmUp(Thread loading) {
        TerminableRun run = WARM_UPS.get(loading);
        if (run != null) {
            run.terminate();
        }
    }

    /** A thread that stops {@code run} after {@code timeout}, unless interrupted first. */
    private static Thread watchdog(TerminableRun run, Duration timeout, String modelId) {
        Thread watchdog =
                new Thread(
                        () -> {
                            try {
                                Thread.sleep(timeout.toMillis());
                                LOG.warn(
                                        "{}: the warm-up run takes longer than {}; stopping it",
                                        modelId,
                                        timeout);
                                run.terminate();
                            } catch (InterruptedException finished) {
                                // the warm-up ended in time
                            }
                        },
                        "model-warm-up-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        return watchdog;
    }

    /**
     * The class keys of a ZipMap answer, in the order predictions read them (sorted: a ZipMap's
     * maps are unordered), as text.
     */
    static List<String> zipMapKeys(OnnxSequence sequence) throws OrtException {
        List<? extends OnnxValue> maps = sequence.getValue();
        if (maps.isEmpty()) {
            return List.of();
        }
        List<Object> keys = new ArrayList<>(((OnnxMap) maps.get(0)).getValue().keySet());
        keys.sort(null);
        return keys.stream().map(Object::toString).toList();
    }

    private static void closeQuietly(OrtSession session) {
        try {
            session.close();
        } catch (OrtException ignored) {
            // the session is being discarded because of an earlier, reported error
        }
    }
}
