package org.streaminference.operators.inference;

import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.outputs.InferenceSideOutputs;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.tracing.TracingConfig;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * The micro-batched inference operator: adds async, batched ONNX inference to a stream of enriched
 * events. Results are the predictions; dead letters are on the side output {@link DeadLetters#TAG}
 * of the returned stream, shadow predictions, model events and (when asked for) served feature
 * vectors on the side outputs in {@link InferenceSideOutputs}.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<Prediction> predictions = MicroBatchInference.builder()
 *         .modelProvider(new SharedModelProvider(loaderOptions, featureContract))
 *         .initialModel("s3://models/churn/1")
 *         .batching(BatchingConfig.defaults())
 *         .build()
 *         .apply(enriched, modelCommands, "inference");
 * }</pre>
 */
@PublicEvolving
public final class MicroBatchInference {
    private final ModelProvider modelProvider;
    private final List<String> initialModels;
    private final String servingPlan;
    private final BatchingConfig batching;
    private final String servedFeatureSpec;
    private final ModelControlLimits controlLimits;
    private final DriftConfig drift;
    private final TracingConfig tracing;

    private MicroBatchInference(
            ModelProvider modelProvider,
            List<String> initialModels,
            String servingPlan,
            BatchingConfig batching,
            String servedFeatureSpec,
            ModelControlLimits controlLimits,
            DriftConfig drift,
            TracingConfig tracing) {
        this.servingPlan = servingPlan;
        this.drift = drift;
        this.tracing = tracing;
        this.modelProvider = modelProvider;
        this.initialModels = initialModels;
        this.batching = batching;
        this.servedFeatureSpec = servedFeatureSpec;
        this.controlLimits = controlLimits;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds the operator with uid {@code uid}, with one input: it serves the initial model until the
     * records of {@code input} whose {@code control} is set (model commands passed on in order with
     * the events, as the job's features stage does with the control topic) change what it serves.
     * With one input it is chained to the operator before it.
     */
    public SingleOutputStreamOperator<Prediction> apply(
            DataStream<EnrichedEvent> input, String uid) {
        return input.transform(uid, new AvroTypeInfo<>(Prediction.class), factory()).uid(uid);
    }

    /**
     * Adds the operator with uid {@code uid}, serving the initial model until {@code commands} (the
     * control topic's records, decoded at its source and broadcast here to every subtask) change
     * what it serves. An operator with two inputs is never chained to its upstream (each record
     * crosses a serialization); the job instead passes the commands in the events' stream ({@link
     * #apply(DataStream, String)}).
     */
    public SingleOutputStreamOperator<Prediction> apply(
            DataStream<EnrichedEvent> input, DataStream<ControlMessage> commands, String uid) {
        return input.connect(commands.broadcast())
                .transform(uid, new AvroTypeInfo<>(Prediction.class), factory())
                .uid(uid);
    }

    private MicroBatchInferenceOperatorFactory factory() {
        return new MicroBatchInferenceOperatorFactory(
                modelProvider,
                initialModels,
                servingPlan,
                batching,
                servedFeatureSpec,
                controlLimits,
                drift,
                tracing);
    }

    /**
     * How served values are sketched for drift monitoring ({@link DriftConfig#DISABLED} unless
     * set).
     */
    public DriftConfig drift() {
        return drift;
    }

    /** Builds a {@link MicroBatchInference}. */
    public static final class Builder {
        private ModelProvider modelProvider;
        private List<String> initialModels;
        private String servingPlan;
        private BatchingConfig batching = BatchingConfig.defaults();
        private String servedFeatureSpec;
        private ModelControlLimits controlLimits = ModelControlLimits.defaults();
        private DriftConfig drift = DriftConfig.DISABLED;
        private TracingConfig tracing = TracingConfig.DISABLED;

        public Builder modelProvider(ModelProvider modelProvider) {
            this.modelProvider = modelProvider;
            return this;
        }

        /**
         * The models, routes and ensembles served when the job starts without state (SET_PLAN
         * commands replace it); unset: every event goes to the starting model.
         */
        public Builder servingPlan(ServingPlan plan) {
            this.servingPlan =
                    plan == null
                            ? null
                            : new String(ServingPlans.toJson(plan), StandardCharsets.UTF_8);
            return this;
        }

        /** The location of the version served when the job starts without state. */
        public Builder initialModel(String location) {
            return initialModels(List.of(location));
        }

        /**
         * The versions served when the job starts without state, one per model (each manifest names
         * its model).
         */
        public Builder initialModels(List<String> locations) {
            this.initialModels = List.copyOf(locations);
            return this;
        }

        public Builder batching(BatchingConfig batching) {
            this.batching = batching;
            return this;
        }

        /** Bounds on model commands: load timeout, command size, commands waiting behind a load. */
        public Builder controlLimits(ModelControlLimits controlLimits) {
            this.controlLimits = Objects.requireNonNull(controlLimits, "controlLimits");
            return this;
        }

        /**
         * Sketches the features and predictions of every version that has a training baseline and
         * emits the sketches on {@link InferenceSideOutputs#DRIFT_SKETCHES}, for a {@link
         * org.streaminference.operators.drift.DriftMonitor}.
         */
        public Builder drift(DriftConfig drift) {
            this.drift = Objects.requireNonNull(drift, "drift");
            return this;
        }

        /**
         * Gives each batch with a sampled record a span linked to its records' ({@link
         * TracingConfig#DISABLED} unless set).
         */
        public Builder tracing(TracingConfig tracing) {
            this.tracing = Objects.requireNonNull(tracing, "tracing");
            return this;
        }

        /**
         * Emits each prediction's feature vector, with the version that answered, on {@link
         * InferenceSideOutputs#SERVED_FEATURES}.
         *
         * @param featureSpec the id ({@code name:version}) of the spec that computed the vectors
         */
        public Builder logServedFeatures(String featureSpec) {
            this.servedFeatureSpec = Objects.requireNonNull(featureSpec, "featureSpec");
            return this;
        }

        public MicroBatchInference build() {
            return new MicroBatchInference(
                    Objects.requireNonNull(modelProvider, "modelProvider"),
                    Objects.requireNonNull(initialModels, "initialModels"),
                    servingPlan,
                    batching,
                    servedFeatureSpec,
                    controlLimits,
                    drift,
                    tracing);
        }
    }
}
