package org.streaminference.jobs;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.streaminference.features.EntityFeatureFunction;
import org.streaminference.features.SkeletonFeatures;
import org.streaminference.operators.inference.MicroBatchInference;
import org.streaminference.operators.inference.SharedModelProvider;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ValidatedEvent;

import java.util.List;
import java.util.function.Function;

/**
 * The two stages of the pipeline that vary: how validated events become feature vectors, and how feature vectors
 * become predictions. Both may send dead letters to {@code DeadLetters.TAG}. The job uses {@link #standard}; the
 * benchmarks put other stages in the same pipeline.
 *
 * @param requiredNumericFields numeric fields an event must carry to be valid for these features
 */
@PublicEvolving
public record PipelineStages(
        List<String> requiredNumericFields,
        Function<KeyedStream<ValidatedEvent, String>, SingleOutputStreamOperator<EnrichedEvent>> features,
        Function<DataStream<EnrichedEvent>, SingleOutputStreamOperator<Prediction>> inference) {

    /** Per-entity features in keyed state, then the micro-batched operator serving {@code model.uri}. */
    public static PipelineStages standard(ReadableConfig options) {
        String modelUri = StreamInferencePipeline.required(
                options, PipelineOptions.MODEL_URI.key(), options.get(PipelineOptions.MODEL_URI));
        return new PipelineStages(
                SkeletonFeatures.REQUIRED_NUMERIC_FIELDS,
                keyed -> keyed.process(new EntityFeatureFunction()).name("features").uid("features"),
                enriched -> MicroBatchInference.builder()
                        .modelProvider(new SharedModelProvider(modelUri, StreamInferencePipeline.loaderOptions(options)))
                        .batching(StreamInferencePipeline.batchingOptions(options))
                        .build()
                        .apply(enriched, "inference"));
    }

    /** These stages with another inference stage. */
    public PipelineStages withInference(Function<DataStream<EnrichedEvent>, SingleOutputStreamOperator<Prediction>> other) {
        return new PipelineStages(requiredNumericFields, features, other);
    }
}
