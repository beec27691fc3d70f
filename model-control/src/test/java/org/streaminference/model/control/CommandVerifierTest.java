package org.streaminference.model.control;

import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.ModelCommand;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the control source obeys: commands signed by a trusted key over their exact bytes, issued
 * lately.
 */
class CommandVerifierTest {
    private static final KeyPair TRUSTED = ManifestSignatures.generateKeyPair();
    private static final KeyPair OTHER = ManifestSignatures.generateKeyPair();
    private static final Duration TTL = Duration.ofHours(1);
    private static final CommandVerifier STRICT =
            new CommandVerifier(
                    ModelTrust.of(List.of(TRUSTED.getPublic()), false),
                    64 * 1024,
                    TTL,
                    Duration.ofMinutes(5));

    private static byte[] signed(ModelCommand command) {
        return SignedCommands.sign(command, TRUSTED.getPrivate(), TRUSTED.getPublic());
    }

    private static ControlMessage decode(CommandVerifier verifier, byte[] value) {
        return verifier.decode(value, System.currentTimeMillis());
    }

    private static String reason(byte[] value) {
        ControlMessage message = decode(STRICT, value);
        return message.getRejection() == null ? null : message.getRejection().getReason();
    }

    @Test
    void aCommandSignedByATrustedKeyIsObeyedAndNamesItsSigner() {
        ModelCommand promote = ModelCommands.promote("churn");
        ControlMessage message = decode(STRICT, signed(promote));
        assertThat(message.getRejection()).isNull();
        assertThat(message.getCommand().getId()).isEqualTo(promote.getId());
        assertThat(message.getCommand().getSequence()).isEqualTo(promote.getSequence());
        assertThat(message.getCommand().getSignedBy())
                .isEqualTo(ManifestSignatures.keyId(TRUSTED.getPublic()));
    }

    @Test
    void everyCommandKindUnsignedIsRefusedWhereUnsignedCommandsAreNotAllowed() throws Exception {
        for (ModelCommand command :
                List.of(
                        ModelCommands.publish("churn", "2", "s3://m/churn/2", null, null),
                        ModelCommands.setCanary("churn", "2", 10),
                        ModelCommands.setShadow("churn", "2"),
                        ModelCommands.promote("churn"),
                        ModelCommands.rollback("churn", "1"),
                        ModelCommands.retire("churn", "1"),
                        ModelCommands.setPlan(
                                ServingPlans.fromJson(
                                        "{\"routes\":[{\"to\":[\"nothing\"]}]}"
                                                .getBytes(StandardCharsets.UTF_8))))) {
            ControlMessage message = decode(STRICT, ModelCommands.toJson(command));
            assertThat(message.getRejection().getReason())
                    .as(command.getCommand().name())
                    .isEqualTo("UNSIGNED");
            assertThat(message.getRejection().getMessage()).contains("model.trusted-keys");
        }
    }

    @Test
    void unsignedCommandsAreObeyedOnlyWhereAllowedAndNeverClaimASigner() {
        CommandVerifier lenient =
                new CommandVerifier(
                        ModelTrust.of(List.of(), true), 64 * 1024, TTL, Duration.ofMinutes(5));
        ModelCommand claim = ModelCommands.promote("churn");
        claim.setSignedBy(ManifestSignatures.keyId(TRUSTED.getPublic()));
        ControlMessage message = decode(lenient, ModelCommands.toJson(claim));
        assertThat(message.getRejection()).isNull();
        assertThat(message.getCommand().getSignedBy()).isNull();
    }

    @Test
    void anUntrustedKeyATamperedPayloadAndAForgedKeyIdAreRefused() {
        ModelCommand promote = ModelCommands.promote("churn");
        assertThat(reason(SignedCommands.sign(promote, OTHER.getPrivate(), OTHER.getPublic())))
                .isEqualTo("SIGNATURE_INVALID");
        // signed by the other key, under the trusted key's id
        SignedCommands.Envelope forged =
                envelope(SignedCommands.sign(promote, OTHER.getPrivate(), OTHER.getPublic()));
        assertThat(
                        reason(
                                new SignedCommands.Envelope(
                                                forged.algorithm(),
                                                ManifestSignatures.keyId(TRUSTED.getPublic()),
                                                forged.signature(),
                                                forged.payload())
                                        .toJson()))
                .isEqualTo("SIGNATURE_INVALID");
        // the trusted signature over other bytes: the command changed after signing
        SignedCommands.Envelope good = envelope(signed(promote));
        byte[] changed = ModelCommands.toJson(ModelCommands.retire("churn", "3"));
        assertThat(
                        reason(
                                new SignedCommands.Envelope(
                                                good.algorithm(),
                                                good.keyId(),
                                                good.signature(),
                                                Base64.getEncoder().encodeToString(changed))
                                        .toJson()))
                .isEqualTo("SIGNATURE_INVALID");
        assertThat(
                        reason(
                                new SignedCommands.Envelope(
                                                "RSA",
                                                good.keyId(),
                                                good.signature(),
                                                good.payload())
                                        .toJson()))
                .isEqualTo("SIGNATURE_INVALID");
        assertThat(
                        reason(
                                new SignedCommands.Envelope(
                                                good.algorithm(),
                                                good.keyId(),
                                                good.signature(),
                                                "%%%")
                                        .toJson()))
                .isEqualTo("SIGNATURE_INVALID");
    }

