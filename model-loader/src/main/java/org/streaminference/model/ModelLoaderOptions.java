package org.streaminference.model;

import java.io.Serializable;

/**
 * How model files are fetched and sessions created.
 *
 * @param maxModelBytes   files larger than this are refused before they are read
 * @param intraOpThreads  ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime decide
 */
public record ModelLoaderOptions(long maxModelBytes, int intraOpThreads) implements Serializable {

    public static final long DEFAULT_MAX_MODEL_BYTES = 512L * 1024 * 1024;

    public ModelLoaderOptions {
        if (maxModelBytes <= 0) {
            throw new IllegalArgumentException("maxModelBytes must be positive");
        }
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intraOpThreads must be >= 0");
        }
    }

    public static ModelLoaderOptions defaults() {
        return new ModelLoaderOptions(DEFAULT_MAX_MODEL_BYTES, 1);
    }
}
