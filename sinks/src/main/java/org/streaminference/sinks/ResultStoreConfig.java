package org.streaminference.sinks;

import org.apache.flink.annotation.Internal;
import org.apache.flink.connector.base.DeliveryGuarantee;

import java.io.Serializable;
import java.util.Locale;

/**
 * Where and how predictions are written to PostgreSQL.
 *
 * @param maxRetries retries of a failed batch before the sink fails the job (which then restarts
 *     from its last checkpoint, so nothing is lost)
 * @param deliveryGuarantee AT_LEAST_ONCE (idempotent writes, visible at once) or EXACTLY_ONCE (XA
 *     transactions committed on checkpoints: visible only after each checkpoint; needs {@code
 *     max_prepared_transactions} > 0 on the server)
 */
@Internal
public record ResultStoreConfig(
        String jdbcUrl,
        String username,
        String password,
        int batchSize,
        long batchIntervalMs,
        int maxRetries,
        DeliveryGuarantee deliveryGuarantee)
        implements Serializable {

    public ResultStoreConfig {
        if (deliveryGuarantee == DeliveryGuarantee.NONE) {
            throw new IllegalArgumentException(
                    "the result store is written at-least-once or exactly-once");
        }
    }

    /** At-least-once with idempotent writes. */
    public ResultStoreConfig(
            String jdbcUrl,
            String username,
            String password,
            int batchSize,
            long batchIntervalMs,
            int maxRetries) {
        this(
                jdbcUrl,
                username,
                password,
                batchSize,
                batchIntervalMs,
                maxRetries,
                DeliveryGuarantee.AT_LEAST_ONCE);
    }

    /**
     * The longest a statement of the job's sinks may run; the socket gives up {@link
     * #SOCKET_MARGIN_SECONDS} later.
     */
    public static final int STATEMENT_TIMEOUT_SECONDS = 60;

    static final int SOCKET_MARGIN_SECONDS = 30;
    static final int CONNECT_TIMEOUT_SECONDS = 10;

    /**
     * The JDBC URL with timeouts added where the user did not set them: a frozen database then
     * fails a write within a bounded time (and the job restarts from its checkpoint) instead of
     * holding checkpoints forever.
     */
    public String connectionUrl() {
        return withTimeouts(jdbcUrl, STATEMENT_TIMEOUT_SECONDS);
    }

    /**
     * {@code url} with connect, socket and statement timeouts, each unless the URL already sets it.
     */
    public static String withTimeouts(String url, int statementTimeoutSeconds) {
        StringBuilder out = new StringBuilder(url);
        String lower = url.toLowerCase(Locale.ROOT);
        char separator = url.contains("?") ? '&' : '?';
        if (!lower.contains("connecttimeout=")) {
            out.append(separator).append("connectTimeout=").append(CONNECT_TIMEOUT_SECONDS);
            separator = '&';
        }
        if (!lower.contains("sockettimeout=")) {
            out.append(separator)
                    .append("socketTimeout=")
                    .append(statementTimeoutSeconds + SOCKET_MARGIN_SECONDS);
            separator = '&';
        }
        if (!lower.contains("statement_timeout") && !lower.contains("options=")) {
            out.append(separator)
                    .append("options=-c%20statement_timeout%3D")
                    .append(statementTimeoutSeconds * 1000);
        }
        return out.toString();
    }

    /** {@code url} with the value of any password parameter replaced by {@code ***}, for logs. */
    public static String masked(String url) {
        return url == null ? null : url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }

    @Override
    public String toString() {
        return "ResultStoreConfig{jdbcUrl="
                + masked(jdbcUrl)
                + ", username="
                + username
                + ", password=***, batchSize="
                + batchSize
                + ", batchIntervalMs="
                + batchIntervalMs
                + ", maxRetries="
                + maxRetries
                + ", deliveryGuarantee="
                + deliveryGuarantee
                + "}";
    }
}
