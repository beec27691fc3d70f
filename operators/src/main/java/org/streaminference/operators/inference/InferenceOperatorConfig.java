package org.streaminference.operators.inference;

import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.tracing.TracingConfig;

import org.apache.flink.annotation.Internal;

import java.io.Serializable;
import java.util.List;

/**
 * What an inference operator is built from, shipped with the job graph from its factory to each
 * subtask.
 *
 * @param initialLocations the versions served when the job starts without state, one per model;
 *     after a restore the operator serves what its state says
 * @param initialPlan the serving plan (JSON) when the job starts without state; null for one that
 *     sends every event to the starting model
 * @param servedFeatureSpec the spec id to log served feature vectors under, or null not to log them
 * @param drift how served features and predictions are sketched for drift monitoring
 * @param tracing whether batches get spans linked to their records'
 */
@Internal
record InferenceOperatorConfig(
        ModelProvider modelProvider,
        List<String> initialLocations,
        String initialPlan,
        BatchingConfig batching,
        String servedFeatureSpec,
        ModelControlLimits controlLimits,
        DriftConfig drift,
        TracingConfig tracing)
        implements Serializable {
    InferenceOperatorConfig {
        initialLocations = List.copyOf(initialLocations);
    }
}
