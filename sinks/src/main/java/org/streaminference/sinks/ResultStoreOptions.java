package org.streaminference.sinks;

import org.apache.flink.connector.base.DeliveryGuarantee;

import java.io.Serializable;

/**
 * Where and how predictions are written to PostgreSQL.
 *
 * @param maxRetries        retries of a failed batch before the sink fails the job (which then restarts from its
 *                          last checkpoint, so nothing is lost)
 * @param deliveryGuarantee AT_LEAST_ONCE (idempotent writes, visible at once) or EXACTLY_ONCE (XA transactions
 *                          committed on checkpoints: visible only after each checkpoint; needs
 *                          {@code max_prepared_transactions} > 0 on the server)
 */
public record ResultStoreOptions(
        String jdbcUrl,
        String username,
        String password,
        int batchSize,
        long batchIntervalMs,
        int maxRetries,
        DeliveryGuarantee deliveryGuarantee)
        implements Serializable {

    public ResultStoreOptions {
        if (deliveryGuarantee == DeliveryGuarantee.NONE) {
            throw new IllegalArgumentException("the result store is written at-least-once or exactly-once");
        }
    }

    /** At-least-once with idempotent writes. */
    public ResultStoreOptions(String jdbcUrl, String username, String password, int batchSize, long batchIntervalMs,
            int maxRetries) {
        this(jdbcUrl, username, password, batchSize, batchIntervalMs, maxRetries, DeliveryGuarantee.AT_LEAST_ONCE);
    }

    @Override
    public String toString() {
        return "ResultStoreOptions{jdbcUrl=" + jdbcUrl + ", username=" + username + ", password=***, batchSize="
                + batchSize + ", batchIntervalMs=" + batchIntervalMs + ", maxRetries=" + maxRetries
                + ", deliveryGuarantee=" + deliveryGuarantee + "}";
    }
}
