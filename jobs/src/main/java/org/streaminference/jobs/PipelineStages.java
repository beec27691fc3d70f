package org.streaminference.jobs;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.streaminference.features.EntityFeatureFunction;
import org.streaminference.features.SkeletonFeatures;
import org.streaminference.model.FeatureContract;
import org.streaminference.operators.inference.MicroBatchInference;
import org.streaminference.operators.inference.SharedModelProvider;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ValidatedEvent;

import java.io.Serializable;
import java.util.List;
import java.util.function.Function;

/**
 * The two stages of the pipeline that vary: how validated events become feature vectors, and how feature vectors
 * become predictions. Both may send dead letters to {@code DeadLetters.TAG}. The job uses {@link #standard}; the
 * benchmarks and tests put other stages in the same pipeline.
 *
 * @param requiredNumericFields numeric fields an event must carry to be valid for these features
 */
@PublicEvolving
public record PipelineStages(
        List<String> requiredNumericFields,
        Function<KeyedStream<ValidatedEvent, String>, SingleOutputStreamOperator<EnrichedEvent>> features,
        InferenceStage inference) {

    /** Turns feature vectors into predictions, serving what the model commands say where there are any. */
    @FunctionalInterface
    public interface InferenceStage extends Serializable {
        /** @param modelCommands the control topic's commands, or null where the job has none */
        SingleOutputStreamOperator<Prediction> apply(DataStream<EnrichedEvent> enriched,
                DataStream<String> modelCommands);
    }

    /** Per-entity features in keyed state, then the micro-batched operator serving {@code model.uri} first. */
    public static PipelineStages standard(ReadableConfig options) {
        return microBatched(options, SkeletonFeatures.REQUIRED_NUMERIC_FIELDS,
                keyed -> keyed.process(new EntityFeatureFunction()).name("features").uid("features"),
                new FeatureContract(SkeletonFeatures.SPEC, SkeletonFeatures.NAMES.size()));
    }

    /** The given features, then the micro-batched operator, which refuses models that do not fit {@code contract}. */
    public static PipelineStages microBatched(ReadableConfig options, List<String> requiredNumericFields,
            Function<KeyedStream<ValidatedEvent, String>, SingleOutputStreamOperator<EnrichedEvent>> features,
            FeatureContract contract) {
        String modelUri = StreamInferencePipeline.required(
                options, PipelineOptions.MODEL_URI.key(), options.get(PipelineOptions.MODEL_URI));
        MicroBatchInference inference = MicroBatchInference.builder()
                .modelProvider(new SharedModelProvider(StreamInferencePipeline.loaderOptions(options), contract))
                .initialModel(modelUri)
                .batching(StreamInferencePipeline.batchingOptions(options))
                .build();
        return new PipelineStages(requiredNumericFields, features, (enriched, commands) -> commands == null
                ? inference.apply(enriched, "inference")
                : inference.apply(enriched, commands, "inference"));
    }

    /** These stages with an inference stage that takes no model commands. */
    public PipelineStages withInference(Function<DataStream<EnrichedEvent>, SingleOutputStreamOperator<Prediction>> other) {
        return new PipelineStages(requiredNumericFields, features, (enriched, commands) -> other.apply(enriched));
    }
}
