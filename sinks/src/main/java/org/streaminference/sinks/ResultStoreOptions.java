package org.streaminference.sinks;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The result store's options ({@code result-store.*}), shared by the job, which writes the store,
 * and the query service, which reads it.
 */
@PublicEvolving
public final class ResultStoreOptions {
    private ResultStoreOptions() {}

    public static final ConfigOption<Boolean> RESULT_STORE_ENABLED =
            ConfigOptions.key("result-store.enabled")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription("Write predictions to the PostgreSQL result store.");

    public static final ConfigOption<String> RESULT_STORE_JDBC_URL =
            ConfigOptions.key("result-store.jdbc-url")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "JDBC URL of the PostgreSQL result store, e.g. jdbc:postgresql://host:5432/db.");

    public static final ConfigOption<String> RESULT_STORE_USERNAME =
            ConfigOptions.key("result-store.username")
                    .stringType()
                    .defaultValue("postgres")
                    .withDescription("Database user of the result store.");

    public static final ConfigOption<String> RESULT_STORE_PASSWORD =
            ConfigOptions.key("result-store.password")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Database password of the result store (never logged). Prefer result-store.password-file"
                                    + " or the RESULT_STORE_PASSWORD environment variable, which are used when this is not set.");

    public static final ConfigOption<String> RESULT_STORE_PASSWORD_FILE =
            ConfigOptions.key("result-store.password-file")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File holding the result store's password (e.g. a mounted Kubernetes Secret),"
                                    + " read where the job's main() runs; surrounding whitespace is ignored.");

    public static final ConfigOption<DeliveryGuarantee> RESULT_STORE_DELIVERY_GUARANTEE =
            ConfigOptions.key("result-store.delivery-guarantee")
                    .enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
                    .withDescription(
                            "at-least-once: idempotent writes (upsert guarded by event time, history keyed"
                                    + " by event, model and version), visible at once. exactly-once: XA transactions"
                                    + " committed on checkpoints, so results become visible only after each checkpoint;"
                                    + " needs max_prepared_transactions > 0 on the server.");

    public static final ConfigOption<Boolean> RESULT_STORE_HISTORY_ENABLED =
            ConfigOptions.key("result-store.history.enabled")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription("Append every prediction to prediction_history as well.");

    public static final ConfigOption<Duration> RESULT_STORE_HISTORY_RETENTION =
            ConfigOptions.key("result-store.history.retention")
                    .durationType()
                    .defaultValue(Duration.ofDays(30))
                    .withDescription(
                            "History rows with an older event time (by the wall clock) are deleted when"
                                    + " the job starts and then every result-store.retention.interval.");

    public static final ConfigOption<Duration> RESULT_STORE_LATEST_RETENTION =
            ConfigOptions.key("result-store.latest-prediction.retention")
                    .durationType()
                    .noDefaultValue()
                    .withDescription(
                            "latest_prediction rows whose event time is this far behind the job's event"
                                    + " time (its watermark) are deleted while the job runs. Unset: the feature spec's"
                                    + " entityTtl, so that an entity's row goes with its feature state. 0 s keeps rows for"
                                    + " ever.");

    public static final ConfigOption<Duration> RESULT_STORE_RETENTION_INTERVAL =
            ConfigOptions.key("result-store.retention.interval")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(1))
                    .withDescription(
                            "How often the job deletes expired rows of latest_prediction and"
                                    + " prediction_history, in chunks, on a thread of its own.");

    public static final ConfigOption<Integer> RESULT_STORE_BATCH_SIZE =
            ConfigOptions.key("result-store.batch-size")
                    .intType()
                    .defaultValue(500)
                    .withDescription("Predictions per JDBC batch.");

    public static final ConfigOption<Duration> RESULT_STORE_BATCH_INTERVAL =
            ConfigOptions.key("result-store.batch-interval")
                    .durationType()
                    .defaultValue(Duration.ofMillis(200))
                    .withDescription(
                            "Longest a prediction waits before its JDBC batch is flushed.");

    public static final ConfigOption<Integer> RESULT_STORE_MAX_RETRIES =
            ConfigOptions.key("result-store.max-retries")
                    .intType()
                    .defaultValue(5)
                    .withDescription(
                            "Retries of a failed JDBC batch before the job restarts from its last checkpoint.");

    /** All result store options, for documentation and validation. */
    public static List<ConfigOption<?>> all() {
        return List.of(
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
                RESULT_STORE_MAX_RETRIES);
    }

    /** The result store settings, or an error naming the missing option. */
    public static ResultStoreConfig resultStoreConfig(
            ReadableConfig options, Map<String, String> environment) {
        String jdbcUrl = options.get(RESULT_STORE_JDBC_URL);
        if (jdbcUrl == null || jdbcUrl.isBlank()) {
            throw new IllegalConfigurationException(
                    "Option '"
                            + RESULT_STORE_JDBC_URL.key()
                            + "' is required: set it"
                            + " in config.yaml or pass --"
                            + RESULT_STORE_JDBC_URL.key()
                            + " <value>.");
        }
        return new ResultStoreConfig(
                jdbcUrl,
                options.get(RESULT_STORE_USERNAME),
                password(options, environment),
                options.get(RESULT_STORE_BATCH_SIZE),
                options.get(RESULT_STORE_BATCH_INTERVAL).toMillis(),
                options.get(RESULT_STORE_MAX_RETRIES),
                options.get(RESULT_STORE_DELIVERY_GUARANTEE));
    }

    /**
     * The password: the option, else the file it names, else {@code RESULT_STORE_PASSWORD}, else
     * empty.
     */
    public static String password(ReadableConfig options, Map<String, String> environment) {
        Optional<String> explicit = options.getOptional(RESULT_STORE_PASSWORD);
        if (explicit.isPresent()) {
            return explicit.get();
        }
        Optional<String> file = options.getOptional(RESULT_STORE_PASSWORD_FILE);
        if (file.isPresent()) {
            try {
                return Files.readString(Path.of(file.get())).strip();
            } catch (IOException e) {
                throw new IllegalConfigurationException(
                        "Cannot read the result store's password from "
                                + RESULT_STORE_PASSWORD_FILE.key()
                                + " = "
                                + file.get()
                                + ": "
                                + e);
            }
        }
        return environment.getOrDefault("RESULT_STORE_PASSWORD", "");
    }
}
