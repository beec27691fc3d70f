package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.features.spec.InvalidFeatureSpecException;
import org.streaminference.model.FeatureContract;
import org.streaminference.operators.inference.MicroBatchInference;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.time.Duration;
import java.util.function.Function;

/**
 * The two stages of the pipeline that vary: how validated events become feature vectors, and how
 * feature vectors become predictions. Both may send dead letters to {@code DeadLetters.TAG}. The
 * job uses {@link #forSpec}, whose features take the control topic's commands as their broadcast
 * side and pass them on in their stream, so that inference has one input and runs chained to the
 * features; the benchmarks and tests put other stages in the same pipeline.
 *
 * @param eventFields the event fields these features read (numeric ones without a default are
 *     required)
 * @param maxOutOfOrderness how far behind the newest event of its source partition an event may
 *     come: the bound of the events' watermarks
 * @param entityTtl how long an entity's feature state lives without events (event time); its
 *     latest_prediction rows go with it. Zero where the features keep no state that expires
 */
@PublicEvolving
public record PipelineStages(
        EventFields eventFields,
        Duration maxOutOfOrderness,
        Duration entityTtl,
        FeatureStageFunction features,
        InferenceStage inference) {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineStages.class);

    /**
     * Turns validated events into feature vectors, passing the model commands on in the same
     * stream.
     */
    @FunctionalInterface
    public interface FeatureStageFunction extends Serializable {
        /**
         * @param modelCommands the control topic's commands, or null where the job has none; each
         *     is emitted in order with the events as an {@link EnrichedEvent} whose {@code control}
         *     is set
         */
        SingleOutputStreamOperator<EnrichedEvent> apply(
                DataStream<ValidatedEvent> valid, DataStream<ControlMessage> modelCommands);
    }

    /**
     * Turns feature vectors into predictions, serving what the model commands that come in the same
     * stream say where there are any.
     */
    @FunctionalInterface
    public interface InferenceStage extends Serializable {
        SingleOutputStreamOperator<Prediction> apply(DataStream<EnrichedEvent> enriched);
    }

    /**
     * The spec {@code features.spec} names, read and checked now, or the demo's when unset.
     *
     * @throws IllegalConfigurationException naming the spec's line and problem
     */
    public static FeatureSpec featureSpec(ReadableConfig options) {
        String location = options.get(PipelineOptions.FEATURES_SPEC);
        if (location == null || location.isBlank()) {
            LOG.info(
                    "{} is not set: computing the demo's feature spec",
                    PipelineOptions.FEATURES_SPEC.key());
            return FeatureSpecs.demo();
        }
        try {
            return FeatureSpecs.load(location);
        } catch (InvalidFeatureSpecException e) {
            throw new IllegalConfigurationException(
                    "Invalid feature spec ("
                            + PipelineOptions.FEATURES_SPEC.key()
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * Features of {@code spec} in keyed state, then the micro-batched operator, which refuses
     * models trained on another spec or taking another width; served feature vectors are logged
     * where the job asks for them.
     *
     * @param joinProfiles whether to join the reference-data topic's profiles; decided before the
     *     graph is built (the job asks the broker whether a bounded job has any to read)
     */
    public static PipelineStages forSpec(
            ReadableConfig options, FeatureSpec spec, boolean joinProfiles) {
        boolean logServed = options.getOptional(PipelineOptions.SERVED_FEATURES_TOPIC).isPresent();
        return new PipelineStages(
                spec.eventFields(),
                Duration.ofMillis(spec.maxOutOfOrdernessMillis()),
                Duration.ofMillis(spec.entityTtlMillis()),
                (valid, commands) ->
                        FeatureStage.apply(valid, spec, options, joinProfiles, commands),
                inference(
                        options,
                        new FeatureContract(spec.id(), spec.layout(), spec.valueNames()),
                        logServed ? spec.id() : null));
    }

    /**
     * The given features, then the micro-batched operator, which refuses models that do not fit
     * {@code contract}. These features take no model commands: the job must have no control topic.
     *
     * @param servedFeatureSpec the spec id to log served feature vectors under, or null not to log
     *     them
     */
    public static PipelineStages microBatched(
            ReadableConfig options,
            EventFields eventFields,
            Duration maxOutOfOrderness,
            Function<DataStream<ValidatedEvent>, SingleOutputStreamOperator<EnrichedEvent>>
                    features,
            FeatureContract contract,
            String servedFeatureSpec) {
        return new PipelineStages(
                eventFields,
                maxOutOfOrderness,
                Duration.ZERO,
                (valid, commands) -> {
                    if (commands != null) {
                        throw new IllegalConfigurationException(
                                "These features cannot pass model commands on: set "
                                        + PipelineOptions.MODEL_CONTROL_TOPIC.key()
                                        + " to an empty value");
                    }
                    return features.apply(valid);
                },
                inference(options, contract, servedFeatureSpec));
    }

    /**
     * The micro-batched operator, chained to the features, taking model commands in their stream.
     */
    private static InferenceStage inference(
            ReadableConfig options, FeatureContract contract, String servedFeatureSpec) {
        MicroBatchInference.Builder builder =
                MicroBatchInference.builder()
                        .modelProvider(
                                new SharedModelProvider(
                                        PipelineSettings.modelLoader(options), contract))
                        .initialModels(PipelineSettings.startingModels(options))
                        .servingPlan(PipelineSettings.servingPlan(options))
                        .batching(PipelineSettings.batching(options))
                        .controlLimits(PipelineSettings.controlLimits(options))
                        .drift(PipelineSettings.drift(options))
                        .tracing(PipelineSettings.tracing(options));
        if (servedFeatureSpec != null) {
            builder.logServedFeatures(servedFeatureSpec);
        }
        MicroBatchInference inference = builder.build();
        return enriched -> inference.apply(enriched, "inference");
    }

    /**
     * These stages with another inference stage (one that takes no model commands: the job must
     * have none).
     */
    public PipelineStages withInference(
            Function<DataStream<EnrichedEvent>, SingleOutputStreamOperator<Prediction>> other) {
        return new PipelineStages(
                eventFields, maxOutOfOrderness, entityTtl, features, other::apply);
    }
}
