package org.streaminference.embedded;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded broker (the local run's, the tests' and the benchmarks') writes its log as a Kafka
 * cluster's broker does by default, so that what the job's latency is measured against is not a
 * broker of this project's making.
 */
class EmbeddedKafkaBrokerITCase {
    @TempDir Path dir;

    /**
     * A forced fsync every N messages runs inside the append that reaches N and holds the
     * partition's appends meanwhile: 20-40 ms stalls, half of the tail at 1,024 events/s in the
     * cluster benchmark (bench/README.md).
     */
    @Test
    @Timeout(120)
    void leavesFlushingTheLogToTheOperatingSystem() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0);
                Admin admin =
                        Admin.create(
                                Map.of(
                                        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                                        broker.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("events", 2, (short) 1))).all().get();
            ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, "events");
            Config config = admin.describeConfigs(List.of(topic)).all().get().get(topic);

            assertThat(config.get(TopicConfig.FLUSH_MESSAGES_INTERVAL_CONFIG).value())
                    .isEqualTo(Long.toString(Long.MAX_VALUE));
            assertThat(config.get(TopicConfig.FLUSH_MS_CONFIG).value())
                    .isEqualTo(Long.toString(Long.MAX_VALUE));
        }
    }
}
