package org.streaminference.model.control;

/** A control-topic record that is not a well-formed command, or a command the deployment cannot take. */
public class InvalidCommandException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidCommandException(String message) {
        super(message);
    }
}
