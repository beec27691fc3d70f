package org.streaminference.cli;

import org.streaminference.schemas.TopicOptions;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import picocli.CommandLine.Option;

/**
 * The job's Kafka topics, as its config.yaml names them: the options of the commands that read its
 * outputs.
 */
final class JobTopics {
    @Option(
            names = "--config-dir",
            description =
                    "Flink configuration directory whose config.yaml names the"
                            + " bootstrap servers, topics and group id (default: the job's defaults).")
    String configDir;

    @Option(
            names = "--bootstrap-servers",
            description =
                    "Kafka bootstrap servers (default: from config.yaml, else"
                            + " localhost:9092).")
    String bootstrapServers;

    /** The job's configuration: its config.yaml, or the defaults. */
    Configuration config() {
        return configDir == null
                ? new Configuration()
                : GlobalConfiguration.loadConfiguration(configDir);
    }

    String bootstrapServers(Configuration config) {
        return bootstrapServers != null
                ? bootstrapServers
                : config.getOptional(TopicOptions.KAFKA_BOOTSTRAP_SERVERS).orElse("localhost:9092");
    }
}
