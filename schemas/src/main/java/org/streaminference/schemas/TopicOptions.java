package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.util.List;

/**
 * The Kafka brokers and topics a job reads and writes, which the models CLI and the local runner
 * read from the same configuration: kept beside the records those topics carry, so the tools need
 * not depend on the job to find them. {@code PipelineOptions} lists them with the job's other
 * options.
 */
@PublicEvolving
public final class TopicOptions {
    public static final ConfigOption<String> KAFKA_BOOTSTRAP_SERVERS =
            ConfigOptions.key("kafka.bootstrap-servers")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Kafka brokers for the input, output and dead-letter topics (host:port,...).");

    public static final ConfigOption<String> EVENTS_TOPIC =
            ConfigOptions.key("kafka.topic.events")
                    .stringType()
                    .defaultValue("events")
                    .withDescription(
                            "Input topic, keyed by entity id: InputEvent records in Avro single-object encoding, or"
                                    + " the user's own events (events.format).");

    public static final ConfigOption<String> PREDICTIONS_TOPIC =
            ConfigOptions.key("kafka.topic.predictions")
                    .stringType()
                    .defaultValue("predictions")
                    .withDescription(
                            "Output topic for Prediction records, keyed by entity and model (`<entityId>/<model>`) in the"
                                    + " entity's partition.");

    public static final ConfigOption<String> DEAD_LETTERS_TOPIC =
            ConfigOptions.key("kafka.topic.dead-letters")
                    .stringType()
                    .defaultValue("dead-letters")
                    .withDescription(
                            "Output topic for DeadLetter records: every input that did not become a prediction.");

    public static final ConfigOption<String> GROUP_ID =
            ConfigOptions.key("kafka.group-id")
                    .stringType()
                    .defaultValue("streaminference")
                    .withDescription(
                            "Consumer group id of the source (offsets are committed on checkpoints, for"
                                    + " monitoring; the job restores from its own checkpointed offsets).");

    public static final ConfigOption<String> MODEL_CONTROL_TOPIC =
            ConfigOptions.key("model.control-topic")
                    .stringType()
                    .defaultValue("model-control")
                    .withDescription(
                            "Topic of model commands (publish, canary, shadow, promote, rollback, retire), read"
                                    + " from the beginning by a job started without state; empty serves model.uri only.");

    public static final ConfigOption<String> MODEL_EVENTS_TOPIC =
            ConfigOptions.key("model.events-topic")
                    .stringType()
                    .defaultValue("model-events")
                    .withDescription(
                            "Topic where every inference subtask reports loads, deployments, rejected commands"
                                    + " and released versions (JSON); 'models list' reads it.");

    public static final ConfigOption<String> PREDICT_REQUESTS_TOPIC =
            ConfigOptions.key("kafka.topic.predict-requests")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Topic of synchronous and hybrid predict requests, written by the predict gateway (a JSON"
                                    + " event with the request's headers); unset: the job takes no requests. A gateway"
                                    + " instance writes to one partition and reads its answers from the reply topic's"
                                    + " partition of the same number.");

    public static final ConfigOption<String> PREDICT_REPLIES_TOPIC =
            ConfigOptions.key("kafka.topic.predict-replies")
                    .stringType()
                    .defaultValue("predict-replies")
                    .withDescription(
                            "Topic of the job's answers to predict requests (PredictReply, Avro single-object"
                                    + " encoding), at least once and not transactional, so that an answer is readable"
                                    + " at once; needs at least as many partitions as the request topic.");

    /** Every option of this class. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                KAFKA_BOOTSTRAP_SERVERS,
                EVENTS_TOPIC,
                PREDICTIONS_TOPIC,
                DEAD_LETTERS_TOPIC,
                GROUP_ID,
                MODEL_CONTROL_TOPIC,
                MODEL_EVENTS_TOPIC,
                PREDICT_REQUESTS_TOPIC,
                PREDICT_REPLIES_TOPIC);
    }

    private TopicOptions() {}
}
