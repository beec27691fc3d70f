package org.streaminference.cli;

import org.streaminference.model.trust.ManifestSignatures;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.concurrent.Callable;

/**
 * {@code models keygen}: makes a publisher's Ed25519 key pair. The key file (private and public
 * key, readable by its owner only) signs versions with {@code models publish --signing-key}; the
 * public key file goes into the jobs' {@code model.trusted-keys}.
 */
@Command(
        name = "keygen",
        mixinStandardHelpOptions = true,
        description =
                "Make a publisher's Ed25519 key pair: NAME.key signs model versions, NAME.pub goes into the"
                        + " jobs' model.trusted-keys.")
final class KeygenCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--out",
            required = true,
            description = "Directory to write NAME.key and NAME.pub to.")
    Path out;

    @Option(
            names = "--name",
            defaultValue = "publisher",
            description = "File name stem (default: publisher).")
    String name;

    @Override
    public Integer call() throws Exception {
        PrintWriter print = spec.commandLine().getOut();
        Files.createDirectories(out);
        Path keyFile = out.resolve(name + ".key");
        Path publicFile = out.resolve(name + ".pub");
        if (Files.exists(keyFile) || Files.exists(publicFile)) {
            throw new IllegalArgumentException(
                    keyFile + " or " + publicFile + " exists; keys are never overwritten");
        }
        KeyPair pair = ManifestSignatures.generateKeyPair();
        String publicPem = ManifestSignatures.publicKeyPem(pair.getPublic());
        Files.createFile(
                keyFile,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(
                keyFile,
                ManifestSignatures.privateKeyPem(pair.getPrivate()) + publicPem,
                StandardCharsets.US_ASCII,
                StandardOpenOption.TRUNCATE_EXISTING);
        Files.writeString(
                publicFile, publicPem, StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW);
        print.printf(
                "Key %s: %s signs (keep it secret), %s goes into model.trusted-keys.%n",
                ManifestSignatures.keyId(pair.getPublic()), keyFile, publicFile);
        return 0;
    }
}
