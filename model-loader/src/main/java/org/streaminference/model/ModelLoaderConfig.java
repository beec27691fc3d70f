package org.streaminference.model;

import org.streaminference.model.trust.ModelTrust;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How model files are fetched and sessions created. Built with {@link #builder()}, which starts
 * from the defaults (CPU, one intra-op thread, any location under the common schemes, unsigned
 * versions accepted: for tests and tools that load what they just wrote; the job sets roots and
 * trust from its options) and checks values when it builds. Equal configurations share ONNX Runtime
 * sessions in a TaskManager.
 */
@PublicEvolving
public final class ModelLoaderConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final long DEFAULT_MAX_MODEL_BYTES = 512L * 1024 * 1024;
    public static final List<String> DEFAULT_SCHEMES =
            List.of("file", "s3", "s3a", "s3p", "gs", "hdfs", "abfs", "abfss", "oss");

    /** ONNX Runtime's graph optimization levels. */
    public enum GraphOptimization {
        DISABLED,
        BASIC,
        EXTENDED,
        ALL
    }

    private final long maxModelBytes;
    private final int intraOpThreads;
    private final ExecutionProvider executionProvider;
    private final int cudaDeviceId;
    private final boolean fallbackToCpu;
    private final List<String> allowedSchemes;
    private final List<String> allowedRoots;
    private final GraphOptimization optimization;
    private final boolean cpuArena;
    private final ModelTrust trust;
    private final Duration warmUpTimeout;

    private ModelLoaderConfig(Builder b) {
        this.maxModelBytes = b.maxModelBytes;
        this.intraOpThreads = b.intraOpThreads;
        this.executionProvider = b.executionProvider;
        this.cudaDeviceId = b.cudaDeviceId;
        this.fallbackToCpu = b.fallbackToCpu;
        this.allowedSchemes = List.copyOf(b.allowedSchemes);
        this.allowedRoots = List.copyOf(b.allowedRoots);
        this.optimization = b.optimization;
        this.cpuArena = b.cpuArena;
        this.trust = b.trust;
        this.warmUpTimeout = b.warmUpTimeout;
    }

    public static ModelLoaderConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder()
                .maxModelBytes(maxModelBytes)
                .intraOpThreads(intraOpThreads)
                .executionProvider(executionProvider)
                .cudaDeviceId(cudaDeviceId)
                .fallbackToCpu(fallbackToCpu)
                .allowedLocations(allowedSchemes, allowedRoots)
                .optimization(optimization)
                .cpuArena(cpuArena)
                .trust(trust)
                .warmUpTimeout(warmUpTimeout);
    }

    /** These options on CUDA device {@code deviceId}. */
    public ModelLoaderConfig withCuda(int deviceId, boolean fallbackToCpu) {
        return toBuilder()
                .executionProvider(ExecutionProvider.CUDA)
                .cudaDeviceId(deviceId)
                .fallbackToCpu(fallbackToCpu)
                .build();
    }

    /** These options on CPU: for checks made where no GPU is (the job's start on the client). */
    public ModelLoaderConfig onCpu() {
        return toBuilder()
                .executionProvider(ExecutionProvider.CPU)
                .cudaDeviceId(0)
                .fallbackToCpu(false)
                .build();
    }

    /** These options, accepting only versions whose manifests {@code trust} accepts. */
    public ModelLoaderConfig withTrust(ModelTrust trust) {
        return toBuilder().trust(trust).build();
    }

    /**
     * These options, reading models only from URIs with one of {@code schemes} under one of {@code
     * roots}.
     */
    public ModelLoaderConfig withAllowedLocations(List<String> schemes, List<String> roots) {
        return toBuilder().allowedLocations(schemes, roots).build();
    }

    /** Files larger than this are refused before they are read. */
    public long maxModelBytes() {
        return maxModelBytes;
    }

    /** ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime decide. */
    public int intraOpThreads() {
        return intraOpThreads;
    }

    /** CPU, or CUDA on GPU TaskManagers. */
    public ExecutionProvider executionProvider() {
        return executionProvider;
    }

    /** The GPU to use with CUDA (Flink's external resource framework supplies it in the job). */
    public int cudaDeviceId() {
        return cudaDeviceId;
    }

    /**
     * With CUDA: run on CPU, logged and counted, where the CUDA provider cannot start; else a load
     * failure.
     */
    public boolean fallbackToCpu() {
        return fallbackToCpu;
    }

    /** URI schemes a manifest or model file may be read from ({@code file}, {@code s3}, ...). */
    public List<String> allowedSchemes() {
        return allowedSchemes;
    }

    /**
     * URI prefixes a manifest or model file must lie under; empty allows any location with an
     * allowed scheme.
     */
    public List<String> allowedRoots() {
        return allowedRoots;
    }

    /** ONNX Runtime graph optimization level. */
    public GraphOptimization optimization() {
        return optimization;
    }

    /** Whether ONNX Runtime's CPU arena allocator is on (faster; holds on to peak memory). */
    public boolean cpuArena() {
        return cpuArena;
    }

    /**
     * The keys whose manifest signatures are accepted, and whether unsigned versions are served.
     */
    public ModelTrust trust() {
        return trust;
    }

    /**
     * How long a version's warm-up run may take before ONNX Runtime is told to stop it (the load
     * then fails with {@code LOAD_TIMEOUT}): a model that never finishes a run costs nothing after
     * it.
     */
    public Duration warmUpTimeout() {
        return warmUpTimeout;
    }

    /** These options with another warm-up timeout. */
    public ModelLoaderConfig withWarmUpTimeout(Duration timeout) {
        return toBuilder().warmUpTimeout(timeout).build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelLoaderConfig c
                && maxModelBytes == c.maxModelBytes
                && intraOpThreads == c.intraOpThreads
                && executionProvider == c.executionProvider
                && cudaDeviceId == c.cudaDeviceId
                && fallbackToCpu == c.fallbackToCpu
                && allowedSchemes.equals(c.allowedSchemes)
                && allowedRoots.equals(c.allowedRoots)
                && optimization == c.optimization
                && cpuArena == c.cpuArena
                && trust.equals(c.trust)
                && warmUpTimeout.equals(c.warmUpTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                maxModelBytes,
                intraOpThreads,
                executionProvider,
                cudaDeviceId,
                fallbackToCpu,
                allowedSchemes,
                allowedRoots,
                optimization,
                cpuArena,
                trust,
                warmUpTimeout);
    }

    @Override
    public String toString() {
        return "ModelLoaderConfig{maxModelBytes="
                + maxModelBytes
                + ", intraOpThreads="
                + intraOpThreads
                + ", executionProvider="
                + executionProvider
                + ", cudaDeviceId="
                + cudaDeviceId
                + ", fallbackToCpu="
                + fallbackToCpu
                + ", allowedSchemes="
                + allowedSchemes
                + ", allowedRoots="
                + allowedRoots
                + ", optimization="
                + optimization
                + ", cpuArena="
                + cpuArena
                + ", trust="
                + trust
                + ", warmUpTimeout="
                + warmUpTimeout
                + "}";
    }

    /** Builds a {@link ModelLoaderConfig}; unset values keep their defaults. */
    @PublicEvolving
    public static final class Builder {
        private long maxModelBytes = DEFAULT_MAX_MODEL_BYTES;
        private int intraOpThreads = 1;
        private ExecutionProvider executionProvider = ExecutionProvider.CPU;
        private int cudaDeviceId;
        private boolean fallbackToCpu;
        private List<String> allowedSchemes = DEFAULT_SCHEMES;
        private List<String> allowedRoots = List.of();
        private GraphOptimization optimization = GraphOptimization.ALL;
        private boolean cpuArena = true;
        private ModelTrust trust = ModelTrust.UNSIGNED_ALLOWED;
        private Duration warmUpTimeout = Duration.ofMinutes(2);

        private Builder() {}

        public Builder maxModelBytes(long maxModelBytes) {
            this.maxModelBytes = maxModelBytes;
            return this;
        }

        public Builder intraOpThreads(int intraOpThreads) {
            this.intraOpThreads = intraOpThreads;
            return this;
        }

        public Builder executionProvider(ExecutionProvider executionProvider) {
            this.executionProvider = executionProvider;
            return this;
        }

        public Builder cudaDeviceId(int cudaDeviceId) {
            this.cudaDeviceId = cudaDeviceId;
            return this;
        }

        public Builder fallbackToCpu(boolean fallbackToCpu) {
            this.fallbackToCpu = fallbackToCpu;
            return this;
        }

        /**
         * Models are read only from URIs with one of {@code schemes} under one of {@code roots}
         * (empty: any).
         */
        public Builder allowedLocations(List<String> schemes, List<String> roots) {
            this.allowedSchemes = schemes;
            this.allowedRoots = roots == null ? List.of() : roots;
            return this;
        }

        public Builder optimization(GraphOptimization optimization) {
            this.optimization = optimization;
            return this;
        }

        public Builder cpuArena(boolean cpuArena) {
            this.cpuArena = cpuArena;
            return this;
        }

        public Builder trust(ModelTrust trust) {
            this.trust = trust;
            return this;
        }

        /** How long a warm-up run may take before it is stopped; default 2 minutes. */
        public Builder warmUpTimeout(Duration warmUpTimeout) {
            this.warmUpTimeout = warmUpTimeout;
            return this;
        }

        public ModelLoaderConfig build() {
            Preconditions.checkArgument(
                    maxModelBytes > 0, "maxModelBytes must be positive, got %s", maxModelBytes);
            Preconditions.checkArgument(
                    intraOpThreads >= 0, "intraOpThreads must be >= 0, got %s", intraOpThreads);
            Preconditions.checkArgument(
                    cudaDeviceId >= 0, "cudaDeviceId must be >= 0, got %s", cudaDeviceId);
            Preconditions.checkNotNull(executionProvider, "executionProvider");
            Preconditions.checkNotNull(optimization, "optimization");
            Preconditions.checkArgument(
                    allowedSchemes != null && !allowedSchemes.isEmpty(),
                    "at least one URI scheme must be allowed");
            Preconditions.checkNotNull(trust, "trust");
            Preconditions.checkArgument(
                    warmUpTimeout != null && !warmUpTimeout.isNegative() && !warmUpTimeout.isZero(),
                    "warmUpTimeout must be positive, got %s",
                    warmUpTimeout);
            return new ModelLoaderConfig(this);
        }
    }
}
