package org.streaminference.cli;

import org.streaminference.model.trust.ManifestSignatures;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.List;

/**
 * A publisher's key file as {@code models keygen} writes it: the PKCS#8 private key and its X.509
 * public key.
 */
record PublisherKey(PrivateKey privateKey, PublicKey publicKey) {

    static PublisherKey read(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        PrivateKey privateKey = ManifestSignatures.readPrivateKey(pem);
        List<PublicKey> publicKeys = ManifestSignatures.readPublicKeys(pem);
        if (publicKeys.size() != 1) {
            throw new IllegalArgumentException(
                    file
                            + " must hold the private key and its public key, as 'models"
                            + " keygen' writes them");
        }
        PublisherKey key = new PublisherKey(privateKey, publicKeys.get(0));
        byte[] probe = "probe".getBytes(StandardCharsets.US_ASCII);
        if (!ManifestSignatures.verify(
                probe,
                ManifestSignatures.sign(probe, privateKey, key.publicKey()),
                key.publicKey())) {
            throw new IllegalArgumentException(
                    "the public key in " + file + " is not the private key's");
        }
        return key;
    }

    String keyId() {
        return ManifestSignatures.keyId(publicKey);
    }
}
