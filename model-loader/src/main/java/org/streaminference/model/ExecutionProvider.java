package org.streaminference.model;

/** Where ONNX Runtime executes a model. */
public enum ExecutionProvider {
    CPU,
    /** NVIDIA GPUs through ONNX Runtime's CUDA provider; needs the onnxruntime_gpu build, CUDA 12 and cuDNN 9. */
    CUDA
}
