package org.streaminference.model;

import org.streaminference.schemas.FeatureLayout;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The model contract a manifest states: what it accepts, what it refuses and why, and how it meets
 * the features.
 */
class ModelManifestContractTest {
    private static final String SHA = "a".repeat(64);

    private static ModelManifest.Builder base() {
        return ModelManifest.builder().name("m").version("1").modelFile("model.onnx").sha256(SHA);
    }

    private static ModelInput floats(String name, int width, String from) {
        return new ModelInput(name, ElementType.FLOAT, new long[] {-1, width}, from);
    }

    private static ModelOutput out(String name, ElementType type, long[] shape, OutputRole role) {
        return new ModelOutput(name, type, shape, role, null, null, null);
    }

    @Test
    void aManifestOfTheEarlierFormIsReadAsOneInputAndOneOutput() {
        String json =
                """
                {"name": "churn", "version": "3", "modelFile": "model.onnx", "sha256": "%s",
                 "input": {"name": "x", "elementType": "FLOAT", "shape": [-1, 4]},
                 "output": {"name": "y", "elementType": "FLOAT", "shape": [-1, 2]},
                 "outputKind": "PROBABILITIES", "labels": ["no", "yes"]}
                """
                        .formatted(SHA);
        ModelManifest m = ModelManifest.fromJson(json.getBytes(StandardCharsets.UTF_8));
        assertThat(m.inputs()).containsExactly(floats("x", 4, "features"));
        assertThat(m.outputs())
                .containsExactly(
                        out("y", ElementType.FLOAT, new long[] {-1, 2}, OutputRole.PROBABILITIES));
        assertThat(m.batching()).isEqualTo(BatchingPolicy.DYNAMIC);
        // written back in the current form, and read again to the same contract
        ModelManifest again = ModelManifest.fromJson(toJson(m));
        assertThat(again.inputs()).isEqualTo(m.inputs());
        assertThat(again.outputs()).isEqualTo(m.outputs());
    }