    @Test
    void aKeyGivenTwiceIsRefusedInTheEnvelopeAndInTheSignedCommand() {
        SignedCommands.Envelope good = envelope(signed(ModelCommands.promote("churn")));
        String twice =
                "{\"algorithm\":\"Ed25519\",\"keyId\":\""
                        + good.keyId()
                        + "\",\"signature\":\""
                        + good.signature()
                        + "\",\"payload\":\""
                        + good.payload()
                        + "\",\"payload\":\""
                        + good.payload()
                        + "\"}";
        assertThat(reason(twice.getBytes(StandardCharsets.UTF_8))).isEqualTo("INVALID_COMMAND");
        String json =
                new String(
                        ModelCommands.toJson(ModelCommands.retire("churn", "1")),
                        StandardCharsets.UTF_8);
        byte[] duplicateVersion =
                json.replace("\"version\":\"1\"", "\"version\":\"1\",\"version\":\"2\"")
                        .getBytes(StandardCharsets.UTF_8);
        ControlMessage message =
                decode(
                        STRICT,
                        SignedCommands.sign(
                                duplicateVersion, TRUSTED.getPrivate(), TRUSTED.getPublic()));
        assertThat(message.getRejection().getReason()).isEqualTo("INVALID_COMMAND");
        assertThat(message.getRejection().getMessage()).contains("version");
    }

    @Test
    void aSignedCommandCarriesItsIdIssueTimeAndSequenceAndASignedRollbackNamesItsVersion() {
        ModelCommand noSequence = ModelCommands.promote("churn");
        noSequence.setSequence(null);
        assertThat(decode(STRICT, signed(noSequence)).getRejection().getMessage())
                .contains("'sequence'");
        ModelCommand noId = ModelCommands.promote("churn");
        noId.setId(null);
        assertThat(reason(signed(noId))).isEqualTo("INVALID_COMMAND");
        assertThat(
                        decode(STRICT, signed(ModelCommands.rollback("churn")))
                                .getRejection()
                                .getMessage())
                .contains("names the version it goes back to");
    }

    @Test
    void aCommandIssuedTooLongAgoOrInTheFutureIsRefusedAndTheAnswerNamesIt() {
        ModelCommand old = ModelCommands.promote("churn");
        old.setIssuedAt(System.currentTimeMillis() - TTL.toMillis() - 60_000);
        ControlMessage stale = decode(STRICT, signed(old));
        assertThat(stale.getRejection().getReason()).isEqualTo("STALE");
        assertThat(stale.getCommand().getId())
                .isEqualTo(old.getId()); // the answer names the command
        ModelCommand future = ModelCommands.promote("churn");
        future.setIssuedAt(System.currentTimeMillis() + Duration.ofMinutes(30).toMillis());
        assertThat(reason(signed(future))).isEqualTo("NOT_YET_VALID");
        ModelCommand skewed = ModelCommands.promote("churn");
        skewed.setIssuedAt(System.currentTimeMillis() + Duration.ofMinutes(2).toMillis());
        assertThat(reason(signed(skewed))).isNull(); // within the allowed clock skew
    }

    @Test
    void aRecordOverTheLimitIsRefusedUnread() {
        CommandVerifier small =
                new CommandVerifier(
                        ModelTrust.of(List.of(TRUSTED.getPublic()), false),
                        100,
                        TTL,
                        Duration.ZERO);
        assertThat(decode(small, signed(ModelCommands.promote("churn"))).getRejection().getReason())
                .isEqualTo("TOO_LARGE");
    }

    private static SignedCommands.Envelope envelope(byte[] json) {
        try {
            return new ObjectMapper().readValue(json, SignedCommands.Envelope.class);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
