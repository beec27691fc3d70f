package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;

/** A feature spec that cannot be used; the message names the file, the line and the problem. */
@PublicEvolving
public class InvalidFeatureSpecException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int line;

    public InvalidFeatureSpecException(String source, int line, String problem) {
        super(source + (line > 0 ? ", line " + line : "") + ": " + problem);
        this.line = line;
    }

    /** The 1-based line of the problem, or 0 where it concerns the whole file. */
    public int line() {
        return line;
    }
}
