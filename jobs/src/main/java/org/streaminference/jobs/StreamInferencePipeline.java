package org.streaminference.jobs;

import org.streaminference.model.control.ModelEvents;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.drift.DriftMonitor;
import org.streaminference.operators.inference.outputs.InferenceSideOutputs;
import org.streaminference.operators.validation.EventFieldMapping;
import org.streaminference.operators.validation.EventValidationFunction;
import org.streaminference.operators.validation.EventValidator;
import org.streaminference.operators.validation.JsonEventDecoder;
import org.streaminference.operators.validation.ValidatedRecord;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.PredictReply;
import org.streaminference.schemas.PredictRequestFormat;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ValidatedEvent;
import org.streaminference.sinks.KafkaSinkConfig;
import org.streaminference.sinks.LatestPredictionTable;
import org.streaminference.sinks.PredictReplies;
import org.streaminference.sinks.PredictionHistoryTable;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultTopicSinks;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Wires the pipeline: Kafka events, decoded and validated in the source (which takes event time
 * from them) → dead letters split off → keyBy(entity) → [profile from the reference-data topic] →
 * the feature spec's features in keyed state (the control topic's commands broadcast to every
 * subtask as its second input, and passed on in order with the events) → micro-batched ONNX
 * inference, chained to the features (its model versions set by those commands) → predictions to
 * Kafka and PostgreSQL; dead letters from every stage to their own topic; shadow predictions and
 * model events to theirs; served feature vectors to theirs when asked for; drift sketches of
 * versions with a training baseline to one drift monitor, whose DRIFT events join the model events.
 * Every operator has a stable uid so savepoints survive changes to the job.
 */
@Internal
public final class StreamInferencePipeline {
    private static final Logger LOG = LoggerFactory.getLogger(StreamInferencePipeline.class);

    private StreamInferencePipeline() {}

