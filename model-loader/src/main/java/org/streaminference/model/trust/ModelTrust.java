package org.streaminference.model.trust;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who may deploy a model: the public keys whose signatures the job accepts on a version's manifest,
 * and whether a version without a signature may be served at all (only where an option says so,
 * such as the local run). Held by value (the keys' X.509 encodings), so the trusted-keys file is
 * read once where the job is built and every TaskManager checks against the same keys.
 */
@PublicEvolving
public final class ModelTrust implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * Accepts unsigned versions and trusts no key: for tests and tools that load what they just
     * wrote.
     */
    public static final ModelTrust UNSIGNED_ALLOWED = new ModelTrust(List.of(), true);

    private final List<String> trustedKeysX509;
    private final boolean allowUnsigned;
    private transient Map<String, PublicKey> byId;

    private ModelTrust(List<String> trustedKeysX509, boolean allowUnsigned) {
        this.trustedKeysX509 = List.copyOf(trustedKeysX509);
        this.allowUnsigned = allowUnsigned;
    }

    /** Trusts {@code keys}; unsigned versions are refused unless {@code allowUnsigned}. */
    public static ModelTrust of(List<PublicKey> keys, boolean allowUnsigned) {
        List<String> encoded = new ArrayList<>();
        for (PublicKey key : keys) {
            encoded.add(Base64.getEncoder().encodeToString(key.getEncoded()));
        }
        return new ModelTrust(encoded, allowUnsigned);
    }

    public boolean allowUnsigned() {
        return allowUnsigned;
    }

    /** The trusted key with this id, or null. */
    public PublicKey key(String keyId) {
        return keyId == null ? null : byId().get(keyId);
    }

    public List<String> keyIds() {
        return List.copyOf(byId().keySet());
    }

    /** The keys by id, decoded once (the trust travels to the TaskManagers as encodings). */
    private Map<String, PublicKey> byId() {
        if (byId == null) {
            Map<String, PublicKey> keys = new LinkedHashMap<>();
            for (String x509 : trustedKeysX509) {
                PublicKey key = ManifestSignatures.publicKey(Base64.getDecoder().decode(x509));
                keys.put(ManifestSignatures.keyId(key), key);
            }
            byId = keys;
        }
        return byId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelTrust t
                && t.allowUnsigned == allowUnsigned
                && t.trustedKeysX509.equals(trustedKeysX509);
    }

    @Override
    public int hashCode() {
        return trustedKeysX509.hashCode() * 31 + Boolean.hashCode(allowUnsigned);
    }

    @Override
    public String toString() {
        return "ModelTrust{keys=" + keyIds() + ", allowUnsigned=" + allowUnsigned + "}";
    }
}
