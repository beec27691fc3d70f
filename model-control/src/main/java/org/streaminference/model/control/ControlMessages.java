package org.streaminference.model.control;

import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.RejectedCommand;
import org.streaminference.schemas.UntrustedText;

import org.apache.flink.annotation.PublicEvolving;

import java.nio.charset.StandardCharsets;

/**
 * Decodes a control-topic record once, where it is read: into its command, or into the reason it is
 * refused (with the command too, where one could be read). Both travel on to every inference
 * subtask, which answers each on the model-events topic, so that the sender of a malformed command
 * learns why, and the source never fails on one. This reads a command without checking who sent it:
 * the job reads the topic through a {@link CommandVerifier}; this is for commands the job itself
 * kept (its checkpointed pending commands) and for tools.
 */
@PublicEvolving
public final class ControlMessages {
    /** Characters of a refused record kept for the logs. */
    private static final int EXCERPT_CHARS = 300;

    private ControlMessages() {}

    /**
     * Reads an unsigned command without checking its sender.
     *
     * @param maxCommandBytes larger records are refused ({@code TOO_LARGE}) without being parsed
     */
    public static ControlMessage decode(byte[] value, int maxCommandBytes) {
        if (value.length > maxCommandBytes) {
            return rejected(
                    "TOO_LARGE",
                    "the command is "
                            + value.length
                            + " bytes, over the limit of "
                            + maxCommandBytes
                            + " bytes (model.control.max-command-size)",
                    value,
                    null);
        }
        try {
            return ControlMessage.newBuilder().setCommand(ModelCommands.fromJson(value)).build();
        } catch (InvalidCommandException e) {
            return rejected("INVALID_COMMAND", e.getMessage(), value, null);
        }
    }

    /** A control message holding {@code command}, as the source would decode it. */
    public static ControlMessage of(ModelCommand command) {
        return ControlMessage.newBuilder().setCommand(command).build();
    }

    /**
     * A record refused with {@code reason}; {@code command} is the command it holds where one could
     * be read (so that the answer names its id), null otherwise.
     */
    static ControlMessage rejected(
            String reason, String message, byte[] value, ModelCommand command) {
        String excerpt =
                new String(
                        value,
                        0,
                        Math.min(value.length, EXCERPT_CHARS * 4),
                        StandardCharsets.UTF_8);
        return ControlMessage.newBuilder()
                .setCommand(command)
                .setRejection(
                        new RejectedCommand(
                                reason, message, UntrustedText.escape(excerpt, EXCERPT_CHARS)))
                .build();
    }
}
