package org.streaminference.model.control;

import org.apache.flink.annotation.PublicEvolving;

/**
 * A control-topic record that is not a well-formed command, or a command the deployment cannot
 * take.
 */
@PublicEvolving
public class InvalidCommandException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidCommandException(String message) {
        super(message);
    }
}
