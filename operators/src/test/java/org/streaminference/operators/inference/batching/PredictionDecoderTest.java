package org.streaminference.operators.inference.batching;

import org.streaminference.model.ElementType;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class PredictionDecoderTest {

    private static ModelManifest manifest(OutputRole kind, int outputs, List<String> labels) {
        return ModelManifest.builder()
                .name("m")
                .version("1")
                .modelFile("model.onnx")
                .sha256("0".repeat(64))
                .input(new TensorSignature("x", "FLOAT", new long[] {-1, 3}))
                .output(new TensorSignature("y", "FLOAT", new long[] {-1, outputs}), kind)
                .labels(labels)
                .build();
    }

    @Test
    void logitsGoThroughSoftmax() {
        var decoded =
                new PredictionDecoder(manifest(OutputRole.LOGITS, 3, List.of("a", "b", "c")))
                        .decode(new float[] {1f, 3f, 2f});
        double z = Math.exp(1) + Math.exp(3) + Math.exp(2);
        assertThat(decoded.predictedClass()).isEqualTo(1);
        assertThat(decoded.predictedLabel()).isEqualTo("b");
        assertThat(decoded.score()).isCloseTo(Math.exp(3) / z, within(1e-12));
        assertThat(decoded.probabilities().stream().mapToDouble(Double::doubleValue).sum())
                .isCloseTo(1, within(1e-12));
    }

    @Test
    void probabilitiesAreTakenAsTheyAre() {
        var decoded =
                new PredictionDecoder(manifest(OutputRole.PROBABILITIES, 2, List.of()))
                        .decode(new float[] {0.25f, 0.75f});
        assertThat(decoded.predictedClass()).isEqualTo(1);
        assertThat(decoded.predictedLabel()).isNull();
        assertThat(decoded.probabilities()).containsExactly(0.25, 0.75);
    }

    @Test
    void scoresHaveNoClassAndNaNIsNotFinite() {
        var decoder = new PredictionDecoder(manifest(OutputRole.SCORE, 1, List.of()));
        assertThat(decoder.decode(new float[] {0.5f}).predictedClass()).isNull();
        assertThat(decoder.decode(new float[] {0.5f}).isFinite()).isTrue();
        assertThat(decoder.decode(new float[] {Float.NaN}).isFinite()).isFalse();
    }

    @Test
    void aSigmoidGivesClassOneAtAndAboveItsThreshold() {
        ModelManifest manifest =
                ModelManifest.builder()
                        .name("m")
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256("0".repeat(64))
                        .input(new TensorSignature("x", "FLOAT", new long[] {-1, 3}))
                        .outputs(
                                List.of(
                                        new ModelOutput(
                                                "p",
                                                ElementType.FLOAT,
                                                new long[] {-1, 1},
                                                OutputRole.SIGMOID,
                                                0.7,
                                                null,
                                                null)))
                        .labels(List.of("legit", "fraud"))
                        .build();
        var decoder = new PredictionDecoder(manifest, 2);
        var high = decoder.decode(new float[] {0.8f});
        assertThat(high.predictedClass()).isEqualTo(1);
        assertThat(high.predictedLabel()).isEqualTo("fraud");
        assertThat(high.score()).isCloseTo(0.8, within(1e-6));
        assertThat(high.probabilities().get(0)).isCloseTo(0.2, within(1e-6));
        var low = decoder.decode(new float[] {0.65f});
        assertThat(low.predictedClass()).as("below the threshold of 0.7").isEqualTo(0);
        assertThat(low.predictedLabel()).isEqualTo("legit");
        assertThat(low.score())
                .as("the probability of the predicted class")
                .isCloseTo(0.35, within(1e-6));
        assertThat(low.topClasses())
                .extracting(c -> c.getLabel())
                .containsExactly("fraud", "legit");
    }

    /**
     * A probability tensor beside an int64 label, as an ONNX-ML classifier without ZipMap gives
     * them.
     */
    private static ModelManifest withLabelOutput(List<String> labels) {
        return ModelManifest.builder()
                .name("m")
                .version("1")
                .modelFile("model.onnx")
                .sha256("0".repeat(64))
                .input(new TensorSignature("x", "FLOAT", new long[] {-1, 3}))
                .outputs(
                        List.of(
                                new ModelOutput(
                                        "p",
                                        ElementType.FLOAT,
                                        new long[] {-1, 3},
                                        OutputRole.PROBABILITIES,
                                        null,
                                        null,
                                        null),
                                new ModelOutput(
                                        "label",
                                        ElementType.INT64,
                                        new long[] {-1},
                                        OutputRole.LABEL,
                                        null,
                                        null,
                                        null)))
                .labels(labels)
                .build();
    }

    @Test
    void anIntegerLabelFillsPredictedLabelWithoutLabelsAndFindsItsColumnAmongTheClasslabels() {
        var unnamed =
                new PredictionDecoder(withLabelOutput(List.of()))
                        .decodeRow(new double[] {0.1, 0.2, 0.7}, null, 2L, null, List.of());
        assertThat(unnamed.predictedLabel())
                .as("no --labels: the label as the model gives it")
                .isEqualTo("2");
        assertThat(unnamed.predictedClass()).isEqualTo(2);
        // the columns are the classes [2, 0, 1], as the classifier's classlabels name them: label 0
        // is column 1
        var reordered =
                new PredictionDecoder(withLabelOutput(List.of("2", "0", "1")))
                        .decodeRow(new double[] {0.1, 0.7, 0.2}, null, 0L, null, List.of());
        assertThat(reordered.predictedLabel()).isEqualTo("0");
        assertThat(reordered.predictedClass()).isEqualTo(1);
        assertThat(reordered.score()).isCloseTo(0.7, within(1e-12));
        // names given with --labels for a classifier whose labels are its class indexes
        var named =
                new PredictionDecoder(withLabelOutput(List.of("cat", "dog", "eel")))
                        .decodeRow(new double[] {0.1, 0.7, 0.2}, null, 1L, null, List.of());
        assertThat(named.predictedLabel()).isEqualTo("dog");
        assertThat(named.predictedClass()).isEqualTo(1);
    }

    @Test
    void aLabelAloneIsItsClassWhereTheManifestNamesIt() {
        ModelManifest labelOnly =
                ModelManifest.builder()
                        .name("m")
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256("0".repeat(64))
                        .input(new TensorSignature("x", "FLOAT", new long[] {-1, 3}))
                        .outputs(
                                List.of(
                                        new ModelOutput(
                                                "label",
                                                ElementType.INT64,
                                                new long[] {-1},
                                                OutputRole.LABEL,
                                                null,
                                                null,
                                                null)))
                        .labels(List.of("10", "20"))
                        .build();
        var decoded = new PredictionDecoder(labelOnly).decodeRow(null, null, 20L, null, List.of());
        assertThat(decoded.predictedLabel()).isEqualTo("20");
        assertThat(decoded.predictedClass()).isEqualTo(1);
    }
}
