package org.streaminference.sinks;

import java.io.Serializable;

/**
 * Where and how predictions are written to PostgreSQL.
 *
 * @param maxRetries retries of a failed batch before the sink fails the job (which then restarts from its
 *                   last checkpoint, so nothing is lost)
 */
public record ResultStoreOptions(
        String jdbcUrl, String username, String password, int batchSize, long batchIntervalMs, int maxRetries)
        implements Serializable {

    @Override
    public String toString() {
        return "ResultStoreOptions{jdbcUrl=" + jdbcUrl + ", username=" + username + ", password=***, batchSize="
                + batchSize + ", batchIntervalMs=" + batchIntervalMs + ", maxRetries=" + maxRetries + "}";
    }
}
