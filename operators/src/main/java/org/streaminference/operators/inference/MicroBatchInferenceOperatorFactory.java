package org.streaminference.operators.inference;

import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;

import org.streaminference.model.control.ModelControlLimits;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.operators.AbstractStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.ChainingStrategy;
import org.apache.flink.streaming.api.operators.OneInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.legacy.YieldingOperatorFactory;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

/**
 * Creates {@link MicroBatchInferenceOperator}s with the task's mailbox executor, with or without the control input.
 */
@Internal
public final class MicroBatchInferenceOperatorFactory extends AbstractStreamOperatorFactory<Prediction>
        implements OneInputStreamOperatorFactory<EnrichedEvent, Prediction>,
                TwoInputStreamOperatorFactory<EnrichedEvent, ControlMessage, Prediction>,
                YieldingOperatorFactory<Prediction> {
    private static final long serialVersionUID = 1L;

    private final ModelProvider modelProvider;
    private final java.util.List<String> initialLocations;
    private final String initialPlan;
    private final BatchingConfig options;
    private final String servedFeatureSpec;
    private final ModelControlLimits controlLimits;
    private final org.streaminference.operators.drift.DriftConfig drift;
    private final org.streaminference.tracing.TracingConfig tracing;

    /**
     * @param initialLocation   the version served when the job starts without state; after a restore the operator
     *                          serves what its state says
     * @param servedFeatureSpec the spec id to log served feature vectors under, or null not to log them
     */
    public MicroBatchInferenceOperatorFactory(ModelProvider modelProvider, String initialLocation,
            BatchingConfig options, String servedFeatureSpec) {
        this(modelProvider, initialLocation, options, servedFeatureSpec, ModelControlLimits.defaults());
    }

    public MicroBatchInferenceOperatorFactory(ModelProvider modelProvider, String initialLocation,
            BatchingConfig options, String servedFeatureSpec, ModelControlLimits controlLimits) {
        this(modelProvider, java.util.List.of(initialLocation), null, options, servedFeatureSpec, controlLimits,
                org.streaminference.operators.drift.DriftConfig.DISABLED,
                org.streaminference.tracing.TracingConfig.DISABLED);
    }

    /**
     * @param initialLocations the versions served when the job starts without state, one per model
     * @param initialPlan the serving plan (JSON) when the job starts without state; null for one that sends every
     *                    event to the starting model
     * @param drift       how served features and predictions are sketched for drift monitoring
     * @param tracing     whether batches get spans linked to their records'
     */
    public MicroBatchInferenceOperatorFactory(ModelProvider modelProvider, java.util.List<String> initialLocations,
            String initialPlan, BatchingConfig options, String servedFeatureSpec, ModelControlLimits controlLimits,
            org.streaminference.operators.drift.DriftConfig drift,
            org.streaminference.tracing.TracingConfig tracing) {
        this.drift = drift;
        this.tracing = tracing;
        this.controlLimits = controlLimits;
        this.modelProvider = modelProvider;
        this.initialLocations = new java.util.ArrayList<>(initialLocations);
        this.initialPlan = initialPlan;
        this.options = options;
        this.servedFeatureSpec = servedFeatureSpec;
        setChainingStrategy(ChainingStrategy.ALWAYS);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends StreamOperator<Prediction>> T createStreamOperator(StreamOperatorParameters<Prediction> parameters) {
        return (T) new MicroBatchInferenceOperator(parameters, modelProvider, initialLocations, initialPlan, options,
                servedFeatureSpec, controlLimits, drift, tracing, getMailboxExecutor());
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Class<? extends StreamOperator> getStreamOperatorClass(ClassLoader classLoader) {
        return MicroBatchInferenceOperator.class;
    }
}
