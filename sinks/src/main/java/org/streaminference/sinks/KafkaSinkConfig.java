package org.streaminference.sinks;

import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.StorableValues;

import org.apache.flink.annotation.Internal;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.kafka.clients.producer.ProducerConfig;

import java.io.Serializable;
import java.util.Map;
import java.util.Properties;

/**
 * How result topics are written.
 *
 * @param transactionalIdPrefix unique per job on a cluster: two jobs with one prefix fence each
 *     other
 * @param transactionTimeoutMs must not exceed the broker's {@code transaction.max.timeout.ms} (15
 *     min by default)
 */
@Internal
public record KafkaSinkConfig(
        String bootstrapServers,
        DeliveryGuarantee deliveryGuarantee,
        String transactionalIdPrefix,
        long transactionTimeoutMs,
        Map<String, String> producerProperties)
        implements Serializable {

    public KafkaSinkConfig {
        producerProperties = Map.copyOf(producerProperties);
        long maxRequest =
                Long.parseLong(
                        producerProperties.getOrDefault(
                                ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                                Integer.toString(DEFAULT_MAX_REQUEST_BYTES)));
        if (maxRequest < DEFAULT_MAX_REQUEST_BYTES) {
            throw new IllegalArgumentException(
                    "max.request.size (kafka.sink.max-request-size) must be at least "
                            + DEFAULT_MAX_REQUEST_BYTES
                            + " bytes so that every dead letter (at most "
                            + DeadLetters.MAX_ENCODED_BYTES
                            + " bytes) and"
                            + " prediction (at most "
                            + StorableValues.MAX_PREDICTION_BYTES
                            + ") fits; got "
                            + maxRequest);
        }
        if (transactionTimeoutMs <= 0 || transactionTimeoutMs > 900_000) {
            throw new IllegalArgumentException(
                    "transaction timeout must be in (0, 900000] ms (the broker's default"
                            + " maximum), got "
                            + transactionTimeoutMs);
        }
    }

    /**
     * The producer's request limit when none is given: the broker's default {@code
     * message.max.bytes}. Set on purpose rather than left to the client's default, and checked to
     * hold the largest record the job writes.
     */
    public static final int DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

    /** The producer properties of every result sink. */
    Properties toProperties() {
        Properties properties = new Properties();
        properties.setProperty(
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                Integer.toString(DEFAULT_MAX_REQUEST_BYTES));
        properties.putAll(producerProperties);
        properties.setProperty(
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Long.toString(transactionTimeoutMs));
        return properties;
    }
}
