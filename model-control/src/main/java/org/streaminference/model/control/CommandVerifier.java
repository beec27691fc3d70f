package org.streaminference.model.control;

import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;

/**
 * Decides, where a control record is read, whether it is a command this job may obey: signed by a
 * trusted key over its exact bytes ({@link SignedCommands}), well-formed, and issued neither too
 * long ago nor in the future. What it refuses becomes a {@link ControlMessage} with the reason,
 * answered REJECTED by every inference subtask:
 *
 * <ul>
 *   <li>{@code UNSIGNED}: a plain command, where the job does not allow unsigned ones ({@code
 *       model.allow-unsigned});
 *   <li>{@code SIGNATURE_INVALID}: a key the job does not trust, or a signature that does not match
 *       the bytes;
 *   <li>{@code STALE}: issued longer ago than {@code model.control.command-ttl};
 *   <li>{@code NOT_YET_VALID}: issued further in the future than the allowed clock skew;
 *   <li>{@code INVALID_COMMAND}, {@code TOO_LARGE}: not a command, or one too large to read.
 * </ul>
 *
 * <p>The order of accepted commands (replays, commands overtaken by newer ones) is checked later,
 * against the checkpointed state of the subtasks ({@link CommandOrder}). The clock is read here,
 * once per record, so that every subtask gets the same decision.
 */
@PublicEvolving
public final class CommandVerifier implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * How far in the future a command's issue time may lie: clocks of publishers and TaskManagers
     * differ.
     */
    public static final Duration DEFAULT_MAX_CLOCK_SKEW = Duration.ofMinutes(5);

    private static final String UNSIGNED_MESSAGE =
            "this job obeys only commands signed by a key in"
                    + " model.trusted-keys (the models CLI signs with --signing-key); unsigned commands are obeyed only with"
                    + " model.allow-unsigned";

    private final ModelTrust trust;
    private final int maxCommandBytes;
    private final Duration ttl;
    private final Duration maxClockSkew;

    /**
     * @param trust the keys whose signatures are obeyed, and whether unsigned commands are
     * @param maxCommandBytes larger records are refused unread
     * @param ttl how long after its issue time a signed command may be obeyed
     * @param maxClockSkew how far in the future an issue time may lie
     */
    public CommandVerifier(
            ModelTrust trust, int maxCommandBytes, Duration ttl, Duration maxClockSkew) {
        Preconditions.checkArgument(maxCommandBytes > 0, "maxCommandBytes must be positive");
        Preconditions.checkArgument(
                ttl != null && !ttl.isNegative() && !ttl.isZero(), "ttl must be positive");
        Preconditions.checkArgument(
                maxClockSkew != null && !maxClockSkew.isNegative(),
                "maxClockSkew must not be negative");
        this.trust = Preconditions.checkNotNull(trust);
        this.maxCommandBytes = maxCommandBytes;
        this.ttl = ttl;
        this.maxClockSkew = maxClockSkew;
    }

    /** Decodes and checks one control record, read at {@code nowMillis}. */
    public ControlMessage decode(byte[] value, long nowMillis) {
        if (value.length > maxCommandBytes) {
            return ControlMessages.decode(value, maxCommandBytes); // TOO_LARGE, unread
        }
        JsonNode tree;
        try {
            tree = SignedCommands.tree(value);
        } catch (InvalidCommandException e) {
            return ControlMessages.rejected("INVALID_COMMAND", e.getMessage(), value, null);
        }
        if (!SignedCommands.looksSigned(tree)) {
            ModelCommand plain;
            try {
                plain = ModelCommands.fromTree(tree);
            } catch (InvalidCommandException e) {
                return ControlMessages.rejected(
                        trust.allowUnsigned() ? "INVALID_COMMAND" : "UNSIGNED",
                        trust.allowUnsigned() ? e.getMessage() : UNSIGNED_MESSAGE,
                        value,
                        null);
            }
            plain.setSignedBy(null); // nobody vouched for it
            return trust.allowUnsigned()
                    ? ControlMessages.of(plain)
                    // the command, where it reads as one, so that the answer names it
                    : ControlMessages.rejected("UNSIGNED", UNSIGNED_MESSAGE, value, plain);
        }
        SignedCommands.Envelope envelope;
        byte[] payload;
        try {
            envelope = SignedCommands.envelope(tree);
            payload = envelope.payloadBytes();
        } catch (InvalidCommandException e) {
            return ControlMessages.rejected("INVALID_COMMAND", e.getMessage(), value, null);
        } catch (IllegalArgumentException e) {
            return ControlMessages.rejected(
                    "SIGNATURE_INVALID", "the payload is not base64", value, null);
        }
        PublicKey key = trust.key(envelope.keyId());
        if (!ManifestSignatures.ALGORITHM.equals(envelope.algorithm())) {
            return ControlMessages.rejected(
                    "SIGNATURE_INVALID",
                    "the algorithm must be "
                            + ManifestSignatures.ALGORITHM
                            + ", not '"
                            + envelope.algorithm()
                            + "'",
                    payload,
                    null);
        }
        if (key == null) {
            return ControlMessages.rejected(
                    "SIGNATURE_INVALID",
                    "key '"
                            + envelope.keyId()
                            + "' is not one of the"
                            + " keys this job trusts "
                            + trust.keyIds()
                            + " (model.trusted-keys)",
                    payload,
                    null);
        }
        if (!ManifestSignatures.verify(
                payload,
                new ManifestSignatures.SignatureFile(
                        envelope.algorithm(), envelope.keyId(), envelope.signature()),
                key)) {
            return ControlMessages.rejected(
                    "SIGNATURE_INVALID",
                    "the signature is not key '"
                            + envelope.keyId()
                            + "''s signature of these bytes",
                    payload,
                    null);
        }
        ModelCommand command;
        try {
            command = ModelCommands.fromJson(payload);
            requireSigned(command);
        } catch (InvalidCommandException e) {
            return ControlMessages.rejected("INVALID_COMMAND", e.getMessage(), payload, null);
        }
        command.setSignedBy(envelope.keyId());
        long issued = command.getIssuedAt();
        if (issued > nowMillis + maxClockSkew.toMillis()) {
            return ControlMessages.rejected(
                    "NOT_YET_VALID",
                    "issued at "
                            + Instant.ofEpochMilli(issued)
                            + ", more than "
                            + maxClockSkew
                            + " after this job's clock ("
                            + Instant.ofEpochMilli(nowMillis)
                            + ")",
                    payload,
                    command);
        }
        if (issued < nowMillis - ttl.toMillis()) {
            return ControlMessages.rejected(
                    "STALE",
                    "issued at "
                            + Instant.ofEpochMilli(issued)
                            + ", more than "
                            + ttl
                            + " ago (model.control.command-ttl); sign a new command",
                    payload,
                    command);
        }
        return ControlMessages.of(command);
    }

    /**
     * What a signed command must carry besides what every command does: what makes it usable once,
     * in order.
     */
    private static void requireSigned(ModelCommand c) throws InvalidCommandException {
        if (c.getId() == null
                || c.getId().isBlank()
                || c.getIssuedAt() == null
                || c.getSequence() == null) {
            throw new InvalidCommandException(
                    "a signed command needs 'id', 'issuedAt' and 'sequence'");
        }
        if (c.getCommand() == ModelCommandType.ROLLBACK && c.getVersion() == null) {
            throw new InvalidCommandException(
                    "a signed ROLLBACK names the version it goes back to ('version')");
        }
    }
}
