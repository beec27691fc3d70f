package org.streaminference.jobs;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.streaminference.model.ModelLoaderOptions;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.operators.inference.BatchingOptions;
import org.streaminference.operators.inference.ModelOutputs;
import org.streaminference.operators.validation.EventValidationFunction;
import org.streaminference.operators.validation.EventLimits;
import org.streaminference.operators.validation.EventValidator;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.RawRecord;
import org.streaminference.schemas.ValidatedEvent;
import org.streaminference.sinks.KafkaSinkOptions;
import org.streaminference.sinks.LatestPredictionTable;
import org.streaminference.sinks.PredictionHistoryTable;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreOptions;
import org.streaminference.sinks.ResultTopicSinks;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.util.List;
import java.util.Map;

/**
 * Wires the pipeline: Kafka events → validation → event time → keyBy(entity) → [profile from the reference-data
 * topic] → the feature spec's features in keyed state → micro-batched ONNX
 * inference (its model versions set by commands from the control topic, broadcast to every subtask) → predictions
 * to Kafka and PostgreSQL; dead letters from every stage to their own topic; shadow predictions and model events to
 * theirs; served feature vectors to theirs when asked for. Every operator has a stable uid so savepoints survive
 * changes to the job.
 */
public final class StreamInferencePipeline {
    private StreamInferencePipeline() {}

