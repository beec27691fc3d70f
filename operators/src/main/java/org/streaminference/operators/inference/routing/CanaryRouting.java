package org.streaminference.operators.inference.routing;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.MathUtils;

/**
 * Which entities a canary answers: those whose bucket is below the canary's percentage. The bucket
 * is stable, the same in every subtask, TaskManager and run, so an entity always sees the same
 * version, and it is public so that an analysis can tell which entities were in the canary.
 */
@PublicEvolving
public final class CanaryRouting {
    private CanaryRouting() {}

    /**
     * An entity's bucket in [0, 100): String#hashCode is specified by the JLS, and murmur mixes its
     * low bits.
     */
    public static int bucket(String entityId) {
        return Math.floorMod(MathUtils.murmurHash(entityId.hashCode()), 100);
    }

    /** Whether {@code entityId} is among the {@code canaryPercent} of entities a canary answers. */
    public static boolean inCanary(String entityId, int canaryPercent) {
        return bucket(entityId) < canaryPercent;
    }
}
