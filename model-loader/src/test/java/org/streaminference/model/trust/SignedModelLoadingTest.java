package org.streaminference.model.trust;

import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;

import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Who may deploy a model: only versions whose manifest carries a valid signature by a trusted key
 * load, and the manifest's hash vouches for the model file. Every way around it is refused with its
 * own reason, and no rejection repeats the contents of a file it read.
 */
class SignedModelLoadingTest {
    private static final KeyPair PUBLISHER = ManifestSignatures.generateKeyPair();
    private static final KeyPair STRANGER = ManifestSignatures.generateKeyPair();

    @TempDir Path root;

    private ModelLoader loader(boolean allowUnsigned, KeyPair... trusted) {
        List<PublicKey> keys = Arrays.stream(trusted).map(KeyPair::getPublic).toList();
        return new ModelLoader(
                ModelLoaderConfig.defaults()
                        .withAllowedLocations(
                                List.of("file"), List.of(root.resolve("store").toUri().toString()))
                        .withTrust(ModelTrust.of(keys, allowUnsigned)));
    }

    private Path signedVersion(int version, KeyPair key) throws Exception {
        Path dir = DemoModels.write(root.resolve("store"), version);
        ManifestSignatures.signVersion(dir, key);
        return dir;
    }

    private static void assertRefused(
            ModelLoader loader, Path dir, ModelLoadException.Reason reason) {
        assertThatThrownBy(() -> loader.load(dir.toString()))
                .as(dir.toString())
                .isInstanceOf(ModelLoadException.class)
                .satisfies(e -> assertThat(((ModelLoadException) e).reason()).isEqualTo(reason));
    }

