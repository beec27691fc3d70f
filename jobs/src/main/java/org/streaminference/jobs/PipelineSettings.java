package org.streaminference.jobs;

import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.control.CommandVerifier;
import org.streaminference.model.control.InvalidCommandException;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ServingPlanFiles;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.validation.AvroEventDecoder;
import org.streaminference.operators.validation.EnvelopeEventDecoder;
import org.streaminference.operators.validation.EventDecoder;
import org.streaminference.operators.validation.EventFieldMapping;
import org.streaminference.operators.validation.EventLimits;
import org.streaminference.operators.validation.JsonEventDecoder;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.sinks.KafkaSinkConfig;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreOptions;
import org.streaminference.tracing.TracingConfig;

import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The typed settings the pipeline is built from, each read from the job's {@link PipelineOptions}
 * in one place and checked there: a missing or wrong option fails the job's start with the option's
 * name.
 */
@Internal
public final class PipelineSettings {
    private PipelineSettings() {}

    /** {@code kafka.bootstrap-servers}, required. */
    public static String bootstrapServers(ReadableConfig options) {
        return required(
                options,
                PipelineOptions.KAFKA_BOOTSTRAP_SERVERS.key(),
                options.get(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS));
    }

    /** {@code model.uri}, required. */
    public static List<String> startingModels(ReadableConfig options) {
        List<String> uris =
                options.getOptional(PipelineOptions.MODEL_URI).orElse(List.of()).stream()
                        .map(String::trim)
                        .filter(u -> !u.isEmpty())
                        .toList();
        if (uris.isEmpty()) {
            required(options, PipelineOptions.MODEL_URI.key(), null);
        }
        return uris;
    }

