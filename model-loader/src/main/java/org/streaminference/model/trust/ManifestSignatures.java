package org.streaminference.model.trust;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ed25519 signatures over a model version's manifest, which names the sha256 of the model file: a
 * valid signature by a trusted key vouches for the manifest and, through its hash, for the model.
 * The signature lives next to the manifest as {@code manifest.json.sig}, a small JSON document
 * ({@code algorithm}, {@code keyId}, {@code signature}) over the manifest's exact bytes. Keys are
 * PEM files: PKCS#8 for the private key, X.509 for public keys; the JDK implements Ed25519, so no
 * library is needed.
 */
@PublicEvolving
public final class ManifestSignatures {
    /** The signature file's name, next to {@code manifest.json}. */
    public static final String FILE_NAME = "manifest.json.sig";

    public static final String ALGORITHM = "Ed25519";

    /** Signature files larger than this are refused unread. */
    public static final int MAX_SIGNATURE_FILE_BYTES = 4 * 1024;

    private static final ObjectMapper JSON =
            new ObjectMapper()
                    .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final Pattern PEM =
            Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

    private ManifestSignatures() {}

    /** The content of a signature file. */
    public record SignatureFile(
            @JsonProperty("algorithm") String algorithm,
            @JsonProperty("keyId") String keyId,
            @JsonProperty("signature") String signature) {

        public byte[] toJson() {
            try {
                return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
            } catch (IOException e) {
                throw new IllegalStateException("a signature file always serializes", e);
            }
        }

        /**
         * @throws IOException without the file's contents in its message
         */
        public static SignatureFile fromJson(byte[] json) throws IOException {
            try {
                return JSON.readValue(json, SignatureFile.class);
            } catch (IOException e) {
                throw new IOException("not a signature file");
            }
        }
    }

    /** A new Ed25519 key pair. */
    public static KeyPair generateKeyPair() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every Java 17 JVM implements Ed25519", e);
        }
    }

    /** Signs {@code manifest} (its exact bytes). */
    public static SignatureFile sign(byte[] manifest, PrivateKey key, PublicKey publicKey) {
        try {
            Signature signer = Signature.getInstance(ALGORITHM);
            signer.initSign(key);
            signer.update(manifest);
            return new SignatureFile(
                    ALGORITHM, keyId(publicKey), Base64.getEncoder().encodeToString(signer.sign()));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot sign with this key: " + e.getMessage(), e);
        }
    }

    /**
     * Signs the manifest of the version in the local directory {@code versionDir}, writing {@link
     * #FILE_NAME}.
     */
    public static void signVersion(Path versionDir, KeyPair key) throws IOException {
        byte[] manifest = Files.readAllBytes(versionDir.resolve("manifest.json"));
        Files.write(
                versionDir.resolve(FILE_NAME),
                sign(manifest, key.getPrivate(), key.getPublic()).toJson());
    }

    /** Whether {@code signature} is {@code key}'s valid signature of {@code manifest}. */
    public static boolean verify(byte[] manifest, SignatureFile signature, PublicKey key) {
        try {
            Signature verifier = Signature.getInstance(ALGORITHM);
            verifier.initVerify(key);
            verifier.update(manifest);
            return verifier.verify(Base64.getDecoder().decode(signature.signature()));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    /** A key's id: the first 16 hex digits of the sha256 of its X.509 encoding. */
    public static String keyId(PublicKey key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    public static String privateKeyPem(PrivateKey key) {
        return pem("PRIVATE KEY", key.getEncoded());
    }

    public static String publicKeyPem(PublicKey key) {
        return pem("PUBLIC KEY", key.getEncoded());
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN "
                + type
                + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der)
                + "\n-----END "
                + type
                + "-----\n";
    }

    /** Reads the one PKCS#8 Ed25519 private key of a PEM text. */
    public static PrivateKey readPrivateKey(String pemText) {
        List<byte[]> blocks = blocks(pemText, "PRIVATE KEY");
        if (blocks.size() != 1) {
            throw new IllegalArgumentException(
                    "expected one '-----BEGIN PRIVATE KEY-----' block, found " + blocks.size());
        }
        try {
            return KeyFactory.getInstance(ALGORITHM)
                    .generatePrivate(new PKCS8EncodedKeySpec(blocks.get(0)));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not an Ed25519 private key (PKCS#8)");
        }
    }

    /**
     * Reads every X.509 Ed25519 public key of a PEM text (a trusted-keys file may hold several, for
     * rotation).
     */
    public static List<PublicKey> readPublicKeys(String pemText) {
        List<PublicKey> keys = new ArrayList<>();
        for (byte[] der : blocks(pemText, "PUBLIC KEY")) {
            keys.add(publicKey(der));
        }
        return keys;
    }

    static PublicKey publicKey(byte[] x509) {
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(x509));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not an Ed25519 public key (X.509)");
        }
    }

    private static List<byte[]> blocks(String pemText, String type) {
        List<byte[]> out = new ArrayList<>();
        Matcher m = PEM.matcher(pemText);
        while (m.find()) {
            if (m.group(1).equals(type)) {
                out.add(Base64.getMimeDecoder().decode(m.group(2)));
            }
        }
        return out;
    }
}
