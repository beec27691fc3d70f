package org.streaminference.jobs;

import org.streaminference.model.ExecutionProvider;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.schemas.TopicOptions;
import org.streaminference.sinks.ResultStoreOptions;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Every option of the job, read from Flink's {@code config.yaml} or the command line ({@code --key
 * value}). Flink's own options (parallelism, checkpointing, state backend, restart strategy) are
 * set the usual Flink way.
 */
@PublicEvolving
public final class PipelineOptions {
    private PipelineOptions() {}

    public static final ConfigOption<String> KAFKA_BOOTSTRAP_SERVERS =
            TopicOptions.KAFKA_BOOTSTRAP_SERVERS;

    public static final ConfigOption<String> EVENTS_TOPIC = TopicOptions.EVENTS_TOPIC;

    public static final ConfigOption<String> PREDICTIONS_TOPIC = TopicOptions.PREDICTIONS_TOPIC;

    public static final ConfigOption<String> DEAD_LETTERS_TOPIC = TopicOptions.DEAD_LETTERS_TOPIC;

    public static final ConfigOption<String> GROUP_ID = TopicOptions.GROUP_ID;

    public static final ConfigOption<Boolean> SOURCE_BOUNDED =
            ConfigOptions.key("kafka.source.bounded")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Stop at the input topic's latest offsets as of job start, then finish: for"
                                    + " backfills and tests.");

    public static final ConfigOption<MemorySize> SOURCE_FETCH_MIN_BYTES =
            ConfigOptions.key("kafka.source.fetch-min-bytes")
                    .memoryType()
                    .defaultValue(MemorySize.parse("1b"))
                    .withDescription(
                            "The event source's fetch.min.bytes: the broker holds a fetch until this much"
                                    + " is there or fetch-max-wait passed. 1 b answers with every event at once; at"
                                    + " low rates a few KB with a fetch-max-wait of a few ms fetch several events per"
                                    + " request, trading that wait in latency for less CPU in the job and the broker.");

    public static final ConfigOption<Duration> SOURCE_FETCH_MAX_WAIT =
            ConfigOptions.key("kafka.source.fetch-max-wait")
                    .durationType()
                    .defaultValue(Duration.ofMillis(500))
                    .withDescription(
                            "The event source's fetch.max.wait.ms: the longest the broker holds a fetch"
                                    + " that has less than fetch-min-bytes (Kafka's default, 500 ms, only matters"
                                    + " with fetch-min-bytes above 1 b).");

    public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE =
            ConfigOptions.key("kafka.sink.delivery-guarantee")
                    .enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.EXACTLY_ONCE)
                    .withDescription(
                            "Delivery guarantee of the prediction and dead-letter topics. exactly-once"
                                    + " writes in Kafka transactions committed on checkpoints: consumers read them with"
                                    + " isolation.level=read_committed.");

    public static final ConfigOption<String> SINK_TRANSACTIONAL_ID_PREFIX =
            ConfigOptions.key("kafka.sink.transactional-id-prefix")
                    .stringType()
                    .defaultValue("streaminference")
                    .withDescription(
                            "Prefix of the Kafka transactional ids; must be unique per job on a cluster.");

    public static final ConfigOption<Duration> SINK_TRANSACTION_TIMEOUT =
            ConfigOptions.key("kafka.sink.transaction-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "Kafka transaction timeout; at most the broker's transaction.max.timeout.ms"
                                    + " (15 min by default) and well above the checkpoint interval.");

    public static final ConfigOption<Duration> SINK_LINGER =
            ConfigOptions.key("kafka.sink.linger")
                    .durationType()
                    .defaultValue(Duration.ZERO)
                    .withDescription(
                            "How long the result topics' producers wait to fill a batch (Kafka's linger.ms, 5 ms"
                                    + " by default since Kafka 4.0). 0 sends as soon as the producer can (under load records still"
                                    + " batch while requests are in flight); a few ms trade that much latency for fewer, larger"
                                    + " requests.");

    public static final ConfigOption<MemorySize> SINK_MAX_REQUEST_SIZE =
            ConfigOptions.key("kafka.sink.max-request-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("1mb"))
                    .withDescription(
                            "The Kafka producer's max.request.size for every output topic, at least 1 MiB (the"
                                    + " broker's default message.max.bytes). Every record the job writes is bounded below it: dead"
                                    + " letters cut the original value after 64 KiB, predictions are at most 512 KiB.");

    public static final ConfigOption<MemorySize> VALIDATION_MAX_EVENT_SIZE =
            ConfigOptions.key("validation.max-event-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("1mb"))
                    .withDescription(
                            "Input records larger than this are RECORD_TOO_LARGE dead letters, before"
                                    + " any decoding.");

    public static final ConfigOption<Duration> VALIDATION_MAX_FUTURE_SKEW =
            ConfigOptions.key("validation.max-future-skew")
                    .durationType()
                    .defaultValue(Duration.ofHours(1))
                    .withDescription(
                            "Events whose eventTime is further ahead of the TaskManager's clock than this"
                                    + " are FUTURE_EVENT dead letters; one such event would otherwise hold its entity's"
                                    + " latest prediction and feature state until that date.");

    public static final ConfigOption<String> FEATURES_SPEC =
            ConfigOptions.key("features.spec")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "The feature spec (YAML) the job computes, as a Flink FileSystem path or URI. It is read"
                                    + " and checked when the job is built: an invalid spec fails the start with its line and"
                                    + " problem. Unset: the demo's spec bundled with the job (demo-transactions:1). Models whose"
                                    + " manifest names another spec are refused at load.");

    public static final ConfigOption<String> FEATURES_REFERENCE_TOPIC =
            ConfigOptions.key("features.reference-topic")
                    .stringType()
                    .defaultValue("entity-profiles")
                    .withDescription(
                            "Compacted topic of EntityProfile records keyed by entity id (reference data), read"
                                    + " from its beginning when the spec has features with 'source: profile'. It may be created"
                                    + " after the job starts; until an entity's profile arrives its profile features take their"
                                    + " defaults.");

    public static final ConfigOption<Duration> FEATURES_WATERMARK_IDLENESS =
            ConfigOptions.key("features.watermark-idleness")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(30))
                    .withDescription(
                            "A source partition without valid events for this long stops holding back"
                                    + " the watermark, which drives the expiry of idle entities (the spec's entityTtl); while"
                                    + " every partition is idle the watermark stands still.");

    public static final ConfigOption<String> SERVED_FEATURES_TOPIC =
            ConfigOptions.key("kafka.topic.served-features")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "When set, every prediction's feature vector is logged to this topic as a"
                                    + " ServedFeatures record (event, model version, spec id, values), in the delivery guarantee of"
                                    + " the predictions: training data from exactly what the model saw.");

    public static final ConfigOption<List<String>> MODEL_URI =
            ConfigOptions.key("model.uri")
                    .stringType()
                    .asList()
                    .noDefaultValue()
                    .withDescription(
                            "Directory (or manifest.json) of the model version served when the job starts"
                                    + " without state, as a Flink FileSystem URI: a local path, file://, s3://, hdfs://... A job that"
                                    + " serves several models (model.serving-plan) lists one version per model, separated by ';'"
                                    + " (each manifest names its model); a model the plan names and this list does not serves from"
                                    + " its first PUBLISH. After the start, signed commands on model.control-topic issued after"
                                    + " model.configuration-time decide, and a restored job serves what its state says.");

    public static final ConfigOption<String> MODEL_SERVING_PLAN =
            ConfigOptions.key("model.serving-plan")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "JSON or YAML file (a Flink FileSystem URI) with the serving plan the job starts with:"
                                    + " the models it serves, the routes that send each event to one or several of them (by event"
                                    + " type, by a categorical field's value) and weighted ensembles. Unset: every event goes to the"
                                    + " model of model.uri. After the start, SET_PLAN commands on model.control-topic replace it"
                                    + " (`models plan`), and a restored job serves the plan of its state.");

    public static final ConfigOption<MemorySize> MODEL_MAX_SIZE =
            ConfigOptions.key("model.max-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("512mb"))
                    .withDescription(
                            "Model files larger than this are refused before they are read.");

    public static final ConfigOption<Integer> MODEL_INTRA_OP_THREADS =
            ConfigOptions.key("model.intra-op-threads")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose. Keep it low"
                                    + " when a TaskManager runs several slots.");

    public static final ConfigOption<ExecutionProvider> MODEL_EXECUTION_PROVIDER =
            ConfigOptions.key("model.execution-provider")
                    .enumType(ExecutionProvider.class)
                    .defaultValue(ExecutionProvider.CPU)
                    .withDescription(
                            "CPU, or CUDA on GPU TaskManagers (needs the GPU build of the job jar, CUDA 12"
                                    + " and cuDNN 9). The GPU index comes from Flink's external resource 'gpu'.");

    public static final ConfigOption<Boolean> MODEL_CUDA_FALLBACK_TO_CPU =
            ConfigOptions.key("model.cuda.fallback-to-cpu")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "With CUDA: run on CPU where the CUDA provider cannot start, logged and reported by the"
                                    + " cudaFallback metric, instead of failing the job.");

    public static final ConfigOption<List<String>> MODEL_ALLOWED_SCHEMES =
            ConfigOptions.key("model.allowed-schemes")
                    .stringType()
                    .asList()
                    .defaultValues(ModelLoaderConfig.DEFAULT_SCHEMES.toArray(new String[0]))
                    .withDescription(
                            "URI schemes manifests and model files may be read from; anything else is rejected"
                                    + " (URI_NOT_ALLOWED).");

    public static final ConfigOption<List<String>> MODEL_ALLOWED_ROOTS =
            ConfigOptions.key("model.allowed-roots")
                    .stringType()
                    .asList()
                    .noDefaultValue()
                    .withDescription(
                            "URI prefixes (e.g. s3://models/) every manifest and model file must lie under, local"
                                    + " paths checked on their real path (symbolic links resolved). Required: anyone who can write to"
                                    + " the control topic can name a location.");

    public static final ConfigOption<String> MODEL_TRUSTED_KEYS =
            ConfigOptions.key("model.trusted-keys")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File (a Flink FileSystem path; in Kubernetes a mounted secret) of the PEM Ed25519"
                                    + " public keys whose manifest signatures the job accepts ('models keygen' makes them; several"
                                    + " keys for a rotation). A version or model command not signed by one of them is refused:"
                                    + " UNSIGNED or SIGNATURE_INVALID. Read where the job is built. Required unless"
                                    + " model.allow-unsigned.");

    public static final ConfigOption<Boolean> MODEL_ALLOW_UNSIGNED =
            ConfigOptions.key("model.allow-unsigned")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Serve model versions without a manifest signature (logged as a warning each time)"
                                    + " and obey unsigned model commands. For trying things on one machine (the local run turns it"
                                    + " on); never in production. A wrong signature is refused either way.");

    public static final ConfigOption<Duration> MODEL_LOAD_TIMEOUT =
            ConfigOptions.key("model.load-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(5))
                    .withDescription(
                            "A version that takes longer to fetch, verify and load is rejected (LOAD_TIMEOUT) and"
                                    + " the commands behind it go on; its warm-up run, if still running, is stopped through ONNX"
                                    + " Runtime's run termination.");

    public static final ConfigOption<MemorySize> MODEL_CONTROL_MAX_COMMAND_SIZE =
            ConfigOptions.key("model.control.max-command-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64kb"))
                    .withDescription(
                            "Larger model commands are rejected (TOO_LARGE) without being parsed.");

    public static final ConfigOption<Duration> MODEL_CONTROL_COMMAND_TTL =
            ConfigOptions.key("model.control.command-ttl")
                    .durationType()
                    .defaultValue(Duration.ofDays(1))
                    .withDescription(
                            "How long after its issue time a signed model command is obeyed; an older one"
                                    + " is refused (STALE), so that a command withheld by whoever can read the topic cannot"
                                    + " be slipped in later. Commands issued more than 5 min in the future are refused"
                                    + " (NOT_YET_VALID).");

    public static final ConfigOption<String> MODEL_CONFIGURATION_TIME =
            ConfigOptions.key("model.configuration-time")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "When this job's model configuration (model.uri, model.serving-plan) was"
                                    + " decided, as an ISO-8601 instant, or 'earliest'. A job started without state serves"
                                    + " its configuration and refuses the control topic's commands issued before this"
                                    + " (STALE); signed commands issued after it win. Default: the time the job is built"
                                    + " (submitted), so a fresh job serves exactly its configuration.");

    public static final ConfigOption<Integer> MODEL_CONTROL_MAX_PENDING_COMMANDS =
            ConfigOptions.key("model.control.max-pending-commands")
                    .intType()
                    .defaultValue(1_000)
                    .withDescription(
                            "Model commands that may wait behind a version being loaded; more are"
                                    + " rejected (TOO_MANY_PENDING).");

    public static final ConfigOption<ModelLoaderConfig.GraphOptimization> MODEL_GRAPH_OPTIMIZATION =
            ConfigOptions.key("model.graph-optimization")
                    .enumType(ModelLoaderConfig.GraphOptimization.class)
                    .defaultValue(ModelLoaderConfig.GraphOptimization.ALL)
                    .withDescription(
                            "ONNX Runtime graph optimization level: DISABLED, BASIC, EXTENDED or ALL.");

    public static final ConfigOption<Boolean> MODEL_CPU_ARENA =
            ConfigOptions.key("model.cpu-arena")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "ONNX Runtime's CPU arena allocator: faster, but keeps peak memory per session; turn it"
                                    + " off to bound native memory with many versions loaded.");

    public static final ConfigOption<String> MODEL_CONTROL_TOPIC = TopicOptions.MODEL_CONTROL_TOPIC;

    public static final ConfigOption<String> MODEL_EVENTS_TOPIC = TopicOptions.MODEL_EVENTS_TOPIC;

    public static final ConfigOption<String> PREDICT_REQUESTS_TOPIC =
            TopicOptions.PREDICT_REQUESTS_TOPIC;

    public static final ConfigOption<String> PREDICT_REPLIES_TOPIC =
            TopicOptions.PREDICT_REPLIES_TOPIC;

    public static final ConfigOption<String> SHADOW_PREDICTIONS_TOPIC =
            ConfigOptions.key("kafka.topic.shadow-predictions")
                    .stringType()
                    .defaultValue("predictions-shadow")
                    .withDescription(
                            "Topic for the predictions of a shadow model version (Avro Prediction).");

    public static final ConfigOption<Integer> INFERENCE_MAX_BATCH_SIZE =
            ConfigOptions.key("inference.max-batch-size")
                    .intType()
                    .defaultValue(64)
                    .withDescription("A batch runs as soon as it holds this many records.");

    public static final ConfigOption<Duration> INFERENCE_MAX_DELAY =
            ConfigOptions.key("inference.max-delay")
                    .durationType()
                    .defaultValue(Duration.ofMillis(5))
                    .withDescription(
                            "... or as soon as its oldest record has waited this long. 0 runs every record at once.");

    public static final ConfigOption<Integer> INFERENCE_CONCURRENT_BATCHES =
            ConfigOptions.key("inference.concurrent-batches")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Batches running at once per subtask, each on an inference thread of its own.");

    public static final ConfigOption<Integer> INFERENCE_CAPACITY =
            ConfigOptions.key("inference.capacity")
                    .intType()
                    .noDefaultValue()
                    .withDescription(
                            "Records in flight per subtask (waiting in a batch or running) before the operator"
                                    + " back-pressures; default 2 x max-batch-size x concurrent-batches.");

    public static final ConfigOption<Duration> INFERENCE_TIMEOUT =
            ConfigOptions.key("inference.timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(30))
                    .withDescription(
                            "Records of a batch still without an answer this long after the batch was cut become"
                                    + " TIMEOUT dead letters; 0 disables the timeout.");

    public static final ConfigOption<Integer> INFERENCE_RETRIES =
            ConfigOptions.key("inference.retries")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "Times a failed batch is retried whole before it is split to isolate the bad records.");

    public static final ConfigOption<Integer> INFERENCE_TOP_K =
            ConfigOptions.key("inference.top-k")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "Most probable classes listed in each prediction of a classifier (0: none).");

    public static final ConfigOption<Boolean> INFERENCE_DISPATCH_WHEN_IDLE =
            ConfigOptions.key("inference.dispatch-when-idle")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "While no batch is running, pending records run a pace (max-delay / 8) after the"
                                    + " last batch at the latest: at once when a record arrives or a batch finishes after"
                                    + " that, instead of waiting for max-delay. false: by size and delay only.");

    public static final ConfigOption<Duration> INFERENCE_TASK_THREAD_BELOW =
            ConfigOptions.key("inference.task-thread-below")
                    .durationType()
                    .defaultValue(Duration.ZERO)
                    .withDescription(
                            "A batch cut on the task thread while no other batch runs is run right there instead of on"
                                    + " an inference thread when the version's recent batches took less than this: the task"
                                    + " thread, idle until the answers come, is held up at most about this long, and for a"
                                    + " cheap model waking an inference thread and then the task thread with its answers"
                                    + " costs more than the run (a timed-out run is still stopped by inference.timeout). 0"
                                    + " ms (the default): always on the inference threads. On a 2-core machine with the broker"
                                    + " beside the job, 1 ms cost a drain a third of its rate (the busiest task then ran the"
                                    + " model too); at 1,024 events/s single runs disagreed (756 against 651 µs of CPU per event"
                                    + " in one, 410 against 491 in another, four minutes in): see bench/README.md.");

    public static final ConfigOption<Boolean> INFERENCE_ORDERED =
            ConfigOptions.key("inference.ordered")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Emit predictions in input order; otherwise as batches finish. Watermarks are respected"
                                    + " either way, and per-entity order does not matter to the result store's event-time guard.");

    // the result store's options live with the result store, which the query service shares
    public static final ConfigOption<Boolean> RESULT_STORE_ENABLED =
            ResultStoreOptions.RESULT_STORE_ENABLED;
    public static final ConfigOption<String> RESULT_STORE_JDBC_URL =
            ResultStoreOptions.RESULT_STORE_JDBC_URL;
    public static final ConfigOption<String> RESULT_STORE_USERNAME =
            ResultStoreOptions.RESULT_STORE_USERNAME;
    public static final ConfigOption<String> RESULT_STORE_PASSWORD =
            ResultStoreOptions.RESULT_STORE_PASSWORD;
    public static final ConfigOption<String> RESULT_STORE_PASSWORD_FILE =
            ResultStoreOptions.RESULT_STORE_PASSWORD_FILE;
    public static final ConfigOption<DeliveryGuarantee> RESULT_STORE_DELIVERY_GUARANTEE =
            ResultStoreOptions.RESULT_STORE_DELIVERY_GUARANTEE;
    public static final ConfigOption<Boolean> RESULT_STORE_HISTORY_ENABLED =
            ResultStoreOptions.RESULT_STORE_HISTORY_ENABLED;
    public static final ConfigOption<Duration> RESULT_STORE_HISTORY_RETENTION =
            ResultStoreOptions.RESULT_STORE_HISTORY_RETENTION;
    public static final ConfigOption<Duration> RESULT_STORE_LATEST_RETENTION =
            ResultStoreOptions.RESULT_STORE_LATEST_RETENTION;
    public static final ConfigOption<Duration> RESULT_STORE_RETENTION_INTERVAL =
            ResultStoreOptions.RESULT_STORE_RETENTION_INTERVAL;
    public static final ConfigOption<Integer> RESULT_STORE_BATCH_SIZE =
            ResultStoreOptions.RESULT_STORE_BATCH_SIZE;
    public static final ConfigOption<Duration> RESULT_STORE_BATCH_INTERVAL =
            ResultStoreOptions.RESULT_STORE_BATCH_INTERVAL;
    public static final ConfigOption<Integer> RESULT_STORE_MAX_RETRIES =
            ResultStoreOptions.RESULT_STORE_MAX_RETRIES;

    public static final ConfigOption<Duration> DEFAULT_CHECKPOINT_INTERVAL =
            ConfigOptions.key("pipeline.default-checkpoint-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription(
                            "Checkpoint interval used when execution.checkpointing.interval is not set:"
                                    + " the job always checkpoints, since exactly-once output commits on checkpoints.");

    /** All options, for documentation and validation. */
    /** Every option of the job, the monitoring options included. */
    public static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> all = new ArrayList<>(pipeline());
        all.addAll(MonitoringOptions.all());
        all.addAll(EventFormatOptions.all());
        return List.copyOf(all);
    }

    private static List<ConfigOption<?>> pipeline() {
        return List.of(
                KAFKA_BOOTSTRAP_SERVERS,
                EVENTS_TOPIC,
                PREDICTIONS_TOPIC,
                DEAD_LETTERS_TOPIC,
                GROUP_ID,
                SOURCE_BOUNDED,
                SOURCE_FETCH_MIN_BYTES,
                SOURCE_FETCH_MAX_WAIT,
                SINK_DELIVERY_GUARANTEE,
                SINK_TRANSACTIONAL_ID_PREFIX,
                SINK_TRANSACTION_TIMEOUT,
                SINK_LINGER,
                SINK_MAX_REQUEST_SIZE,
                VALIDATION_MAX_EVENT_SIZE,
                VALIDATION_MAX_FUTURE_SKEW,
                SHADOW_PREDICTIONS_TOPIC,
                SERVED_FEATURES_TOPIC,
                FEATURES_SPEC,
                FEATURES_REFERENCE_TOPIC,
                FEATURES_WATERMARK_IDLENESS,
                MODEL_URI,
                MODEL_SERVING_PLAN,
                MODEL_CONTROL_TOPIC,
                MODEL_EVENTS_TOPIC,
                PREDICT_REQUESTS_TOPIC,
                PREDICT_REPLIES_TOPIC,
                MODEL_MAX_SIZE,
                MODEL_ALLOWED_SCHEMES,
                MODEL_ALLOWED_ROOTS,
                MODEL_TRUSTED_KEYS,
                MODEL_ALLOW_UNSIGNED,
                MODEL_LOAD_TIMEOUT,
                MODEL_CONTROL_MAX_COMMAND_SIZE,
                MODEL_CONTROL_MAX_PENDING_COMMANDS,
                MODEL_CONTROL_COMMAND_TTL,
                MODEL_CONFIGURATION_TIME,
                MODEL_INTRA_OP_THREADS,
                MODEL_GRAPH_OPTIMIZATION,
                MODEL_CPU_ARENA,
                MODEL_EXECUTION_PROVIDER,
                MODEL_CUDA_FALLBACK_TO_CPU,
                INFERENCE_MAX_BATCH_SIZE,
                INFERENCE_MAX_DELAY,
                INFERENCE_CONCURRENT_BATCHES,
                INFERENCE_TASK_THREAD_BELOW,
                INFERENCE_CAPACITY,
                INFERENCE_TIMEOUT,
                INFERENCE_RETRIES,
                INFERENCE_TOP_K,
                INFERENCE_DISPATCH_WHEN_IDLE,
                INFERENCE_ORDERED,
                RESULT_STORE_ENABLED,
                RESULT_STORE_JDBC_URL,
                RESULT_STORE_USERNAME,
                RESULT_STORE_PASSWORD,
                RESULT_STORE_PASSWORD_FILE,
                RESULT_STORE_DELIVERY_GUARANTEE,
                RESULT_STORE_HISTORY_ENABLED,
                RESULT_STORE_HISTORY_RETENTION,
                RESULT_STORE_LATEST_RETENTION,
                RESULT_STORE_RETENTION_INTERVAL,
                RESULT_STORE_BATCH_SIZE,
                RESULT_STORE_BATCH_INTERVAL,
                RESULT_STORE_MAX_RETRIES,
                DEFAULT_CHECKPOINT_INTERVAL);
    }
}
