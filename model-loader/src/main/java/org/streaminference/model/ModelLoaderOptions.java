package org.streaminference.model;

import org.streaminference.model.trust.ModelTrust;

import java.io.Serializable;
import java.util.List;

/**
 * How model files are fetched and sessions created.
 *
 * @param maxModelBytes     files larger than this are refused before they are read
 * @param intraOpThreads    ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime decide
 * @param executionProvider CPU, or CUDA on GPU TaskManagers
 * @param cudaDeviceId      the GPU to use with CUDA (Flink's external resource framework supplies it in the job)
 * @param fallbackToCpu     with CUDA: run on CPU, logged and counted, where the CUDA provider cannot start; when
 *                          false that is a load failure
 * @param allowedSchemes    URI schemes a manifest or model file may be read from ({@code file}, {@code s3}, ...)
 * @param allowedRoots      URI prefixes a manifest or model file must lie under; empty allows any location with an
 *                          allowed scheme
 * @param optimization      ONNX Runtime graph optimization level
 * @param cpuArena          whether ONNX Runtime's CPU arena allocator is on (faster; holds on to peak memory)
 * @param trust             the keys whose manifest signatures are accepted, and whether unsigned versions are served
 */
public record ModelLoaderOptions(
        long maxModelBytes,
        int intraOpThreads,
        ExecutionProvider executionProvider,
        int cudaDeviceId,
        boolean fallbackToCpu,
        List<String> allowedSchemes,
        List<String> allowedRoots,
        GraphOptimization optimization,
        boolean cpuArena,
        ModelTrust trust)
        implements Serializable {

    public static final long DEFAULT_MAX_MODEL_BYTES = 512L * 1024 * 1024;
    public static final List<String> DEFAULT_SCHEMES = List.of("file", "s3", "s3a", "s3p", "gs", "hdfs", "abfs",
            "abfss", "oss");

    /** ONNX Runtime's graph optimization levels. */
    public enum GraphOptimization {
        DISABLED,
        BASIC,
        EXTENDED,
        ALL
    }

    public ModelLoaderOptions {
        if (maxModelBytes <= 0) {
            throw new IllegalArgumentException("maxModelBytes must be positive");
        }
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intraOpThreads must be >= 0");
        }
        if (cudaDeviceId < 0) {
            throw new IllegalArgumentException("cudaDeviceId must be >= 0");
        }
        if (executionProvider == null || optimization == null) {
            throw new IllegalArgumentException("executionProvider and optimization are required");
        }
        if (allowedSchemes == null || allowedSchemes.isEmpty()) {
            throw new IllegalArgumentException("at least one URI scheme must be allowed");
        }
        allowedSchemes = List.copyOf(allowedSchemes);
        allowedRoots = allowedRoots == null ? List.of() : List.copyOf(allowedRoots);
        if (trust == null) {
            throw new IllegalArgumentException("trust is required");
        }
    }

    /** Options that accept unsigned versions: for tests and tools that load what they just wrote. */
    public ModelLoaderOptions(long maxModelBytes, int intraOpThreads, ExecutionProvider executionProvider,
            int cudaDeviceId, boolean fallbackToCpu, List<String> allowedSchemes, List<String> allowedRoots,
            GraphOptimization optimization, boolean cpuArena) {
        this(maxModelBytes, intraOpThreads, executionProvider, cudaDeviceId, fallbackToCpu, allowedSchemes,
                allowedRoots, optimization, cpuArena, ModelTrust.UNSIGNED_ALLOWED);
    }

    public ModelLoaderOptions(long maxModelBytes, int intraOpThreads) {
        this(maxModelBytes, intraOpThreads, ExecutionProvider.CPU, 0, false, DEFAULT_SCHEMES, List.of(),
                GraphOptimization.ALL, true);
    }

    public static ModelLoaderOptions defaults() {
        return new ModelLoaderOptions(DEFAULT_MAX_MODEL_BYTES, 1);
    }

    public ModelLoaderOptions withCuda(int deviceId, boolean fallbackToCpu) {
        return new ModelLoaderOptions(maxModelBytes, intraOpThreads, ExecutionProvider.CUDA, deviceId, fallbackToCpu,
                allowedSchemes, allowedRoots, optimization, cpuArena, trust);
    }

    /** These options on CPU: for checks made where no GPU is (the job's start on the client). */
    public ModelLoaderOptions onCpu() {
        return new ModelLoaderOptions(maxModelBytes, intraOpThreads, ExecutionProvider.CPU, 0, false,
                allowedSchemes, allowedRoots, optimization, cpuArena, trust);
    }

    /** These options, accepting only versions whose manifests {@code trust} accepts. */
    public ModelLoaderOptions withTrust(ModelTrust trust) {
        return new ModelLoaderOptions(maxModelBytes, intraOpThreads, executionProvider, cudaDeviceId, fallbackToCpu,
                allowedSchemes, allowedRoots, optimization, cpuArena, trust);
    }

    /** These options, reading models only from URIs with one of {@code schemes} under one of {@code roots}. */
    public ModelLoaderOptions withAllowedLocations(List<String> schemes, List<String> roots) {
        return new ModelLoaderOptions(maxModelBytes, intraOpThreads, executionProvider, cudaDeviceId, fallbackToCpu,
                schemes, roots, optimization, cpuArena, trust);
    }
}
