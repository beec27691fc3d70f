package org.streaminference.jobs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The event source's fetch settings, as the job hands them to its Kafka consumer. */
class EventConsumerSettingsTest {

    @Test
    void byDefaultTheBrokerAnswersEveryFetchAsSoonAsOneEventIsThere() {
        Properties consumer = PipelineSettings.eventConsumer(new Configuration());

        assertThat(consumer)
                .containsEntry(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "1")
                .containsEntry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500");
    }

    @Test
    void aUsersFetchBatchingReachesTheConsumerInKafkasUnits() {
        Properties consumer =
                PipelineSettings.eventConsumer(
                        Configuration.fromMap(
                                Map.of(
                                        "kafka.source.fetch-min-bytes", "64kb",
                                        "kafka.source.fetch-max-wait", "2 ms")));

        assertThat(consumer)
                .containsEntry(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "65536")
                .containsEntry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "2");
    }

    @Test
    void aMinimumKafkaCannotHoldIsRefusedWithTheOptionsName() {
        assertThatThrownBy(
                        () ->
                                PipelineSettings.eventConsumer(
                                        Configuration.fromMap(
                                                Map.of("kafka.source.fetch-min-bytes", "3gb"))))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("kafka.source.fetch-min-bytes");
    }
}
