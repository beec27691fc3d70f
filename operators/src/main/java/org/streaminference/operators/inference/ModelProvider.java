package org.streaminference.operators.inference;

import org.apache.flink.api.common.functions.RuntimeContext;
import org.streaminference.model.InferenceModel;

import java.io.Serializable;

/** Supplies the model an inference operator serves; the handle is released when the operator closes. */
@FunctionalInterface
public interface ModelProvider extends Serializable {

    /** A model held by one operator instance. */
    interface Handle extends AutoCloseable {
        InferenceModel model();

        /** Whether CUDA was asked for and the model runs on CPU instead. */
        default boolean fellBackToCpu() {
            return false;
        }
    }

    Handle open(RuntimeContext context) throws Exception;
}
