package org.streaminference.query;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.util.List;

/**
 * The query service's options ({@code query.*}); it reads the result store named by {@code
 * result-store.*}.
 */
@PublicEvolving
public final class QueryServiceOptions {
    private QueryServiceOptions() {}

    public static final ConfigOption<String> HOST =
            ConfigOptions.key("query.host")
                    .stringType()
                    .defaultValue("127.0.0.1")
                    .withDescription(
                            "Address the query service listens on: loopback unless opened on purpose (0.0.0.0 for"
                                    + " every interface, as its Kubernetes pods do behind their Service).");

    public static final ConfigOption<Integer> PORT =
            ConfigOptions.key("query.port")
                    .intType()
                    .defaultValue(8080)
                    .withDescription("HTTP port of the query service; 0 picks a free one.");

    public static final ConfigOption<String> API_KEYS_FILE =
            ConfigOptions.key("query.api-keys-file")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "File of API keys, one per line: name:sha256-of-the-key:scope,scope (scopes"
                                    + " predictions:read, models:read), optionally followed by expires=<ISO-8601 instant>. Only"
                                    + " hashes are stored; 'query-service.sh create-key' makes a key and its line. Read again within"
                                    + " a second of a change: a removed key is refused without a restart, and a file that becomes"
                                    + " invalid refuses every key (503) until it is fixed.");

    public static final ConfigOption<Double> RATE_LIMIT =
            ConfigOptions.key("query.rate-limit.per-second")
                    .doubleType()
                    .defaultValue(50.0)
                    .withDescription(
                            "Requests per second each API key may make on average; more get 429 with"
                                    + " Retry-After.");

    public static final ConfigOption<Integer> RATE_LIMIT_BURST =
            ConfigOptions.key("query.rate-limit.burst")
                    .intType()
                    .defaultValue(100)
                    .withDescription(
                            "Requests an API key may make at once before the per-second rate applies.");

    public static final ConfigOption<Integer> MAX_HISTORY_LIMIT =
            ConfigOptions.key("query.history.max-limit")
                    .intType()
                    .defaultValue(1000)
                    .withDescription("Largest 'limit' a history request may ask for.");

    public static final ConfigOption<Integer> POOL_SIZE =
            ConfigOptions.key("query.db.pool-size")
                    .intType()
                    .defaultValue(8)
                    .withDescription("Database connections the query service keeps open.");

    /** All query service options, for documentation and validation. */
    public static List<ConfigOption<?>> all() {
        return List.of(
                HOST,
                PORT,
                API_KEYS_FILE,
                RATE_LIMIT,
                RATE_LIMIT_BURST,
                MAX_HISTORY_LIMIT,
                POOL_SIZE);
    }
}
