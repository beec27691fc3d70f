package org.streaminference.sinks;

import org.apache.flink.connector.base.DeliveryGuarantee;

import java.io.Serializable;
import java.util.Map;
import java.util.Properties;

/**
 * How result topics are written.
 *
 * @param transactionalIdPrefix unique per job on a cluster: two jobs with one prefix fence each other
 * @param transactionTimeoutMs  must not exceed the broker's {@code transaction.max.timeout.ms} (15 min by default)
 */
public record KafkaSinkOptions(
        String bootstrapServers,
        DeliveryGuarantee deliveryGuarantee,
        String transactionalIdPrefix,
        long transactionTimeoutMs,
        Map<String, String> producerProperties)
        implements Serializable {

    public KafkaSinkOptions {
        producerProperties = Map.copyOf(producerProperties);
        if (transactionTimeoutMs <= 0 || transactionTimeoutMs > 900_000) {
            throw new IllegalArgumentException("transaction timeout must be in (0, 900000] ms (the broker's default"
                    + " maximum), got " + transactionTimeoutMs);
        }
    }

    Properties toProperties() {
        Properties properties = new Properties();
        properties.putAll(producerProperties);
        properties.setProperty("transaction.timeout.ms", Long.toString(transactionTimeoutMs));
        return properties;
    }
}
