package org.streaminference.operators.inference;

import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.tracing.TracingConfig;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.operators.AbstractStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.ChainingStrategy;
import org.apache.flink.streaming.api.operators.OneInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.legacy.YieldingOperatorFactory;

import java.util.List;

/**
 * Creates {@link MicroBatchInferenceOperator}s with the task's mailbox executor, with or without
 * the control input.
 */
@Internal
public final class MicroBatchInferenceOperatorFactory
        extends AbstractStreamOperatorFactory<Prediction>
        implements OneInputStreamOperatorFactory<EnrichedEvent, Prediction>,
                TwoInputStreamOperatorFactory<EnrichedEvent, ControlMessage, Prediction>,
                YieldingOperatorFactory<Prediction> {
    private static final long serialVersionUID = 1L;

    private final InferenceOperatorConfig config;

    /**
     * @param initialLocation the version served when the job starts without state; after a restore
     *     the operator serves what its state says
     * @param servedFeatureSpec the spec id to log served feature vectors under, or null not to log
     *     them
     */
    public MicroBatchInferenceOperatorFactory(
            ModelProvider modelProvider,
            String initialLocation,
            BatchingConfig options,
            String servedFeatureSpec) {
        this(
                modelProvider,
                initialLocation,
                options,
                servedFeatureSpec,
                ModelControlLimits.defaults());
    }

    public MicroBatchInferenceOperatorFactory(
            ModelProvider modelProvider,
            String initialLocation,
            BatchingConfig options,
            String servedFeatureSpec,
            ModelControlLimits controlLimits) {
        this(
                modelProvider,
                List.of(initialLocation),
                null,
                options,
                servedFeatureSpec,
                controlLimits,
                DriftConfig.DISABLED,
                TracingConfig.DISABLED);
    }

    /**
     * @param initialLocations the versions served when the job starts without state, one per model
     * @param initialPlan the serving plan (JSON) when the job starts without state; null for one
     *     that sends every event to the starting model
     * @param drift how served features and predictions are sketched for drift monitoring
     * @param tracing whether batches get spans linked to their records'
     */
    public MicroBatchInferenceOperatorFactory(
            ModelProvider modelProvider,
            List<String> initialLocations,
            String initialPlan,
            BatchingConfig options,
            String servedFeatureSpec,
            ModelControlLimits controlLimits,
            DriftConfig drift,
            TracingConfig tracing) {
        this.config =
                new InferenceOperatorConfig(
                        modelProvider,
                        initialLocations,
                        initialPlan,
                        options,
                        servedFeatureSpec,
                        controlLimits,
                        drift,
                        tracing);
        setChainingStrategy(ChainingStrategy.ALWAYS);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends StreamOperator<Prediction>> T createStreamOperator(
            StreamOperatorParameters<Prediction> parameters) {
        return (T) new MicroBatchInferenceOperator(parameters, config, getMailboxExecutor());
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Class<? extends StreamOperator> getStreamOperatorClass(ClassLoader classLoader) {
        return MicroBatchInferenceOperator.class;
    }
}
