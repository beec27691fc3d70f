package org.streaminference.operators.inference.routing;

import org.streaminference.model.AnswerContract;
import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.Prediction;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class EnsembleCombinerTest {
    private static final AnswerContract SCORE =
            new AnswerContract(AnswerContract.Kind.SCORE, List.of(), 0);
    private static final AnswerContract LABEL =
            new AnswerContract(AnswerContract.Kind.LABEL, List.of(), 0);

    private static AnswerContract classes(String... labels) {
        return new AnswerContract(
                AnswerContract.Kind.CLASS_PROBABILITIES, List.of(labels), labels.length);
    }

    private static AnswerContract unnamed(int count) {
        return new AnswerContract(AnswerContract.Kind.CLASS_PROBABILITIES, List.of(), count);
    }

    private static Prediction prediction(
            String model,
            double score,
            Integer cls,
            String label,
            List<Double> probs,
            List<ClassScore> top) {
        return new Prediction(
                "e1", "u1", model, "1", score, cls, label, probs, top, 5L, 7L, List.of(), List.of(),
                null, List.of(), null);
    }

    @Test
    void classifiersAreCombinedClassByClassByTheirLabelsNotTheirPositions() {
        Prediction a =
                prediction(
                        "a",
                        0.7,
                        0,
                        "cat",
                        List.of(0.7, 0.2, 0.1),
                        List.of(new ClassScore(0, "cat", 0.7), new ClassScore(1, "dog", 0.2)));
        // the same classes in another order, as another export of the classifier gives them
        Prediction b =
                prediction(
                        "b",
                        0.6,
                        2,
                        "dog",
                        List.of(0.3, 0.1, 0.6),
                        List.of(new ClassScore(2, "dog", 0.6), new ClassScore(0, "eel", 0.3)));
        Prediction p =
                EnsembleCombiner.combine(
                        "pets",
                        List.of(a, b),
                        new double[] {1, 3},
                        List.of(classes("cat", "dog", "eel"), classes("eel", "cat", "dog")));
        double[] expected = {
            (0.7 + 3 * 0.1) / 4, (0.2 + 3 * 0.6) / 4, (0.1 + 3 * 0.3) / 4
        }; // cat, dog, eel
        for (int c = 0; c < 3; c++) {
            assertThat(p.getProbabilities().get(c)).isCloseTo(expected[c], within(1e-12));
        }
        assertThat(p.getPredictedClass()).isEqualTo(1);
        assertThat(p.getPredictedLabel()).isEqualTo("dog");
        assertThat(p.getScore()).isCloseTo(0.5, within(1e-12));
        assertThat(p.getTopClasses())
                .extracting(ClassScore::getLabel)
                .containsExactly("dog", "cat");
        assertThat(p.getModelName()).isEqualTo("pets");
        assertThat(p.getModelVersion()).isEqualTo("a:1,b:1");
        assertThat(p.getMembers()).hasSize(2);
        assertThat(p.getMembers().get(1).getProbabilities())
                .as("each member's own output, in its own order")
                .containsExactly(0.3, 0.1, 0.6);
        assertThat(p.getInferenceTime()).isEqualTo(7L);
    }

    @Test
    void classifiersThatNameNoClassesAreCombinedByPosition() {
        Prediction a = prediction("a", 0.9, 0, null, List.of(0.9, 0.1), List.of());
        Prediction b = prediction("b", 0.7, 1, null, List.of(0.3, 0.7), List.of());
        Prediction p =
                EnsembleCombiner.combine(
                        "x", List.of(a, b), new double[] {1, 1}, List.of(unnamed(2), unnamed(2)));
        assertThat(p.getProbabilities().get(0)).isCloseTo(0.6, within(1e-12));
        assertThat(p.getProbabilities().get(1)).isCloseTo(0.4, within(1e-12));
        assertThat(p.getPredictedClass()).isZero();
    }

    @Test
    void labelsAreCombinedByWeightedMajorityVote() {
        Prediction a = prediction("a", 1, null, "spam", List.of(), List.of());
        Prediction b = prediction("b", 1, null, "ham", List.of(), List.of());
        Prediction c = prediction("c", 1, null, "ham", List.of(), List.of());
        List<AnswerContract> labels = List.of(LABEL, LABEL, LABEL);
        Prediction heavyA =
                EnsembleCombiner.combine("mail", List.of(a, b, c), new double[] {3, 1, 1}, labels);
        assertThat(heavyA.getPredictedLabel()).isEqualTo("spam");
        assertThat(heavyA.getScore()).isCloseTo(0.6, within(1e-12));
        Prediction even =
                EnsembleCombiner.combine("mail", List.of(a, b, c), new double[] {1, 1, 1}, labels);
        assertThat(even.getPredictedLabel()).isEqualTo("ham");
        Prediction tie =
                EnsembleCombiner.combine(
                        "mail", List.of(b, a), new double[] {1, 1}, List.of(LABEL, LABEL));
        assertThat(tie.getPredictedLabel())
                .as("a tie goes to the earlier member's label")
                .isEqualTo("ham");
    }

    @Test
    void scoresAreCombinedByTheirWeightedMean() {
        Prediction a = prediction("a", 2.0, null, null, List.of(), List.of());
        Prediction b = prediction("b", 10.0, null, null, List.of(), List.of());
        assertThat(
                        EnsembleCombiner.combine(
                                        "s",
                                        List.of(a, b),
                                        new double[] {3, 1},
                                        List.of(SCORE, SCORE))
                                .getScore())
                .isEqualTo(4.0);
    }

    @Test
    void membersOfDifferentKindsOrClassesCannotBeCombined() {
        Prediction score = prediction("a", 2.0, null, null, List.of(), List.of());
        Prediction classifier = prediction("b", 0.9, 0, null, List.of(0.9, 0.1), List.of());
        Prediction three = prediction("c", 0.5, 0, null, List.of(0.5, 0.3, 0.2), List.of());
        assertThatThrownBy(
                        () ->
                                EnsembleCombiner.combine(
                                        "x",
                                        List.of(score, classifier),
                                        new double[] {1, 1},
                                        List.of(SCORE, classes("no", "yes"))))
                .hasMessage(
                        "ensemble 'x' cannot combine members that answer in different kinds: a:1 (a score), b:1"
                                + " (class probabilities of [no, yes])");
        assertThatThrownBy(
                        () ->
                                EnsembleCombiner.combine(
                                        "x",
                                        List.of(classifier, three),
                                        new double[] {1, 1},
                                        List.of(
                                                classes("no", "yes"),
                                                classes("no", "yes", "maybe"))))
                .hasMessageContaining("cannot combine members of different classes");
        assertThatThrownBy(
                        () ->
                                EnsembleCombiner.combine(
                                        "x",
                                        List.of(classifier, classifier),
                                        new double[] {1, 1},
                                        List.of(classes("no", "yes"), unnamed(2))))
                .hasMessageContaining("members that name their classes with members that do not");
    }
}
