package org.streaminference.model;

import java.io.Serializable;

/**
 * How model files are fetched and sessions created.
 *
 * @param maxModelBytes     files larger than this are refused before they are read
 * @param intraOpThreads    ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime decide
 * @param executionProvider CPU, or CUDA on GPU TaskManagers
 * @param cudaDeviceId      the GPU to use with CUDA (Flink's external resource framework supplies it in the job)
 * @param fallbackToCpu     with CUDA: run on CPU, logged and counted, where the CUDA provider cannot start; when
 *                          false that is a load failure
 */
public record ModelLoaderOptions(
        long maxModelBytes,
        int intraOpThreads,
        ExecutionProvider executionProvider,
        int cudaDeviceId,
        boolean fallbackToCpu)
        implements Serializable {

    public static final long DEFAULT_MAX_MODEL_BYTES = 512L * 1024 * 1024;

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
        if (executionProvider == null) {
            throw new IllegalArgumentException("executionProvider is required");
        }
    }

    public ModelLoaderOptions(long maxModelBytes, int intraOpThreads) {
        this(maxModelBytes, intraOpThreads, ExecutionProvider.CPU, 0, false);
    }

    public static ModelLoaderOptions defaults() {
        return new ModelLoaderOptions(DEFAULT_MAX_MODEL_BYTES, 1);
    }

    public ModelLoaderOptions withCuda(int deviceId, boolean fallbackToCpu) {
        return new ModelLoaderOptions(maxModelBytes, intraOpThreads, ExecutionProvider.CUDA, deviceId, fallbackToCpu);
    }
}
