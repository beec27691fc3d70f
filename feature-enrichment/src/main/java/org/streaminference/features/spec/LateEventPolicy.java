package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;

/** What happens to an event later than the spec's bound on out-of-orderness. */
@PublicEvolving
public enum LateEventPolicy {
    /**
     * Sent to the dead-letter topic with reason {@code LATE_EVENT}; the entity's state is
     * unchanged.
     */
    DEAD_LETTER("dead-letter"),
    /** Counted as if it happened at the entity's newest event time: in the current windows. */
    COUNT("count");

    private final String yamlName;

    LateEventPolicy(String yamlName) {
        this.yamlName = yamlName;
    }

    public String yamlName() {
        return yamlName;
    }
}
