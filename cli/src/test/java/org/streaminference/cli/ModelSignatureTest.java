package org.streaminference.cli;

import org.streaminference.model.DemoModels;
import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.OutputRole;
import org.streaminference.model.Pooling;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What {@code models publish} infers from real models' signatures, and how it asks, naming the
 * option, for what a signature cannot say.
 */
class ModelSignatureTest {

    private static ModelSignature signatureOf(byte[] model) throws Exception {
        try (OrtSession session =
                OrtEnvironment.getEnvironment()
                        .createSession(model, new OrtSession.SessionOptions())) {
            return new ModelSignature(session.getInputInfo(), session.getOutputInfo());
        }
    }

    private static byte[] exported(String name) throws Exception {
        try (InputStream in =
                ModelSignatureTest.class.getResourceAsStream("/exports/" + name + "/model.onnx")) {
            return in.readAllBytes();
        }
    }

    @Test
    void aScikitLearnClassifierNeedsNoOptions() throws Exception {
        List<ModelOutput> outputs =
                signatureOf(exported("gbt-classifier"))
                        .outputs(null, null, null, null, false, List.of());
        assertThat(outputs)
                .extracting(ModelOutput::role)
                .containsExactly(OutputRole.PROBABILITIES, OutputRole.LABEL);
        assertThat(
                        signatureOf(exported("gbt-classifier"))
                                .outputs(null, null, null, null, false, List.of("label")))
                .extracting(o -> o.name() + ":" + o.role())
                .containsExactly("probabilities:PROBABILITIES", "label:TENSOR");
    }

    /**
     * The Crayfish benchmark's network, exported from PyTorch: input [batch_size, 1, 784], 10
     * logits.
     */
    @Test
    void aPyTorchExportNeedsOnlyItsOutputKind() throws Exception {
        Path peer =
                Path.of("..", "..", "shared", "peer-models", "crayfish-ffnn", "model-ffnn.onnx")
                        .toAbsolutePath()
                        .normalize();
        Assumptions.assumeTrue(
                Files.isReadable(peer), "skipped: ../shared/peer-models is absent (" + peer + ")");
        ModelSignature signature = signatureOf(Files.readAllBytes(peer));
        assertThat(signature.inputs(Map.of(), false))
                .singleElement()
                .satisfies(
                        input -> {
                            assertThat(input.from()).isEqualTo("features");
                            assertThat(input.shape()).containsExactly(-1, 1, 784);
                        });
        assertThatThrownBy(() -> signature.outputs(null, null, null, null, false, List.of()))
                .hasMessageContaining("--output-kind");
        assertThat(
                        signature
                                .outputs(null, OutputRole.LOGITS, null, null, false, List.of())
                                .get(0)
                                .shape())
                .containsExactly(-1, 10);
    }

    @Test
    void aColumnIsAScoreUnlessSaidToBeASigmoid() throws Exception {
        ModelSignature sigmoid = signatureOf(exported("sigmoid-classifier"));
        assertThat(sigmoid.outputs(null, null, null, null, false, List.of()))
                .extracting(ModelOutput::role)
                .containsExactly(OutputRole.SCORE);
        assertThat(
                        sigmoid.outputs(null, OutputRole.SIGMOID, 0.3, null, false, List.of())
                                .get(0)
                                .threshold())
                .isEqualTo(0.3);
    }

    @Test
    void whatTheSignatureCannotSayIsAskedForByItsOption(@TempDir Path dir) throws Exception {
        // the demo classifier: float [N,2], probabilities or logits alike to a signature
        byte[] demo = Files.readAllBytes(DemoModels.write(dir, 1).resolve("model.onnx"));
        assertThatThrownBy(
                        () -> signatureOf(demo).outputs(null, null, null, null, false, List.of()))
                .hasMessageContaining("--output-kind PROBABILITIES, LOGITS or EMBEDDING");
        assertThatThrownBy(
                        () -> signatureOf(demo).outputs("nope", null, null, null, false, List.of()))
                .hasMessageContaining("no output 'nope'");

        ModelSignature multi = signatureOf(exported("multi-input"));
        assertThat(multi.inputs(Map.of(), false))
                .extracting(ModelInput::from)
                .containsExactlyInAnyOrder("numeric", "category");
        assertThat(multi.inputs(Map.of("category", "shop"), false))
                .extracting(ModelInput::from)
                .containsExactlyInAnyOrder("numeric", "shop");
        assertThatThrownBy(() -> multi.inputs(Map.of("categroy", "shop"), false))
                .hasMessageContaining("--input-from names input 'categroy'");
    }

    @Test
    void aTransformerAsksForItsTokenizerAndPooling() throws Exception {
        byte[] minilm;
        try (InputStream in =
                getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-q.onnx")) {
            Assumptions.assumeTrue(
                    in != null, "skipped: the langchain4j MiniLM jar is not on the test classpath");
            minilm = in.readAllBytes();
        }
        ModelSignature signature = signatureOf(minilm);
        assertThatThrownBy(() -> signature.inputs(Map.of(), false))
                .hasMessageContaining("--tokenizer");
        assertThat(signature.inputs(Map.of(), true))
                .extracting(ModelInput::from)
                .containsExactlyInAnyOrder(
                        "tokenizer.input_ids",
                        "tokenizer.attention_mask",
                        "tokenizer.token_type_ids");
        assertThatThrownBy(() -> signature.outputs(null, null, null, null, false, List.of()))
                .hasMessageContaining("--pooling MEAN or CLS");
        assertThat(signature.outputs(null, null, null, Pooling.MEAN, true, List.of()).get(0).role())
                .isEqualTo(OutputRole.EMBEDDING);
    }
}
