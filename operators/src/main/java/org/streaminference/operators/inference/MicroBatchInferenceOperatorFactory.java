package org.streaminference.operators.inference;

import org.apache.flink.streaming.api.operators.AbstractStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.ChainingStrategy;
import org.apache.flink.streaming.api.operators.OneInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.operators.legacy.YieldingOperatorFactory;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

/** Creates {@link MicroBatchInferenceOperator}s with the task's mailbox executor. */
public final class MicroBatchInferenceOperatorFactory extends AbstractStreamOperatorFactory<Prediction>
        implements OneInputStreamOperatorFactory<EnrichedEvent, Prediction>, YieldingOperatorFactory<Prediction> {
    private static final long serialVersionUID = 1L;

    private final ModelProvider modelProvider;
    private final BatchingOptions options;

    public MicroBatchInferenceOperatorFactory(ModelProvider modelProvider, BatchingOptions options) {
        this.modelProvider = modelProvider;
        this.options = options;
        setChainingStrategy(ChainingStrategy.ALWAYS);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends StreamOperator<Prediction>> T createStreamOperator(StreamOperatorParameters<Prediction> parameters) {
        return (T) new MicroBatchInferenceOperator(parameters, modelProvider, options, getMailboxExecutor());
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Class<? extends StreamOperator> getStreamOperatorClass(ClassLoader classLoader) {
        return MicroBatchInferenceOperator.class;
    }
}
