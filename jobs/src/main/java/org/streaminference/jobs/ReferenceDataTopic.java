package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpec;

import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Whether a job joins the reference-data topic's profiles, decided before the job graph is built
 * (it asks the broker). Kafka's bounded source never finishes when its topic pattern matches no
 * topic, so a bounded job (a backfill) without the topic runs without the join, its profile
 * features taking their defaults; an unbounded job always joins, and picks the topic up once it
 * exists.
 */
@Internal
final class ReferenceDataTopic {
    private static final Logger LOG = LoggerFactory.getLogger(ReferenceDataTopic.class);

    private ReferenceDataTopic() {}

    static boolean joinProfiles(ReadableConfig options, FeatureSpec spec) {
        if (!spec.usesProfile()) {
            return false;
        }
        if (!PipelineSettings.bounded(options)) {
            return true;
        }
        String topic = options.get(PipelineOptions.FEATURES_REFERENCE_TOPIC);
        String bootstrap = PipelineSettings.bootstrapServers(options);
        try (Admin admin =
                Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            boolean exists = admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic);
            if (!exists) {
                LOG.warn(
                        "Reference-data topic '{}' does not exist: this bounded job's profile features take their"
                                + " defaults",
                        topic);
            }
            return exists;
        } catch (Exception e) {
            throw new IllegalStateException(
                    "cannot list the topics of " + bootstrap + " to find '" + topic + "'", e);
        }
    }
}