    /**
     * Settings the job always needs, applied where the user did not set them: RocksDB keyed state,
     * checkpointing (the exactly-once Kafka output commits on checkpoints), and object reuse:
     * chained operators hand records on without a deep copy. That is safe here because no operator
     * of the job changes or re-emits a record after passing it on, and none keeps a record it
     * received (the inference operator keeps the enriched events it queues, which the features
     * operator makes new for each event); network inputs never reuse records.
     */
    public static void applyDefaults(StreamExecutionEnvironment env, ReadableConfig options) {
        Configuration defaults = new Configuration();
        if (!env.getConfiguration()
                .getOptional(org.apache.flink.configuration.PipelineOptions.OBJECT_REUSE)
                .isPresent()) {
            defaults.set(org.apache.flink.configuration.PipelineOptions.OBJECT_REUSE, true);
        }
        if (!env.getConfiguration().getOptional(ExecutionOptions.BUFFER_TIMEOUT).isPresent()) {
            // each record's buffer handed on at once: no flusher thread waking every interval
            // (the work of an idle job), and no wait at the shuffle
            defaults.set(ExecutionOptions.BUFFER_TIMEOUT, Duration.ZERO);
        }
        if (!env.getConfiguration().getOptional(StateBackendOptions.STATE_BACKEND).isPresent()) {
            defaults.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        }
        if (!env.getConfiguration()
                .getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL)
                .isPresent()) {
            defaults.set(
                    CheckpointingOptions.CHECKPOINTING_INTERVAL,
                    options.get(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL));
        }
        env.configure(defaults);
        if (env.getConfiguration().getOptional(CheckpointingOptions.CHECKPOINTS_DIRECTORY).isEmpty()
                && !"filesystem"
                        .equals(
                                env.getConfiguration()
                                        .get(CheckpointingOptions.CHECKPOINT_STORAGE))) {
            LOG.warn(
                    "No {}: checkpoints are kept in the JobManager's memory, which takes at most 5 MB of state; the"
                            + " feature state of a few hundred thousand entities is more, and then every checkpoint fails",
                    CheckpointingOptions.CHECKPOINTS_DIRECTORY.key());
        }
    }

    /** Adds the whole pipeline to {@code env}, with the given feature and inference stages. */
    public static void build(
            StreamExecutionEnvironment env, ReadableConfig options, PipelineStages stages) {
        String bootstrap = PipelineSettings.bootstrapServers(options);

        // decoded and validated in the source, which takes each event's own time for its
        // per-partition watermarks
        EventValidator validator =
                new EventValidator(
                        PipelineSettings.eventLimits(options),
                        PipelineSettings.eventDecoder(options, stages.eventFields()));
        DataStream<ValidatedRecord> decoded =
                env.fromSource(
                                eventsSource(options, bootstrap, validator),
                                EventTime.ofEvents(
                                        stages.maxOutOfOrderness(),
                                        options.get(PipelineOptions.FEATURES_WATERMARK_IDLENESS)),
                                "events")
                        .uid("events-source");

        SingleOutputStreamOperator<ValidatedEvent> valid =
                decoded.process(new EventValidationFunction(PipelineSettings.tracing(options)))
                        .name("validate")
                        .uid("validate");

        // predict requests: validated as events are, then keyed with them; they never move event
        // time, and their path flushes every record (latency, not throughput, is what a caller
        // waits on)
        String requestsTopic = options.get(PipelineOptions.PREDICT_REQUESTS_TOPIC);
        boolean takesRequests = requestsTopic != null && !requestsTopic.isBlank();
        SingleOutputStreamOperator<ValidatedEvent> validRequests = null;
        DataStream<ValidatedEvent> toFeatures = valid;
        if (takesRequests) {
            EventValidator requestValidator =
                    new EventValidator(
                            PipelineSettings.eventLimits(options),
                            new JsonEventDecoder(
                                    new EventFieldMapping(
                                            PredictRequestFormat.REQUEST_ID,
                                            PredictRequestFormat.ENTITY_ID,
                                            PredictRequestFormat.EVENT_TIME,
                                            PredictRequestFormat.EVENT_TYPE,
                                            stages.eventFields())));
            validRequests =
                    env.fromSource(
                                    requestsSource(
                                            options, bootstrap, requestsTopic, requestValidator),
                                    EventTime.sideInput(),
                                    "predict-requests")
                            .uid("predict-requests-source")
                            .setBufferTimeout(0)
                            .process(new EventValidationFunction(PipelineSettings.tracing(options)))
                            .name("validate-requests")
                            .uid("validate-requests")
                            .setBufferTimeout(0);
            toFeatures = valid.union(validRequests);
        }

        String controlTopic = options.get(PipelineOptions.MODEL_CONTROL_TOPIC);
        DataStream<ControlMessage> commands =
                controlTopic == null || controlTopic.isBlank()
                        ? null
                        : env.fromSource(
                                        controlSource(options, bootstrap, controlTopic),
                                        EventTime.sideInput(),
                                        "model-commands")
                                .setParallelism(1)
                                .setMaxParallelism(1) // one partition, read in order: never scaled
                                .uid("model-commands-source");
        // the features pass the commands on in their stream: inference has one input and is chained
        // to them
        SingleOutputStreamOperator<EnrichedEvent> enriched =
                stages.features().apply(toFeatures, commands);
        SingleOutputStreamOperator<Prediction> predictions = stages.inference().apply(enriched);
        // what the stream's outputs take: every prediction but those of read-only requests, which
        // only their caller gets
        DataStream<Prediction> streamPredictions =
                takesRequests
                        ? predictions
                                .filter(p -> !PredictReplies.isReadOnlyRequest(p.getSource()))
                                .name("stream-predictions")
                                .uid("stream-predictions")
                        : predictions;

        KafkaSinkConfig sinkOptions = PipelineSettings.kafkaSink(options);
        streamPredictions
                .sinkTo(
                        ResultTopicSinks.predictions(
                                sinkOptions, options.get(PipelineOptions.PREDICTIONS_TOPIC)))
                .name("predictions-kafka")
                .uid("predictions-kafka");

        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            ResultStoreConfig store = PipelineSettings.resultStore(options);
            // the latest row of an entity goes with its feature state (the spec's entityTtl, in
            // event time)
            Duration latestRetention =
                    options.getOptional(PipelineOptions.RESULT_STORE_LATEST_RETENTION)
                            .orElse(stages.entityTtl());
            boolean history = options.get(PipelineOptions.RESULT_STORE_HISTORY_ENABLED);
            streamPredictions
                    .sinkTo(
                            LatestPredictionTable.sink(
                                    store,
                                    latestRetention,
                                    history
                                            ? options.get(
                                                    PipelineOptions.RESULT_STORE_HISTORY_RETENTION)
                                            : null,
                                    options.get(PipelineOptions.RESULT_STORE_RETENTION_INTERVAL)))
                    .name("latest-prediction-postgres")
                    .uid("latest-prediction-postgres");
            if (history) {
                streamPredictions
                        .sinkTo(PredictionHistoryTable.sink(store))
                        .name("prediction-history-postgres")
                        .uid("prediction-history-postgres");
            }
        }

        options.getOptional(PipelineOptions.SERVED_FEATURES_TOPIC)
                .ifPresent(
                        topic ->
                                predictions
                                        .getSideOutput(InferenceSideOutputs.SERVED_FEATURES)
                                        .sinkTo(ResultTopicSinks.servedFeatures(sinkOptions, topic))
                                        .name("served-features-kafka")
                                        .uid("served-features-kafka"));

        DataStream<ModelEvent> driftEvents = null;
        DriftConfig drift = PipelineSettings.drift(options);
        if (drift.enabled()) {
            // one monitor sees every subtask's sketches; it never scales (max parallelism 1)
            driftEvents =
                    predictions
                            .getSideOutput(InferenceSideOutputs.DRIFT_SKETCHES)
                            .process(new DriftMonitor(drift), new AvroTypeInfo<>(ModelEvent.class))
                            .setParallelism(1)
                            .setMaxParallelism(1)
                            .name("drift-monitor")
                            .uid("drift-monitor");
        }

        if (commands != null) {
            DataStream<ModelEvent> modelEvents =
                    predictions.getSideOutput(InferenceSideOutputs.MODEL_EVENTS);
            if (driftEvents != null) {
                modelEvents = modelEvents.union(driftEvents);
            }
            predictions
                    .getSideOutput(InferenceSideOutputs.SHADOW_PREDICTIONS)
                    .sinkTo(
                            ResultTopicSinks.shadowPredictions(
                                    sinkOptions,
                                    options.get(PipelineOptions.SHADOW_PREDICTIONS_TOPIC)))
                    .name("shadow-predictions-kafka")
                    .uid("shadow-predictions-kafka");
            modelEvents
                    .sinkTo(
                            ResultTopicSinks.modelEvents(
                                    sinkOptions,
                                    options.get(PipelineOptions.MODEL_EVENTS_TOPIC),
                                    ModelEvents.serializationSchema()))
                    .name("model-events-kafka")
                    .uid("model-events-kafka");
        }

        DataStream<DeadLetter> deadLetters =
                valid.getSideOutput(DeadLetters.TAG)
                        .union(
                                enriched.getSideOutput(DeadLetters.TAG),
                                predictions.getSideOutput(DeadLetters.TAG));
        DataStream<DeadLetter> streamDeadLetters = deadLetters;
        if (takesRequests) {
            deadLetters = deadLetters.union(validRequests.getSideOutput(DeadLetters.TAG));
            streamDeadLetters =
                    deadLetters
                            .filter(d -> !PredictReplies.isReadOnlyRequest(d.getSource()))
                            .name("stream-dead-letters")
                            .uid("stream-dead-letters");
            replies(options, sinkOptions, predictions, deadLetters);
        }
        streamDeadLetters
                .sinkTo(
                        ResultTopicSinks.deadLetters(
                                sinkOptions, options.get(PipelineOptions.DEAD_LETTERS_TOPIC)))
                .name("dead-letters-kafka")
                .uid("dead-letters-kafka");
    }

    /**
     * Every request's answer to the reply topic partition of its gateway instance. A prediction
     * goes from the inference operator's own chain (same parallelism, forward: no network hop and
     * no buffer to wait in); a refusal, a dead letter from whichever stage refused the request,
     * goes through the dead letters' union, so it waits at most the network buffer timeout of the
     * stage that refused it.
     */
    private static void replies(
            ReadableConfig options,
            KafkaSinkConfig sinkOptions,
            DataStream<Prediction> predictions,
            DataStream<DeadLetter> deadLetters) {
        TypeInformation<PredictReply> replyType = new AvroTypeInfo<>(PredictReply.class);
        String topic = options.get(PipelineOptions.PREDICT_REPLIES_TOPIC);
        predictions
                .filter(p -> PredictReplies.isRequest(p.getSource()))
                .name("request-predictions")
                .uid("request-predictions")
                .map(p -> PredictReplies.of(p), replyType)
                .name("predict-answers")
                .uid("predict-answers")
                .sinkTo(PredictReplies.sink(sinkOptions, topic))
                .name("predict-answers-kafka")
                .uid("predict-answers-kafka");
        deadLetters
                .filter(d -> PredictReplies.isRequest(d.getSource()))
                .name("request-dead-letters")
                .uid("request-dead-letters")
                .map(d -> PredictReplies.of(d), replyType)
                .name("predict-refusals")
                .uid("predict-refusals")
                .sinkTo(PredictReplies.sink(sinkOptions, topic))
                .name("predict-refusals-kafka")
                .uid("predict-refusals-kafka");
    }

    /**
     * The request topic from its end at the job's first start: a request older than the job has no
     * caller waiting any more. After a restore it continues from its checkpointed offsets.
     */
    private static KafkaSource<ValidatedRecord> requestsSource(
            ReadableConfig options, String bootstrap, String topic, EventValidator validator) {
        return KafkaSource.<ValidatedRecord>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(topic)
                .setGroupId(options.get(PipelineOptions.GROUP_ID) + "-predict-requests")
                .setStartingOffsets(OffsetsInitializer.latest())
                .setProperty("fetch.max.wait.ms", "10")
                .setDeserializer(
                        EventRecordDeserializer.ofRequests(
                                validator, PipelineSettings.tracing(options).enabled()))
                .build();
    }

    private static KafkaSource<ValidatedRecord> eventsSource(
            ReadableConfig options, String bootstrap, EventValidator validator) {
        KafkaSourceBuilder<ValidatedRecord> builder =
                KafkaSource.<ValidatedRecord>builder()
                        .setBootstrapServers(bootstrap)
                        .setTopics(options.get(PipelineOptions.EVENTS_TOPIC))
                        .setGroupId(options.get(PipelineOptions.GROUP_ID))
                        .setStartingOffsets(
                                OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                        .setProperties(PipelineSettings.eventConsumer(options))
                        .setDeserializer(
                                new EventRecordDeserializer(
                                        validator, PipelineSettings.tracing(options).enabled()));
        if (options.get(PipelineOptions.SOURCE_BOUNDED)) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }

    /**
     * The control topic from its beginning: a job started without state reads every command, and
     * obeys the signed ones issued after its configuration ({@code model.configuration-time});
     * after a restore it continues from its checkpointed offsets.
     */
    private static KafkaSource<ControlMessage> controlSource(
            ReadableConfig options, String bootstrap, String topic) {
        KafkaSourceBuilder<ControlMessage> builder =
                KafkaSource.<ControlMessage>builder()
                        .setBootstrapServers(bootstrap)
                        .setTopics(topic)
                        .setGroupId(options.get(PipelineOptions.GROUP_ID) + "-model-control")
                        .setStartingOffsets(OffsetsInitializer.earliest())
                        .setDeserializer(
                                new ModelCommandDeserializer(
                                        PipelineSettings.commandVerifier(options)));
        if (options.get(PipelineOptions.SOURCE_BOUNDED)) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }
}
