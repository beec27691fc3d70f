package org.streaminference.gateway;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.time.Duration;
import java.util.List;

/**
 * The predict gateway's options ({@code gateway.*}); it reaches the job through the topics of
 * {@link org.streaminference.schemas.TopicOptions} and validates fields by the job's feature spec
 * ({@link #FEATURES_SPEC}).
 */
@PublicEvolving
public final class PredictGatewayOptions {
    private PredictGatewayOptions() {}

    public static final ConfigOption<String> HOST =
            ConfigOptions.key("gateway.host")
                    .stringType()
                    .defaultValue("127.0.0.1")
                    .withDescription(
                            "Address the gateway's REST and gRPC servers listen on: loopback unless opened on"
                                    + " purpose (0.0.0.0 behind a Kubernetes Service).");

    public static final ConfigOption<Integer> PORT =
            ConfigOptions.key("gateway.port")
                    .intType()
                    .defaultValue(8090)
                    .withDescription(
                            "HTTP port of the predict API and the Open Inference Protocol's REST endpoints; 0 picks a free one.");

    public static final ConfigOption<Integer> GRPC_PORT =
            ConfigOptions.key("gateway.grpc-port")
                    .intType()
                    .defaultValue(9090)
                    .withDescription(
                            "gRPC port of PredictionService and the Open Inference Protocol's GRPCInferenceService; 0"
                                    + " picks a free one, -1 serves no gRPC.");

    public static final ConfigOption<Integer> PARTITION =
            ConfigOptions.key("gateway.partition")
                    .intType()
                    .defaultValue(0)
                    .withDescription(
                            "The request topic partition this instance writes its requests to, and the reply topic"
                                    + " partition it reads their answers from. Every instance needs its own (a"
                                    + " StatefulSet's ordinal); both topics need more partitions than the highest.");

    public static final ConfigOption<String> API_KEYS_FILE =
            ConfigOptions.key("gateway.api-keys-file")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File of API keys in the query service's format (name:sha256:scope,...); a key needs the"
                                    + " scope 'predict' to ask for predictions and 'models:read' to describe models."
                                    + " With neither this nor gateway.jwt.jwks the gateway does not start.");

    public static final ConfigOption<String> JWT_JWKS =
            ConfigOptions.key("gateway.jwt.jwks")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Where the keys that sign accepted JWT bearer tokens are: a JWKS file or an https URL."
                                    + " Tokens are RS256/ES256-signed, unexpired, for gateway.jwt.audience, and carry"
                                    + " their scopes in 'scope' (space-separated) or 'scp'.");

    public static final ConfigOption<String> JWT_AUDIENCE =
            ConfigOptions.key("gateway.jwt.audience")
                    .stringType()
                    .defaultValue("streaminference")
                    .withDescription("The audience ('aud') a JWT must name.");

    public static final ConfigOption<String> JWT_ISSUER =
            ConfigOptions.key("gateway.jwt.issuer")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("The issuer ('iss') a JWT must name; unset: any.");

    public static final ConfigOption<Double> RATE_LIMIT =
            ConfigOptions.key("gateway.rate-limit.per-second")
                    .doubleType()
                    .defaultValue(1000.0)
                    .withDescription(
                            "Predictions per second each API key or token subject may ask for on average; more"
                                    + " get 429 with Retry-After.");

    public static final ConfigOption<Integer> RATE_LIMIT_BURST =
            ConfigOptions.key("gateway.rate-limit.burst")
                    .intType()
                    .defaultValue(2000)
                    .withDescription(
                            "Predictions a caller may ask for at once before the rate applies.");

    public static final ConfigOption<Integer> MAX_IN_FLIGHT =
            ConfigOptions.key("gateway.max-in-flight")
                    .intType()
                    .defaultValue(2000)
                    .withDescription(
                            "Synchronous requests this instance waits on at once; more are shed with 503 and"
                                    + " Retry-After (never queued).");

    public static final ConfigOption<Duration> TIMEOUT =
            ConfigOptions.key("gateway.timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(2))
                    .withDescription(
                            "How long a synchronous request waits for the job's answer when it names no"
                                    + " timeout_ms; then 504 with the request id (the answer can still be fetched).");

    public static final ConfigOption<Duration> MAX_TIMEOUT =
            ConfigOptions.key("gateway.max-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(30))
                    .withDescription("The longest timeout_ms a request may ask for.");

    public static final ConfigOption<Duration> ANSWER_RETENTION =
            ConfigOptions.key("gateway.answers.retention")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "How long this instance keeps an answer for GET /v1/requests/{id} (asynchronous"
                                    + " requests, and synchronous ones that timed out).");

    public static final ConfigOption<Integer> ANSWER_CAPACITY =
            ConfigOptions.key("gateway.answers.max-entries")
                    .intType()
                    .defaultValue(100_000)
                    .withDescription(
                            "Answers and open asynchronous requests kept at most; the oldest go first, and a new"
                                    + " asynchronous request is refused with 503 while the open ones fill it.");

    public static final ConfigOption<Integer> MAX_BATCH =
            ConfigOptions.key("gateway.max-batch")
                    .intType()
                    .defaultValue(256)
                    .withDescription("Requests one BatchPredict or one OIP infer call may hold.");

    public static final ConfigOption<List<String>> ASYNC_EVENT_TYPES =
            ConfigOptions.key("gateway.routing.async-event-types")
                    .stringType()
                    .asList()
                    .defaultValues()
                    .withDescription(
                            "Hybrid routing: requests of these event types take the asynchronous path (202 and the"
                                    + " request id) unless they ask for a path themselves; every other type waits"
                                    + " for its answer.");

    public static final ConfigOption<String> FEATURES_SPEC =
            ConfigOptions.key("features.spec")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "The job's feature spec: the gateway accepts exactly the fields it reads, with their"
                                    + " types, and describes them as the Open Inference Protocol's inputs. Unset: the"
                                    + " demo spec, as the job.");

    /** Every option of this class. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                HOST,
                PORT,
                GRPC_PORT,
                PARTITION,
                API_KEYS_FILE,
                JWT_JWKS,
                JWT_AUDIENCE,
                JWT_ISSUER,
                RATE_LIMIT,
                RATE_LIMIT_BURST,
                MAX_IN_FLIGHT,
                TIMEOUT,
                MAX_TIMEOUT,
                ANSWER_RETENTION,
                ANSWER_CAPACITY,
                MAX_BATCH,
                ASYNC_EVENT_TYPES,
                FEATURES_SPEC);
    }
}