    @Test
    void aVersionSignedByATrustedKeyLoads() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        try (LoadedModel model =
                loader(false, STRANGER, PUBLISHER).load(dir.toString())) { // two keys: a rotation
            assertThat(model.manifest().id()).isEqualTo(DemoModels.NAME + ":1");
        }
    }

    @Test
    void anUnsignedVersionIsRefusedUnlessUnsignedVersionsAreAllowed() throws Exception {
        Path dir = DemoModels.write(root.resolve("store"), 1);
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.UNSIGNED);
        loader(true).load(dir.toString()).close();
    }

    @Test
    void aSignatureByAKeyTheJobDoesNotTrustIsRefused() throws Exception {
        Path dir = signedVersion(1, STRANGER);
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.SIGNATURE_INVALID);
        assertRefused(
                loader(true, PUBLISHER),
                dir,
                ModelLoadException.Reason.SIGNATURE_INVALID); // not even then
        loader(true)
                .load(dir.toString())
                .close(); // a job that trusts no key checks no signature (the local run)
    }

    @Test
    void aTamperedManifestIsRefused() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        String manifest = Files.readString(dir.resolve("manifest.json"));
        Files.writeString(
                dir.resolve("manifest.json"),
                manifest.replace("\"demo-transactions:1\"", "\"demo-transactions:1\" "));
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.SIGNATURE_INVALID);
    }

    @Test
    void aForgedSignatureFileIsRefused() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        Files.writeString(
                dir.resolve(ManifestSignatures.FILE_NAME),
                "{\"algorithm\":\"Ed25519\",\"keyId\":\""
                        + ManifestSignatures.keyId(PUBLISHER.getPublic())
                        + "\",\"signature\":\"AAAA\"}");
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.SIGNATURE_INVALID);
        Files.writeString(dir.resolve(ManifestSignatures.FILE_NAME), "root:x:0:0:secret");
        assertThatThrownBy(() -> loader(false, PUBLISHER).load(dir.toString()))
                .hasMessageContaining("SIGNATURE_INVALID")
                .hasMessageNotContaining("secret");
    }

    @Test
    void aModelFileSwappedUnderASignedManifestIsRefused() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        Path other = DemoModels.write(root.resolve("elsewhere"), 2);
        Files.copy(
                other.resolve("model.onnx"),
                dir.resolve("model.onnx"),
                StandardCopyOption.REPLACE_EXISTING);
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.CHECKSUM_MISMATCH);
    }

    @Test
    void aSymbolicLinkOutOfTheRootIsRefused() throws Exception {
        Path outside = DemoModels.write(root.resolve("outside"), 1);
        ManifestSignatures.signVersion(outside, PUBLISHER);
        Path link = root.resolve("store").resolve(DemoModels.NAME).resolve("9");
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, outside);
        assertRefused(loader(false, PUBLISHER), link, ModelLoadException.Reason.URI_NOT_ALLOWED);

        // a model file linked from a version inside the root to a file outside it
        Path inside = signedVersion(2, PUBLISHER);
        Path secret = Files.writeString(root.resolve("secret.txt"), "top secret");
        Files.delete(inside.resolve("model.onnx"));
        Files.createSymbolicLink(inside.resolve("model.onnx"), secret);
        assertThatThrownBy(() -> loader(false, PUBLISHER).load(inside.toString()))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.URI_NOT_ALLOWED))
                .hasMessageNotContaining("top secret");
    }

    @Test
    void aDirectoryWhereTheModelFileShouldBeIsRefused() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        Files.delete(dir.resolve("model.onnx"));
        Files.createDirectory(dir.resolve("model.onnx"));
        assertRefused(loader(false, PUBLISHER), dir, ModelLoadException.Reason.URI_NOT_ALLOWED);
    }

    @Test
    void aModelReadingExternalDataIsRefusedBeforeOnnxRuntimeSeesIt() throws Exception {
        Path dir = DemoModels.write(root.resolve("store"), 1);
        OnnxMl.ModelProto model =
                OnnxMl.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        OnnxMl.GraphProto.Builder graph = model.getGraph().toBuilder();
        OnnxMl.TensorProto weights = graph.getInitializer(0);
        graph.setInitializer(
                0,
                weights.toBuilder()
                        .clearRawData()
                        .clearFloatData()
                        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(
                                OnnxMl.StringStringEntryProto.newBuilder()
                                        .setKey("location")
                                        .setValue("../../../../etc/passwd")));
        byte[] bytes = model.toBuilder().setGraph(graph).build().toByteArray();
        Files.write(dir.resolve("model.onnx"), bytes);
        ModelManifest m =
                new ModelLoader(ModelLoaderConfig.defaults()).readManifest(dir.toString());
        DemoModels.writeManifest(dir, m.toBuilder().sha256(ModelLoader.sha256Hex(bytes)).build());
        ManifestSignatures.signVersion(dir, PUBLISHER);

        assertThatThrownBy(() -> loader(false, PUBLISHER).load(dir.toString()))
                .isInstanceOf(ModelLoadException.class)
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.EXTERNAL_DATA))
                .hasMessageContaining(weights.getName());
    }

    @Test
    void theManifestMustBeTheVersionAskedFor() throws Exception {
        Path dir = signedVersion(1, PUBLISHER);
        assertThatThrownBy(
                        () ->
                                loader(false, PUBLISHER)
                                        .load(
                                                dir.toString(),
                                                new ModelLoader.Expected(
                                                        DemoModels.NAME, "7", null)))
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.INVALID_MANIFEST));
        assertThatThrownBy(
                        () ->
                                loader(false, PUBLISHER)
                                        .load(
                                                dir.toString(),
                                                new ModelLoader.Expected(
                                                        DemoModels.NAME, "1", "0".repeat(64))))
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.CHECKSUM_MISMATCH));
    }

    @Test
    void aFileThatIsNotAManifestIsRefusedWithoutRepeatingItsContents() throws Exception {
        Path dir = Files.createDirectories(root.resolve("store").resolve("x").resolve("1"));
        Files.writeString(
                dir.resolve("manifest.json"),
                "{\"name\": \"db-password-hunter2\", \"oops\": ",
                StandardCharsets.UTF_8);
        assertThatThrownBy(() -> loader(true).load(dir.toString()))
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.INVALID_MANIFEST))
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void aSignedManifestWithAFieldGivenTwiceIsRefused() throws Exception {
        // signed as it is: the signature holds, but a reader taking the first "name" and one taking
        // the last would
        // see two different models
        Path dir = DemoModels.write(root.resolve("store"), 1);
        String manifest = Files.readString(dir.resolve(ModelManifest.FILE_NAME));
        Files.writeString(
                dir.resolve(ModelManifest.FILE_NAME),
                manifest.replaceFirst("\\{", "{\"name\": \"payments-approved\", "),
                StandardCharsets.UTF_8);
        ManifestSignatures.signVersion(dir, PUBLISHER);
        assertThatThrownBy(() -> loader(false, PUBLISHER).load(dir.toString()))
                .satisfies(
                        e ->
                                assertThat(((ModelLoadException) e).reason())
                                        .isEqualTo(ModelLoadException.Reason.INVALID_MANIFEST))
                .hasMessageContaining("field 'name' given twice");
    }

    @Test
    void keysSurviveTheirPemFiles() {
        String pem =
                ManifestSignatures.privateKeyPem(PUBLISHER.getPrivate())
                        + ManifestSignatures.publicKeyPem(PUBLISHER.getPublic());
        byte[] data = "manifest".getBytes(StandardCharsets.UTF_8);
        var signature =
                ManifestSignatures.sign(
                        data, ManifestSignatures.readPrivateKey(pem), PUBLISHER.getPublic());
        assertThat(
                        ManifestSignatures.verify(
                                data, signature, ManifestSignatures.readPublicKeys(pem).get(0)))
                .isTrue();
        assertThat(
                        ManifestSignatures.verify(
                                "other".getBytes(StandardCharsets.UTF_8),
                                signature,
                                PUBLISHER.getPublic()))
                .isFalse();
        assertThat(ManifestSignatures.verify(data, signature, STRANGER.getPublic())).isFalse();
    }

    private Path withExternalWeights(int version, boolean covered) throws Exception {
        Path dir = DemoModels.writeWithExternalWeights(root.resolve("store"), version, covered);
        ManifestSignatures.signVersion(dir, PUBLISHER);
        return dir;
    }

    @Test
    void externalDataCoveredByTheSignedManifestIsServedAndAnswersAsTheSelfContainedModel()
            throws Exception {
        Path external = withExternalWeights(1, true);
        Path whole = DemoModels.write(root.resolve("store").resolve("whole"), 1);
        float[] features = new float[DemoModels.FEATURES];
        for (int i = 0; i < features.length; i++) {
            features[i] = i * 0.37f - 2f;
        }
        try (LoadedModel a = loader(false, PUBLISHER).load(external.toString());
                LoadedModel b =
                        new ModelLoader(ModelLoaderConfig.defaults()).load(whole.toString())) {
            assertThat(a.run(FloatBuffer.wrap(features), 1)[0])
                    .containsExactly(b.run(FloatBuffer.wrap(features), 1)[0]);
        }
    }

    @Test
    void externalDataTheManifestDoesNotCoverOrThatChangedIsRefused() throws Exception {
        Path uncovered = withExternalWeights(1, false);
        assertRefused(loader(false, PUBLISHER), uncovered, ModelLoadException.Reason.EXTERNAL_DATA);

        Path changed = withExternalWeights(2, true);
        byte[] weights = Files.readAllBytes(changed.resolve("weights.bin"));
        weights[7] ^= 0x10;
        Files.write(changed.resolve("weights.bin"), weights);
        assertRefused(
                loader(false, PUBLISHER), changed, ModelLoadException.Reason.CHECKSUM_MISMATCH);

        Files.write(changed.resolve("weights.bin"), new byte[0]);
        Files.delete(changed.resolve("weights.bin"));
        Path outside = Files.write(root.resolve("outside-weights.bin"), weights);
        Files.createSymbolicLink(changed.resolve("weights.bin"), outside);
        assertRefused(loader(false, PUBLISHER), changed, ModelLoadException.Reason.URI_NOT_ALLOWED);
    }
}
