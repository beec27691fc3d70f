package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** Where ONNX Runtime executes a model. */
@PublicEvolving
public enum ExecutionProvider {
    CPU,
    /**
     * NVIDIA GPUs through ONNX Runtime's CUDA provider; needs the onnxruntime_gpu build, CUDA 12
     * and cuDNN 9.
     */
    CUDA
}
