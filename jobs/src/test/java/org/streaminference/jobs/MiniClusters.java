package org.streaminference.jobs;

import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;

/**
 * The Flink MiniCluster the pipeline tests run the job on: one TaskManager, as many slots as the
 * job's parallelism.
 */
final class MiniClusters {
    private MiniClusters() {}

    /** A MiniCluster for one test class, to register with {@code @RegisterExtension}. */
    static MiniClusterExtension withSlots(int slots) {
        return new MiniClusterExtension(
                new MiniClusterResourceConfiguration.Builder()
                        .setNumberTaskManagers(1)
                        .setNumberSlotsPerTaskManager(slots)
                        .build());
    }
}