    /**
     * The serving plan {@code model.serving-plan} names, read and checked now; null where it is
     * unset.
     *
     * @throws IllegalConfigurationException naming the file and its problem
     */
    public static ServingPlan servingPlan(ReadableConfig options) {
        String location = options.get(PipelineOptions.MODEL_SERVING_PLAN);
        if (location == null || location.isBlank()) {
            return null;
        }
        try {
            return ServingPlanFiles.read(location);
        } catch (IOException | InvalidCommandException e) {
            throw new IllegalConfigurationException(
                    "Invalid serving plan ("
                            + PipelineOptions.MODEL_SERVING_PLAN.key()
                            + " = "
                            + location
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * The decoder of the events' format ({@code events.format}), reading the fields {@code fields}
     * names; for the user's Avro, the schema read now and every path checked against it.
     *
     * @throws IllegalConfigurationException naming the option, path or schema problem
     */
    public static EventDecoder eventDecoder(ReadableConfig options, EventFields fields) {
        EventFormatOptions.Format format = options.get(EventFormatOptions.FORMAT);
        if (format == EventFormatOptions.Format.ENVELOPE) {
            return new EnvelopeEventDecoder(fields);
        }
        EventFieldMapping mapping =
                new EventFieldMapping(
                        requiredPath(options, EventFormatOptions.EVENT_ID_FIELD),
                        requiredPath(options, EventFormatOptions.ENTITY_ID_FIELD),
                        optionalPath(options, EventFormatOptions.EVENT_TIME_FIELD),
                        optionalPath(options, EventFormatOptions.EVENT_TYPE_FIELD),
                        fields);
        if (format == EventFormatOptions.Format.JSON) {
            return new JsonEventDecoder(mapping);
        }
        List<String> locations =
                options.getOptional(EventFormatOptions.AVRO_SCHEMA).orElse(List.of()).stream()
                        .filter(l -> !l.isBlank())
                        .toList();
        if (locations.isEmpty()) {
            required(options, EventFormatOptions.AVRO_SCHEMA.key(), null);
        }
        List<Schema> versions = new ArrayList<>();
        for (String location : locations) {
            for (Path file : schemaFiles(location)) {
                versions.add(readSchema(file));
            }
        }
        try {
            return new AvroEventDecoder(
                    versions, options.get(EventFormatOptions.AVRO_ENCODING), mapping);
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    "The feature spec or "
                            + EventFormatOptions.FORMAT.key()
                            + " options do not fit the events' Avro schema ("
                            + EventFormatOptions.AVRO_SCHEMA.key()
                            + " = "
                            + locations
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    /** {@code location} itself, or the {@code .avsc} files of the directory it names, by name. */
    private static List<Path> schemaFiles(String location) {
        try {
            Path path = new Path(location);
            FileSystem fs = path.getFileSystem();
            if (!fs.getFileStatus(path).isDir()) {
                return List.of(path);
            }
            List<Path> files = new ArrayList<>();
            for (FileStatus status : fs.listStatus(path)) {
                if (!status.isDir() && status.getPath().getName().endsWith(".avsc")) {
                    files.add(status.getPath());
                }
            }
            files.sort(Comparator.comparing(Path::getName));
            if (files.isEmpty()) {
                throw new IllegalConfigurationException(
                        "The directory "
                                + location
                                + " ("
                                + EventFormatOptions.AVRO_SCHEMA.key()
                                + ") holds no .avsc file");
            }
            return files;
        } catch (IOException e) {
            throw new IllegalConfigurationException(
                    "Cannot read the events' Avro schema ("
                            + EventFormatOptions.AVRO_SCHEMA.key()
                            + " = "
                            + location
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    private static Schema readSchema(Path file) {
        try (InputStream in = file.getFileSystem().open(file)) {
            byte[] bytes = in.readNBytes(4 << 20);
            return new Schema.Parser().parse(new String(bytes, StandardCharsets.UTF_8));
        } catch (IOException | SchemaParseException e) {
            throw new IllegalConfigurationException(
                    "Cannot read the events' Avro schema ("
                            + EventFormatOptions.AVRO_SCHEMA.key()
                            + " = "
                            + file
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    private static String requiredPath(ReadableConfig options, ConfigOption<String> o) {
        return required(options, o.key(), options.get(o));
    }

    private static String optionalPath(ReadableConfig options, ConfigOption<String> o) {
        String path = options.get(o);
        return path == null || path.isBlank() ? null : path;
    }

    /**
     * How the Kafka sinks write: delivery guarantee, transactions, and a request limit fit for the
     * job's records.
     */
    public static KafkaSinkConfig kafkaSink(ReadableConfig options) {
        return new KafkaSinkConfig(
                bootstrapServers(options),
                options.get(PipelineOptions.SINK_DELIVERY_GUARANTEE),
                options.get(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX),
                options.get(PipelineOptions.SINK_TRANSACTION_TIMEOUT).toMillis(),
                Map.of(
                        ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                        Long.toString(maxRequestSize(options)),
                        ProducerConfig.LINGER_MS_CONFIG,
                        Long.toString(options.get(PipelineOptions.SINK_LINGER).toMillis())));
    }

    /**
     * The event source's consumer settings: how long the broker may hold a fetch to gather more
     * events (fewer requests at low rates, for that much latency).
     */
    public static Properties eventConsumer(ReadableConfig options) {
        long minBytes = options.get(PipelineOptions.SOURCE_FETCH_MIN_BYTES).getBytes();
        if (minBytes < 1 || minBytes > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(
                    PipelineOptions.SOURCE_FETCH_MIN_BYTES.key()
                            + " must be between 1 byte and 2 GiB, got "
                            + minBytes);
        }
        Duration maxWait = options.get(PipelineOptions.SOURCE_FETCH_MAX_WAIT);
        if (maxWait.isNegative() || maxWait.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(
                    PipelineOptions.SOURCE_FETCH_MAX_WAIT.key()
                            + " must be between 0 ms and 24 days, got "
                            + maxWait);
        }
        Properties properties = new Properties();
        properties.setProperty(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, Long.toString(minBytes));
        properties.setProperty(
                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, Long.toString(maxWait.toMillis()));
        return properties;
    }

    /** The bounds on input events, from the job's options. */
    public static EventLimits eventLimits(ReadableConfig options) {
        long maxBytes = options.get(PipelineOptions.VALIDATION_MAX_EVENT_SIZE).getBytes();
        if (maxBytes <= 0 || maxBytes > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(
                    PipelineOptions.VALIDATION_MAX_EVENT_SIZE.key()
                            + " must be between 1 byte and 2 GiB, got "
                            + maxBytes);
        }
        return new EventLimits(
                (int) maxBytes, options.get(PipelineOptions.VALIDATION_MAX_FUTURE_SKEW));
    }

    /**
     * The producers' request limit; {@link KafkaSinkConfig} refuses one too small for the job's
     * records.
     */
    static long maxRequestSize(ReadableConfig options) {
        long bytes = options.get(PipelineOptions.SINK_MAX_REQUEST_SIZE).getBytes();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalConfigurationException(
                    PipelineOptions.SINK_MAX_REQUEST_SIZE.key()
                            + " must be below 2 GiB, got "
                            + bytes
                            + " bytes");
        }
        return bytes;
    }

    /**
     * How models are loaded, from the job's options: the allowed locations (required) and the
     * trusted keys (read now, from {@code model.trusted-keys}).
     *
     * @throws IllegalConfigurationException naming the option that is missing or wrong
     */
    public static ModelLoaderConfig modelLoader(ReadableConfig options) {
        List<String> roots =
                options.getOptional(PipelineOptions.MODEL_ALLOWED_ROOTS).orElse(List.of());
        if (roots.isEmpty() || roots.stream().allMatch(String::isBlank)) {
            throw new IllegalConfigurationException(
                    "Option '"
                            + PipelineOptions.MODEL_ALLOWED_ROOTS.key()
                            + "' is"
                            + " required: the model store's root(s), e.g. s3://models/ (anyone who can write to the control"
                            + " topic can name a location).");
        }
        try {
            return ModelLoaderConfig.builder()
                    .maxModelBytes(options.get(PipelineOptions.MODEL_MAX_SIZE).getBytes())
                    .intraOpThreads(options.get(PipelineOptions.MODEL_INTRA_OP_THREADS))
                    .executionProvider(options.get(PipelineOptions.MODEL_EXECUTION_PROVIDER))
                    .fallbackToCpu(options.get(PipelineOptions.MODEL_CUDA_FALLBACK_TO_CPU))
                    .allowedLocations(options.get(PipelineOptions.MODEL_ALLOWED_SCHEMES), roots)
                    .optimization(options.get(PipelineOptions.MODEL_GRAPH_OPTIMIZATION))
                    .cpuArena(options.get(PipelineOptions.MODEL_CPU_ARENA))
                    .trust(modelTrust(options))
                    .warmUpTimeout(options.get(PipelineOptions.MODEL_LOAD_TIMEOUT))
                    .build();
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalConfigurationException(
                    "Invalid model.* options: " + e.getMessage(), e);
        }
    }

    /**
     * The keys the job trusts, read from {@code model.trusted-keys}, and whether unsigned versions
     * are served.
     */
    public static ModelTrust modelTrust(ReadableConfig options) {
        boolean allowUnsigned = options.get(PipelineOptions.MODEL_ALLOW_UNSIGNED);
        String file = options.get(PipelineOptions.MODEL_TRUSTED_KEYS);
        if (file == null || file.isBlank()) {
            if (!allowUnsigned) {
                throw new IllegalConfigurationException(
                        "Option '"
                                + PipelineOptions.MODEL_TRUSTED_KEYS.key()
                                + "' is required: the PEM public keys of those who may deploy models ('models keygen'"
                                + " makes them). Set '"
                                + PipelineOptions.MODEL_ALLOW_UNSIGNED.key()
                                + ": true' only to try"
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
                throw new IllegalConfigurationException(
                        "'"
                                + file
                                + "' ("
                                + PipelineOptions.MODEL_TRUSTED_KEYS.key()
                                + ") holds no '-----BEGIN PUBLIC KEY-----' block");
            }
            return ModelTrust.of(keys, allowUnsigned);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    "Cannot read the trusted keys '"
                            + file
                            + "' ("
                            + PipelineOptions.MODEL_TRUSTED_KEYS.key()
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    /** The bounds of the control plane, from the job's options. */
    public static ModelControlLimits controlLimits(ReadableConfig options) {
        return new ModelControlLimits(
                options.get(PipelineOptions.MODEL_LOAD_TIMEOUT),
                maxCommandBytes(options),
                options.get(PipelineOptions.MODEL_CONTROL_MAX_PENDING_COMMANDS),
                configurationTime(options));
    }

    private static int maxCommandBytes(ReadableConfig options) {
        return (int)
                Math.min(
                        Integer.MAX_VALUE,
                        options.get(PipelineOptions.MODEL_CONTROL_MAX_COMMAND_SIZE).getBytes());
    }

    /**
     * {@code model.configuration-time} in epoch milliseconds: 0 for 'earliest', now where it is not
     * set.
     */
    static long configurationTime(ReadableConfig options) {
        String value = options.get(PipelineOptions.MODEL_CONFIGURATION_TIME);
        if (value == null || value.isBlank()) {
            return System.currentTimeMillis();
        }
        if (value.trim().equalsIgnoreCase("earliest")) {
            return 0L;
        }
        try {
            return Instant.parse(value.trim()).toEpochMilli();
        } catch (DateTimeParseException e) {
            throw new IllegalConfigurationException(
                    PipelineOptions.MODEL_CONFIGURATION_TIME.key()
                            + " must be an"
                            + " ISO-8601 instant such as 2026-12-01T09:00:00Z, or 'earliest'; got '"
                            + value
                            + "'");
        }
    }

    /** Who may command the job, and for how long a command holds, from the job's options. */
    public static CommandVerifier commandVerifier(ReadableConfig options) {
        return new CommandVerifier(
                modelTrust(options),
                maxCommandBytes(options),
                options.get(PipelineOptions.MODEL_CONTROL_COMMAND_TTL),
                CommandVerifier.DEFAULT_MAX_CLOCK_SKEW);
    }

    /** Whether and how records are traced, from the job's options. */
    public static TracingConfig tracing(ReadableConfig options) {
        try {
            return new TracingConfig(
                    options.get(MonitoringOptions.TRACING_SAMPLE_RATIO),
                    options.get(MonitoringOptions.TRACING_EXPORTER),
                    options.get(MonitoringOptions.TRACING_OTLP_ENDPOINT),
                    options.get(MonitoringOptions.TRACING_SERVICE_NAME));
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    MonitoringOptions.TRACING_SAMPLE_RATIO.key() + ": " + e.getMessage(), e);
        }
    }

    /** How served values are watched for drift, from the job's options. */
    public static DriftConfig drift(ReadableConfig options) {
        if (!options.get(MonitoringOptions.DRIFT_ENABLED)) {
            return DriftConfig.DISABLED;
        }
        try {
            return DriftConfig.builder()
                    .window(options.get(MonitoringOptions.DRIFT_WINDOW))
                    .slice(options.get(MonitoringOptions.DRIFT_SLICE))
                    .reportInterval(options.get(MonitoringOptions.DRIFT_REPORT_INTERVAL))
                    .psiThreshold(options.get(MonitoringOptions.DRIFT_PSI_THRESHOLD))
                    .minEvents(options.get(MonitoringOptions.DRIFT_MIN_EVENTS))
                    .build();
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException("monitoring.drift: " + e.getMessage(), e);
        }
    }

    /** How the inference operator batches, from the job's options. */
    public static BatchingConfig batching(ReadableConfig options) {
        BatchingConfig.Builder batching =
                BatchingConfig.builder()
                        .maxBatchSize(options.get(PipelineOptions.INFERENCE_MAX_BATCH_SIZE))
                        .maxDelayMillis(options.get(PipelineOptions.INFERENCE_MAX_DELAY).toMillis())
                        .concurrentBatches(
                                options.get(PipelineOptions.INFERENCE_CONCURRENT_BATCHES))
                        .timeoutMillis(options.get(PipelineOptions.INFERENCE_TIMEOUT).toMillis())
                        .retries(options.get(PipelineOptions.INFERENCE_RETRIES))
                        .topK(options.get(PipelineOptions.INFERENCE_TOP_K))
                        .ordered(options.get(PipelineOptions.INFERENCE_ORDERED))
                        .dispatchWhenIdle(options.get(PipelineOptions.INFERENCE_DISPATCH_WHEN_IDLE))
                        .taskThreadBelowMicros(
                                options.get(PipelineOptions.INFERENCE_TASK_THREAD_BELOW).toNanos()
                                        / 1_000);
        options.getOptional(PipelineOptions.INFERENCE_CAPACITY).ifPresent(batching::capacity);
        try {
            return batching.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    "Invalid inference.* options: " + e.getMessage(), e);
        }
    }

    /** The result store settings, or an error naming the missing option. */
    public static ResultStoreConfig resultStore(ReadableConfig options) {
        return ResultStoreOptions.resultStoreConfig(options, System.getenv());
    }

    /** Whether the job reads its inputs to their end offsets at its start and then finishes. */
    public static boolean bounded(ReadableConfig options) {
        return options.get(PipelineOptions.SOURCE_BOUNDED);
    }

    static String required(ReadableConfig options, String key, String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalConfigurationException(
                    "Option '"
                            + key
                            + "' is required: set it in config.yaml or"
                            + " pass --"
                            + key
                            + " <value>.");
        }
        return value;
    }
}
