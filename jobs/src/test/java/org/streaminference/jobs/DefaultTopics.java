package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;

/**
 * The topics a job reads and writes under their default names, created before the job starts (as a
 * user would).
 */
public final class DefaultTopics {
    private DefaultTopics() {}

    /**
     * Creates the events topic, the result topics (predictions, dead letters, shadow predictions)
     * and the control topics (model-control, model-events; one partition each, as the control plane
     * needs its order).
     */
    public static void create(EmbeddedKafkaBroker kafka, int eventPartitions, int resultPartitions)
            throws Exception {
        kafka.createTopics(eventPartitions, "events");
        kafka.createTopics(resultPartitions, "predictions", "dead-letters", "predictions-shadow");
        kafka.createTopics(1, "model-control", "model-events");
    }
}