    /**
     * Settings the job always needs, applied where the user did not set them: RocksDB keyed state and
     * checkpointing (the exactly-once Kafka output commits on checkpoints).
     */
    public static void applyDefaults(StreamExecutionEnvironment env, ReadableConfig options) {
        Configuration defaults = new Configuration();
        if (!env.getConfiguration().getOptional(StateBackendOptions.STATE_BACKEND).isPresent()) {
            defaults.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        }
        if (!env.getConfiguration().getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).isPresent()) {
            defaults.set(
                    CheckpointingOptions.CHECKPOINTING_INTERVAL,
                    options.get(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL));
        }
        env.configure(defaults);
    }

    /** Adds the whole pipeline to {@code env}. */
    public static void build(StreamExecutionEnvironment env, ReadableConfig options) {
        build(env, options, PipelineStages.standard(options));
    }

    /** Adds the whole pipeline to {@code env}, with the given feature and inference stages. */
    public static void build(StreamExecutionEnvironment env, ReadableConfig options, PipelineStages stages) {
        String bootstrap = required(options, PipelineOptions.KAFKA_BOOTSTRAP_SERVERS.key(),
                options.get(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS));

        DataStream<RawRecord> raw = env.fromSource(
                        eventsSource(options, bootstrap), WatermarkStrategy.noWatermarks(), "events")
                .uid("events-source");

        SingleOutputStreamOperator<ValidatedEvent> valid = raw
                .process(new EventValidationFunction(
                        new EventValidator(stages.requiredNumericFields(), eventLimits(options))))
                .name("validate")
                .uid("validate");

        SingleOutputStreamOperator<EnrichedEvent> enriched = stages.features().apply(valid);
        String controlTopic = options.get(PipelineOptions.MODEL_CONTROL_TOPIC);
        DataStream<ControlMessage> commands = controlTopic == null || controlTopic.isBlank() ? null : env.fromSource(
                        controlSource(options, bootstrap, controlTopic), WatermarkStrategy.noWatermarks(),
                        "model-commands")
                .setParallelism(1)
                .uid("model-commands-source");
        SingleOutputStreamOperator<Prediction> predictions = stages.inference().apply(enriched, commands);

        KafkaSinkOptions sinkOptions = new KafkaSinkOptions(
                bootstrap,
                options.get(PipelineOptions.SINK_DELIVERY_GUARANTEE),
                options.get(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX),
                options.get(PipelineOptions.SINK_TRANSACTION_TIMEOUT).toMillis(),
                Map.of("max.request.size", Long.toString(maxRequestSize(options))));
        predictions
                .sinkTo(ResultTopicSinks.predictions(sinkOptions, options.get(PipelineOptions.PREDICTIONS_TOPIC)))
                .name("predictions-kafka")
                .uid("predictions-kafka");

        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            ResultStoreOptions store = resultStoreOptions(options);
            predictions
                    .sinkTo(LatestPredictionTable.sink(store))
                    .name("latest-prediction-postgres")
                    .uid("latest-prediction-postgres");
            if (options.get(PipelineOptions.RESULT_STORE_HISTORY_ENABLED)) {
                predictions
                        .sinkTo(PredictionHistoryTable.sink(store))
                        .name("prediction-history-postgres")
                        .uid("prediction-history-postgres");
            }
        }

        options.getOptional(PipelineOptions.SERVED_FEATURES_TOPIC).ifPresent(topic -> predictions
                .getSideOutput(ModelOutputs.SERVED_FEATURES)
                .sinkTo(ResultTopicSinks.servedFeatures(sinkOptions, topic))
                .name("served-features-kafka")
                .uid("served-features-kafka"));

        if (commands != null) {
            predictions.getSideOutput(ModelOutputs.SHADOW_PREDICTIONS)
                    .sinkTo(ResultTopicSinks.shadowPredictions(sinkOptions,
                            options.get(PipelineOptions.SHADOW_PREDICTIONS_TOPIC)))
                    .name("shadow-predictions-kafka")
                    .uid("shadow-predictions-kafka");
            predictions.getSideOutput(ModelOutputs.MODEL_EVENTS)
                    .sinkTo(ResultTopicSinks.modelEvents(sinkOptions, options.get(PipelineOptions.MODEL_EVENTS_TOPIC),
                            ModelEvents.serializationSchema()))
                    .name("model-events-kafka")
                    .uid("model-events-kafka");
        }

        DataStream<DeadLetter> deadLetters = valid.getSideOutput(DeadLetters.TAG)
                .union(enriched.getSideOutput(DeadLetters.TAG), predictions.getSideOutput(DeadLetters.TAG));
        deadLetters
                .sinkTo(ResultTopicSinks.deadLetters(sinkOptions, options.get(PipelineOptions.DEAD_LETTERS_TOPIC)))
                .name("dead-letters-kafka")
                .uid("dead-letters-kafka");
    }

    /** The bounds on input events, from the job's options. */
    public static EventLimits eventLimits(ReadableConfig options) {
        long maxBytes = options.get(PipelineOptions.VALIDATION_MAX_EVENT_SIZE).getBytes();
        if (maxBytes <= 0 || maxBytes > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(PipelineOptions.VALIDATION_MAX_EVENT_SIZE.key()
                    + " must be between 1 byte and 2 GiB, got " + maxBytes);
        }
        return new EventLimits((int) maxBytes, options.get(PipelineOptions.VALIDATION_MAX_FUTURE_SKEW));
    }

    /** The producers' request limit; {@link KafkaSinkOptions} refuses one too small for the job's records. */
    private static long maxRequestSize(ReadableConfig options) {
        long bytes = options.get(PipelineOptions.SINK_MAX_REQUEST_SIZE).getBytes();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(PipelineOptions.SINK_MAX_REQUEST_SIZE.key()
                    + " must be below 2 GiB, got " + bytes + " bytes");
        }
        return bytes;
    }

    /**
     * How models are loaded, from the job's options: the allowed locations (required) and the trusted keys (read
     * now, from {@code model.trusted-keys}).
     *
     * @throws IllegalConfigurationException naming the option that is missing or wrong
     */
    public static ModelLoaderOptions loaderOptions(ReadableConfig options) {
        List<String> roots = options.getOptional(PipelineOptions.MODEL_ALLOWED_ROOTS).orElse(List.of());
        if (roots.isEmpty() || roots.stream().allMatch(String::isBlank)) {
            throw new IllegalConfigurationException("Option '" + PipelineOptions.MODEL_ALLOWED_ROOTS.key() + "' is"
                    + " required: the model store's root(s), e.g. s3://models/ (anyone who can write to the control"
                    + " topic can name a location).");
        }
        return new ModelLoaderOptions(
                options.get(PipelineOptions.MODEL_MAX_SIZE).getBytes(),
                options.get(PipelineOptions.MODEL_INTRA_OP_THREADS),
                options.get(PipelineOptions.MODEL_EXECUTION_PROVIDER),
                0,
                options.get(PipelineOptions.MODEL_CUDA_FALLBACK_TO_CPU),
                options.get(PipelineOptions.MODEL_ALLOWED_SCHEMES),
                roots,
                options.get(PipelineOptions.MODEL_GRAPH_OPTIMIZATION),
                options.get(PipelineOptions.MODEL_CPU_ARENA),
                modelTrust(options));
    }

    /** The keys the job trusts, read from {@code model.trusted-keys}, and whether unsigned versions are served. */
    public static ModelTrust modelTrust(ReadableConfig options) {
        boolean allowUnsigned = options.get(PipelineOptions.MODEL_ALLOW_UNSIGNED);
        String file = options.get(PipelineOptions.MODEL_TRUSTED_KEYS);
        if (file == null || file.isBlank()) {
            if (!allowUnsigned) {
                throw new IllegalConfigurationException("Option '" + PipelineOptions.MODEL_TRUSTED_KEYS.key()
                        + "' is required: the PEM public keys of those who may deploy models ('models keygen'"
                        + " makes them). Set '" + PipelineOptions.MODEL_ALLOW_UNSIGNED.key() + ": true' only to try"
                        + " things on one machine.");
            }
            return ModelTrust.of(List.of(), true);
        }
        try {
            Path path = new Path(file);
            String pem;
            try (InputStream in = path.getFileSystem().open(path)) {
                pem = new String(in.readNBytes(1024 * 1024), StandardCharsets.US_ASCII);
            }
            List<PublicKey> keys = ManifestSignatures.readPublicKeys(pem);
            if (keys.isEmpty()) {
                throw new IllegalConfigurationException("'" + file + "' (" + PipelineOptions.MODEL_TRUSTED_KEYS.key()
                        + ") holds no '-----BEGIN PUBLIC KEY-----' block");
            }
            return ModelTrust.of(keys, allowUnsigned);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalConfigurationException("Cannot read the trusted keys '" + file + "' ("
                    + PipelineOptions.MODEL_TRUSTED_KEYS.key() + "): " + e.getMessage(), e);
        }
    }

    /** The bounds of the control plane, from the job's options. */
    public static ModelControlLimits controlLimits(ReadableConfig options) {
        return new ModelControlLimits(options.get(PipelineOptions.MODEL_LOAD_TIMEOUT),
                (int) Math.min(Integer.MAX_VALUE, options.get(PipelineOptions.MODEL_CONTROL_MAX_COMMAND_SIZE).getBytes()),
                options.get(PipelineOptions.MODEL_CONTROL_MAX_PENDING_COMMANDS));
    }

    /** How the inference operator batches, from the job's options. */
    public static BatchingOptions batchingOptions(ReadableConfig options) {
        int maxBatch = options.get(PipelineOptions.INFERENCE_MAX_BATCH_SIZE);
        int concurrent = options.get(PipelineOptions.INFERENCE_CONCURRENT_BATCHES);
        return new BatchingOptions(
                maxBatch,
                options.get(PipelineOptions.INFERENCE_MAX_DELAY).toMillis(),
                concurrent,
                options.get(PipelineOptions.INFERENCE_TIMEOUT).toMillis(),
                options.get(PipelineOptions.INFERENCE_RETRIES),
                options.get(PipelineOptions.INFERENCE_TOP_K),
                options.get(PipelineOptions.INFERENCE_ORDERED),
                options.getOptional(PipelineOptions.INFERENCE_CAPACITY).orElse(2 * maxBatch * concurrent));
    }

    /** The result store settings, or an error naming the missing option. */
    public static ResultStoreOptions resultStoreOptions(ReadableConfig options) {
        return ResultStoreConfig.resultStoreOptions(options, System.getenv());
    }

    private static KafkaSource<RawRecord> eventsSource(ReadableConfig options, String bootstrap) {
        KafkaSourceBuilder<RawRecord> builder = KafkaSource.<RawRecord>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(options.get(PipelineOptions.EVENTS_TOPIC))
                .setGroupId(options.get(PipelineOptions.GROUP_ID))
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new RawRecordDeserializer());
        if (options.get(PipelineOptions.SOURCE_BOUNDED)) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }

    /**
     * The control topic from its beginning: a job started without state replays every command and so serves what
     * they say; after a restore it continues from its checkpointed offsets.
     */
    private static KafkaSource<ControlMessage> controlSource(ReadableConfig options, String bootstrap, String topic) {
        KafkaSourceBuilder<ControlMessage> builder = KafkaSource.<ControlMessage>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(topic)
                .setGroupId(options.get(PipelineOptions.GROUP_ID) + "-model-control")
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setDeserializer(new ModelCommandDeserializer(controlLimits(options).maxCommandBytes()));
        if (options.get(PipelineOptions.SOURCE_BOUNDED)) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }

    static String required(ReadableConfig options, String key, String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalConfigurationException("Option '" + key + "' is required: set it in config.yaml or"
                    + " pass --" + key + " <value>.");
        }
        return value;
    }
}
