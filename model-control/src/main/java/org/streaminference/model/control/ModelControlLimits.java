package org.streaminference.model.control;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.time.Duration;

/**
 * Bounds on the control plane, so that no command can stop a job from answering the next one: a
 * load that does not finish in time is rejected ({@code LOAD_TIMEOUT}) and the commands behind it
 * go on; a command over the size limit is rejected unread; commands waiting behind a load are
 * bounded, and the excess is rejected.
 *
 * @param loadTimeout how long a version may take to fetch, verify and load
 * @param maxCommandBytes larger commands are rejected ({@code TOO_LARGE}) without being parsed
 * @param maxPendingCommands commands that may wait behind a load; more are rejected ({@code
 *     TOO_MANY_PENDING})
 * @param configurationTime epoch milliseconds of the job's configuration: a job started without
 *     state refuses commands issued before it ({@code STALE}, see {@link CommandOrder}); 0 refuses
 *     none
 */
@PublicEvolving
public record ModelControlLimits(
        Duration loadTimeout, int maxCommandBytes, int maxPendingCommands, long configurationTime)
        implements Serializable {

    /** Limits under which a job started without state obeys every command on the topic. */
    public ModelControlLimits(Duration loadTimeout, int maxCommandBytes, int maxPendingCommands) {
        this(loadTimeout, maxCommandBytes, maxPendingCommands, 0L);
    }

    public ModelControlLimits {
        Preconditions.checkArgument(
                loadTimeout != null && !loadTimeout.isNegative() && !loadTimeout.isZero(),
                "loadTimeout must be positive");
        Preconditions.checkArgument(maxCommandBytes > 0, "maxCommandBytes must be positive");
        Preconditions.checkArgument(maxPendingCommands > 0, "maxPendingCommands must be positive");
    }

    public static ModelControlLimits defaults() {
        return new ModelControlLimits(Duration.ofMinutes(5), 64 * 1024, 1_000);
    }
}
