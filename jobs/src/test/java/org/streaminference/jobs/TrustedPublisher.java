package org.streaminference.jobs;

import org.streaminference.model.DemoModels;
import org.streaminference.model.control.SignedCommands;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.schemas.ModelCommand;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;

/**
 * A publisher whose key a cluster trusts: its key pair, and the {@code model.trusted-keys} file
 * that names its public key. The tests that run the job jar on a real cluster deploy only versions
 * it signed, with commands it signed, as production does.
 *
 * @param keys the key pair versions are signed with
 * @param trustedKeys the file for {@code model.trusted-keys}
 */
record TrustedPublisher(KeyPair keys, Path trustedKeys) {
    /** A new key pair, its public key written to {@code trustedKeys}. */
    static TrustedPublisher create(Path trustedKeys) throws Exception {
        KeyPair keys = ManifestSignatures.generateKeyPair();
        Files.writeString(trustedKeys, ManifestSignatures.publicKeyPem(keys.getPublic()));
        return new TrustedPublisher(keys, trustedKeys);
    }

    /** {@code command} signed with this publisher's key, as the control topic carries it. */
    byte[] sign(ModelCommand command) {
        return SignedCommands.sign(command, keys.getPrivate(), keys.getPublic());
    }

    /**
     * Writes demo version {@code version} under {@code models}, signed by this publisher; returns
     * its directory.
     */
    Path signedDemoVersion(Path models, int version) throws Exception {
        Path dir = DemoModels.write(models, version);
        ManifestSignatures.signVersion(dir, keys);
        return dir;
    }
}
