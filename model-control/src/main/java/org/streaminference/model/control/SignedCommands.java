package org.streaminference.model.control;

import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.schemas.ModelCommand;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.Base64;

/**
 * A model command signed by a publisher's key, as it travels on the control topic: the command's
 * exact JSON bytes, base64-encoded, and an Ed25519 signature over those bytes.
 *
 * <pre>{@code
 * {"algorithm":"Ed25519","keyId":"3f9c0a…","signature":"…","payload":"eyJjb21tYW5kIjoiUFJPTU9URSIs…"}
 * }</pre>
 *
 * <p>The payload is signed as bytes, not re-serialized, so that no canonical form is needed and
 * what the job obeys is exactly what was signed: the model, version, role, share or plan, and the
 * command's id, issue time and sequence, which make each command usable once and in order (see
 * {@link CommandVerifier}).
 */
@PublicEvolving
public final class SignedCommands {
    private static final ObjectMapper JSON =
            new ObjectMapper()
                    .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private SignedCommands() {}

    /** The envelope: a command's bytes and their signature. */
    public record Envelope(
            @JsonProperty("algorithm") String algorithm,
            @JsonProperty("keyId") String keyId,
            @JsonProperty("signature") String signature,
            @JsonProperty("payload") String payload) {

        public byte[] toJson() {
            try {
                return JSON.writeValueAsBytes(this);
            } catch (IOException e) {
                throw new IllegalStateException("an envelope always serializes", e);
            }
        }

        /** The signed bytes; throws IllegalArgumentException where the payload is not base64. */
        public byte[] payloadBytes() {
            return Base64.getDecoder().decode(payload);
        }
    }

    /**
     * Signs {@code command}'s JSON bytes with {@code key}; returns the envelope's JSON, what the
     * topic carries.
     */
    public static byte[] sign(ModelCommand command, PrivateKey key, PublicKey publicKey) {
        return sign(ModelCommands.toJson(command), key, publicKey);
    }

    /** Signs {@code commandJson} as it is (tests sign malformed or hostile bytes this way). */
    public static byte[] sign(byte[] commandJson, PrivateKey key, PublicKey publicKey) {
        ManifestSignatures.SignatureFile signature =
                ManifestSignatures.sign(commandJson, key, publicKey);
        return new Envelope(
                        signature.algorithm(),
                        signature.keyId(),
                        signature.signature(),
                        Base64.getEncoder().encodeToString(commandJson))
                .toJson();
    }

    /**
     * Whether {@code json} is an envelope (a JSON object with a {@code payload}) rather than a
     * plain command.
     */
    static boolean looksSigned(JsonNode json) {
        return json != null && json.isObject() && json.has("payload");
    }

    /** Reads an envelope strictly: unknown or repeated fields are refused. */
    static Envelope envelope(JsonNode json) throws InvalidCommandException {
        try {
            Envelope envelope = JSON.treeToValue(json, Envelope.class);
            if (envelope.keyId() == null
                    || envelope.signature() == null
                    || envelope.payload() == null) {
                throw new InvalidCommandException(
                        "a signed command needs 'keyId', 'signature' and 'payload'");
            }
            return envelope;
        } catch (IOException e) {
            throw new InvalidCommandException("not a signed command: " + firstLine(e.getMessage()));
        }
    }

    /** Parses {@code value} as JSON, refusing a key given twice. */
    static JsonNode tree(byte[] value) throws InvalidCommandException {
        try {
            return JSON.readTree(value);
        } catch (IOException e) {
            throw new InvalidCommandException("not a model command: " + firstLine(e.getMessage()));
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
