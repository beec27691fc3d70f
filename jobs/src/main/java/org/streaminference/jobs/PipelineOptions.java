package org.streaminference.jobs;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.time.Duration;
import java.util.List;

/**
 * Every option of the job, read from Flink's {@code config.yaml} or the command line ({@code --key value}).
 * Flink's own options (parallelism, checkpointing, state backend, restart strategy) are set the usual Flink way.
 */
@PublicEvolving
public final class PipelineOptions {
    private PipelineOptions() {}

    public static final ConfigOption<String> KAFKA_BOOTSTRAP_SERVERS = ConfigOptions.key("kafka.bootstrap-servers")
            .stringType()
            .noDefaultValue()
            .withDescription("Kafka brokers for the input, output and dead-letter topics (host:port,...).");

    public static final ConfigOption<String> EVENTS_TOPIC = ConfigOptions.key("kafka.topic.events")
            .stringType()
            .defaultValue("events")
            .withDescription("Input topic: InputEvent records, Avro single-object encoding, keyed by entity id.");

    public static final ConfigOption<String> PREDICTIONS_TOPIC = ConfigOptions.key("kafka.topic.predictions")
            .stringType()
            .defaultValue("predictions")
            .withDescription("Output topic for Prediction records, keyed by entity id.");

    public static final ConfigOption<String> DEAD_LETTERS_TOPIC = ConfigOptions.key("kafka.topic.dead-letters")
            .stringType()
            .defaultValue("dead-letters")
            .withDescription("Output topic for DeadLetter records: every input that did not become a prediction.");

    public static final ConfigOption<String> GROUP_ID = ConfigOptions.key("kafka.group-id")
            .stringType()
            .defaultValue("streaminference")
            .withDescription("Consumer group id of the source (offsets are committed on checkpoints, for"
                    + " monitoring; the job restores from its own checkpointed offsets).");

    public static final ConfigOption<Boolean> SOURCE_BOUNDED = ConfigOptions.key("kafka.source.bounded")
            .booleanType()
            .defaultValue(false)
            .withDescription("Stop at the input topic's latest offsets as of job start, then finish: for"
                    + " backfills and tests.");

    public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE =
            ConfigOptions.key("kafka.sink.delivery-guarantee")
                    .enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.EXACTLY_ONCE)
                    .withDescription("Delivery guarantee of the prediction and dead-letter topics. exactly-once"
                            + " writes in Kafka transactions committed on checkpoints: consumers read them with"
                            + " isolation.level=read_committed.");

    public static final ConfigOption<String> SINK_TRANSACTIONAL_ID_PREFIX =
            ConfigOptions.key("kafka.sink.transactional-id-prefix")
                    .stringType()
                    .defaultValue("streaminference")
                    .withDescription("Prefix of the Kafka transactional ids; must be unique per job on a cluster.");

    public static final ConfigOption<Duration> SINK_TRANSACTION_TIMEOUT =
            ConfigOptions.key("kafka.sink.transaction-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription("Kafka transaction timeout; at most the broker's transaction.max.timeout.ms"
                            + " (15 min by default) and well above the checkpoint interval.");

    public static final ConfigOption<String> MODEL_URI = ConfigOptions.key("model.uri")
            .stringType()
            .noDefaultValue()
            .withDescription("Directory (or manifest.json) of the model version to serve, as a Flink FileSystem"
                    + " URI: a local path, file://, s3://, hdfs://...");

    public static final ConfigOption<MemorySize> MODEL_MAX_SIZE = ConfigOptions.key("model.max-size")
            .memoryType()
            .defaultValue(MemorySize.parse("512mb"))
            .withDescription("Model files larger than this are refused before they are read.");

    public static final ConfigOption<Integer> MODEL_INTRA_OP_THREADS = ConfigOptions.key("model.intra-op-threads")
            .intType()
            .defaultValue(1)
            .withDescription("ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose. Keep it low"
                    + " when a TaskManager runs several slots.");

    public static final ConfigOption<Boolean> RESULT_STORE_ENABLED = ConfigOptions.key("result-store.enabled")
            .booleanType()
            .defaultValue(true)
            .withDescription("Write predictions to the PostgreSQL result store.");

    public static final ConfigOption<String> RESULT_STORE_JDBC_URL = ConfigOptions.key("result-store.jdbc-url")
            .stringType()
            .noDefaultValue()
            .withDescription("JDBC URL of the PostgreSQL result store, e.g. jdbc:postgresql://host:5432/db.");

    public static final ConfigOption<String> RESULT_STORE_USERNAME = ConfigOptions.key("result-store.username")
            .stringType()
            .defaultValue("postgres")
            .withDescription("Database user of the result store.");

    public static final ConfigOption<String> RESULT_STORE_PASSWORD = ConfigOptions.key("result-store.password")
            .stringType()
            .defaultValue("")
            .withDescription("Database password of the result store (never logged).");

    public static final ConfigOption<Integer> RESULT_STORE_BATCH_SIZE = ConfigOptions.key("result-store.batch-size")
            .intType()
            .defaultValue(500)
            .withDescription("Predictions per JDBC batch.");

    public static final ConfigOption<Duration> RESULT_STORE_BATCH_INTERVAL =
            ConfigOptions.key("result-store.batch-interval")
                    .durationType()
                    .defaultValue(Duration.ofMillis(200))
                    .withDescription("Longest a prediction waits before its JDBC batch is flushed.");

    public static final ConfigOption<Integer> RESULT_STORE_MAX_RETRIES = ConfigOptions.key("result-store.max-retries")
            .intType()
            .defaultValue(5)
            .withDescription("Retries of a failed JDBC batch before the job restarts from its last checkpoint.");

    public static final ConfigOption<Duration> DEFAULT_CHECKPOINT_INTERVAL =
            ConfigOptions.key("pipeline.default-checkpoint-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription("Checkpoint interval used when execution.checkpointing.interval is not set:"
                            + " the job always checkpoints, since exactly-once output commits on checkpoints.");

    /** All options, for documentation and validation. */
    public static List<ConfigOption<?>> all() {
        return List.of(KAFKA_BOOTSTRAP_SERVERS, EVENTS_TOPIC, PREDICTIONS_TOPIC, DEAD_LETTERS_TOPIC, GROUP_ID,
                SOURCE_BOUNDED, SINK_DELIVERY_GUARANTEE, SINK_TRANSACTIONAL_ID_PREFIX, SINK_TRANSACTION_TIMEOUT,
                MODEL_URI, MODEL_MAX_SIZE, MODEL_INTRA_OP_THREADS, RESULT_STORE_ENABLED, RESULT_STORE_JDBC_URL,
                RESULT_STORE_USERNAME, RESULT_STORE_PASSWORD, RESULT_STORE_BATCH_SIZE, RESULT_STORE_BATCH_INTERVAL,
                RESULT_STORE_MAX_RETRIES, DEFAULT_CHECKPOINT_INTERVAL);
    }
}
