package org.streaminference.operators.inference.control;

import org.streaminference.model.InferenceModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.schemas.FeatureLayout;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.functions.RuntimeContext;

import java.io.Serializable;

/**
 * Opens the model version whose manifest is at a location, for one operator instance; the handle is
 * released when the version has left the operator's deployment and its last in-flight record was
 * answered.
 */
@PublicEvolving
@FunctionalInterface
public interface ModelProvider extends Serializable {

    /** A model version held by one operator instance. */
    interface Handle extends AutoCloseable {
        InferenceModel model();

        /**
         * Where the job's feature groups are in an enriched event; null where the job does not say,
         * which feeds a one-input model every float feature in order.
         */
        default FeatureLayout layout() {
            return null;
        }

        /**
         * Where each feature the version's training baseline names is among the float features;
         * null where the version has no baseline or the job does not name its features, so that
         * drift is not watched.
         */
        default int[] baselineIndices() {
            return null;
        }

        /** Whether CUDA was asked for and the model runs on CPU instead. */
        default boolean fellBackToCpu() {
            return false;
        }
    }

    /**
     * Loads, verifies and holds the version at {@code location}; throws with the check it failed.
     */
    Handle open(RuntimeContext context, String location) throws ModelLoadException;

    /**
     * Loads, verifies and holds the version at {@code location} if it is the one {@code expected}.
     * Providers that can check the expectation before the model is parsed override this; the
     * operator checks it again after.
     */
    default Handle open(RuntimeContext context, String location, ModelLoader.Expected expected)
            throws ModelLoadException {
        return open(context, location);
    }
}