    private static byte[] toJson(ModelManifest m) {
        try {
            return new ObjectMapper().writeValueAsBytes(m);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void bothFormsAtOnceAreRefused() {
        String json =
                """
                {"name": "m", "version": "1", "modelFile": "model.onnx", "sha256": "%s",
                 "input": {"name": "x", "elementType": "FLOAT", "shape": [-1, 4]},
                 "inputs": [{"name": "x", "elementType": "FLOAT", "shape": [-1, 4]}],
                 "outputs": [{"name": "y", "elementType": "FLOAT", "shape": [-1], "role": "SCORE"}]}
                """
                        .formatted(SHA);
        assertThatThrownBy(() -> ModelManifest.fromJson(json.getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("not both");
    }

    @Test
    void eachRoleTakesOnlyTheShapesItCanBeReadFrom() {
        assertThatThrownBy(() -> out("p", ElementType.FLOAT, new long[] {-1, 3}, OutputRole.SCORE))
                .hasMessageContaining("[N] or [N,1]");
        assertThatThrownBy(() -> out("l", ElementType.FLOAT, new long[] {-1}, OutputRole.LABEL))
                .hasMessageContaining("INT64, INT32 or STRING");
        assertThatThrownBy(
                        () ->
                                out(
                                        "e",
                                        ElementType.FLOAT,
                                        new long[] {-1, -1, 384},
                                        OutputRole.EMBEDDING))
                .hasMessageContaining("needs its pooling");
        assertThatThrownBy(
                        () ->
                                new ModelOutput(
                                        "s",
                                        ElementType.FLOAT,
                                        new long[] {-1, 1},
                                        OutputRole.SIGMOID,
                                        1.5,
                                        null,
                                        null))
                .hasMessageContaining("threshold must be between 0 and 1");
        assertThatThrownBy(
                        () ->
                                new ModelOutput(
                                        "s",
                                        ElementType.FLOAT,
                                        new long[] {-1, 1},
                                        OutputRole.SCORE,
                                        0.5,
                                        null,
                                        null))
                .hasMessageContaining("only a SIGMOID output has a threshold");
        assertThatThrownBy(
                        () ->
                                out(
                                        "p",
                                        ElementType.FLOAT,
                                        new long[] {-1, 1},
                                        OutputRole.PROBABILITIES))
                .hasMessageContaining("is a SIGMOID output");
        assertThat(
                        out(
                                        "p",
                                        ElementType.MAP_SEQUENCE,
                                        new long[] {-1},
                                        OutputRole.PROBABILITIES)
                                .role())
                .isEqualTo(OutputRole.PROBABILITIES);
        assertThat(
                        new ModelOutput(
                                        "s",
                                        ElementType.FLOAT,
                                        new long[] {-1, 1},
                                        OutputRole.SIGMOID,
                                        null,
                                        null,
                                        null)
                                .threshold())
                .isEqualTo(0.5);
    }

    @Test
    void aContractThatCannotBeServedIsRefusedNamingWhy() {
        ModelOutput score = out("y", ElementType.FLOAT, new long[] {-1}, OutputRole.SCORE);
        assertThatThrownBy(
                        () ->
                                base().inputs(List.of(floats("x", 2, "a")))
                                        .outputs(
                                                List.of(
                                                        score,
                                                        out(
                                                                "z",
                                                                ElementType.FLOAT,
                                                                new long[] {-1, 3},
                                                                OutputRole.LOGITS)))
                                        .build())
                .hasMessageContaining("at most one output may be the answer");
        assertThatThrownBy(
                        () ->
                                base().inputs(List.of(floats("x", 2, "a"), floats("x", 3, "b")))
                                        .outputs(List.of(score))
                                        .build())
                .hasMessageContaining("input 'x' is declared twice");
        ModelInput ids =
                new ModelInput(
                        "input_ids", ElementType.INT64, new long[] {-1, -1}, "tokenizer.input_ids");
        assertThatThrownBy(() -> base().inputs(List.of(ids)).outputs(List.of(score)).build())
                .hasMessageContaining("no 'tokenizer'");
        assertThatThrownBy(
                        () ->
                                base().inputs(List.of(ids))
                                        .outputs(List.of(score))
                                        .tokenizer(
                                                new TokenizerConfig("tokenizer.json", "text", 128))
                                        .build())
                .hasMessageContaining("must be listed in 'files'");
        assertThatThrownBy(
                        () ->
                                new ModelInput(
                                        "x", ElementType.FLOAT, new long[] {-1, -1}, "features"))
                .hasMessageContaining("every dimension after the batch must be fixed");
        assertThatThrownBy(
                        () ->
                                new ModelInput(
                                        "ids",
                                        ElementType.INT64,
                                        new long[] {-1, -1},
                                        "tokenizer.pixels"))
                .hasMessageContaining("a tokenizer gives");
        assertThatThrownBy(() -> new TokenizerConfig("../tokenizer.json", "text", 128))
                .hasMessageContaining("not a plain path");
        assertThat(
                        base().inputs(List.of(ids))
                                .outputs(List.of(score))
                                .files(Map.of("tokenizer.json", SHA))
                                .tokenizer(new TokenizerConfig("tokenizer.json", "text", 128))
                                .build()
                                .tokenizer()
                                .maxLength())
                .isEqualTo(128);
    }

    @Test
    void theJobsFeatureGroupsMustFeedEveryInputWithTheRightTypeAndWidth() throws Exception {
        FeatureLayout layout =
                new FeatureLayout(
                        List.of(
                                new FeatureLayout.Group(
                                        "numeric",
                                        FeatureLayout.ValueType.FLOAT,
                                        new int[] {0, 1, 2}),
                                new FeatureLayout.Group(
                                        "category", FeatureLayout.ValueType.INT64, new int[] {0}),
                                new FeatureLayout.Group(
                                        "text", FeatureLayout.ValueType.STRING, new int[] {0})));
        FeatureContract contract = new FeatureContract("spec:1", layout);
        ModelOutput score = out("y", ElementType.FLOAT, new long[] {-1, 1}, OutputRole.SCORE);
        ModelInput category =
                new ModelInput("category", ElementType.INT64, new long[] {-1, 1}, "category");

        contract.check(
                base().inputs(List.of(floats("numeric", 3, "numeric"), category))
                        .outputs(List.of(score))
                        .build());
        assertThatThrownBy(
                        () ->
                                contract.check(
                                        base().inputs(
                                                        List.of(
                                                                floats("numeric", 4, "numeric"),
                                                                category))
                                                .outputs(List.of(score))
                                                .build()))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(
                        "takes 4 values per record but feature group 'numeric' has 3");
        assertThatThrownBy(
                        () ->
                                contract.check(
                                        base().inputs(List.of(floats("category", 1, "category")))
                                                .outputs(List.of(score))
                                                .build()))
                .hasMessageContaining("is FLOAT but feature group 'category' holds INT64 values");
        assertThatThrownBy(
                        () ->
                                contract.check(
                                        base().inputs(List.of(floats("x", 3, "pixels")))
                                                .outputs(List.of(score))
                                                .build()))
                .hasMessageContaining(
                        "feature group 'pixels', which this job's features do not have");
        ModelInput ids =
                new ModelInput(
                        "input_ids", ElementType.INT64, new long[] {-1, -1}, "tokenizer.input_ids");
        contract.check(
                base().inputs(List.of(ids))
                        .outputs(List.of(score))
                        .files(Map.of("tokenizer.json", SHA))
                        .tokenizer(new TokenizerConfig("tokenizer.json", "text", 64))
                        .build());
        assertThatThrownBy(
                        () ->
                                contract.check(
                                        base().inputs(List.of(ids))
                                                .outputs(List.of(score))
                                                .files(Map.of("tokenizer.json", SHA))
                                                .tokenizer(
                                                        new TokenizerConfig(
                                                                "tokenizer.json", "numeric", 64))
                                                .build()))
                .hasMessageContaining("must be one text feature");
    }
}
