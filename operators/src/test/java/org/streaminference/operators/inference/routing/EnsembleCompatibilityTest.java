package org.streaminference.operators.inference.routing;

import org.streaminference.model.AnswerContract;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class EnsembleCompatibilityTest {

    private static EnsembleCompatibility.Member member(
            String name, AnswerContract.Kind kind, String... classes) {
        return new EnsembleCompatibility.Member(
                name,
                new AnswerContract(
                        kind,
                        List.of(classes),
                        kind == AnswerContract.Kind.CLASS_PROBABILITIES ? classes.length : 0));
    }

    @Test
    void theSameClassesInAnotherOrderCombine() {
        assertThat(
                        EnsembleCompatibility.problem(
                                "e",
                                List.of(
                                        member(
                                                "a:1",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "setosa",
                                                "versicolor",
                                                "virginica"),
                                        member(
                                                "b:1",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "virginica",
                                                "setosa",
                                                "versicolor"))))
                .isNull();
    }

    @Test
    void aMismatchNamesTheMembersAndWhatEachAnswers() {
        assertThat(
                        EnsembleCompatibility.problem(
                                "risk",
                                List.of(
                                        member(
                                                "fraud:4",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "ok",
                                                "fraud"),
                                        member("amount:2", AnswerContract.Kind.SCORE))))
                .isEqualTo(
                        "ensemble 'risk' cannot combine members that answer in different kinds: fraud:4 (class"
                                + " probabilities of [ok, fraud]), amount:2 (a score)");
        assertThat(
                        EnsembleCompatibility.problem(
                                "iris",
                                List.of(
                                        member(
                                                "a:1",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "x",
                                                "y",
                                                "z"),
                                        member(
                                                "b:1",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "x",
                                                "y",
                                                "z",
                                                "w"))))
                .isEqualTo(
                        "ensemble 'iris' cannot combine members of different classes: a:1 (class probabilities of"
                                + " [x, y, z]), b:1 (class probabilities of [x, y, z, w])");
        assertThat(
                        EnsembleCompatibility.problem(
                                "e", List.of(member("emb:1", AnswerContract.Kind.NONE))))
                .contains("cannot combine emb:1: it gives no answer an ensemble can combine");
        assertThat(
                        EnsembleCompatibility.problem(
                                "e",
                                List.of(
                                        member(
                                                "a:1",
                                                AnswerContract.Kind.CLASS_PROBABILITIES,
                                                "x",
                                                "x"))))
                .contains("names class 'x' twice");
    }

    @Test
    void unnamedClassesCombineWhenTheirCountsAgree() {
        AnswerContract two =
                new AnswerContract(AnswerContract.Kind.CLASS_PROBABILITIES, List.of(), 2);
        AnswerContract three =
                new AnswerContract(AnswerContract.Kind.CLASS_PROBABILITIES, List.of(), 3);
        assertThat(
                        EnsembleCompatibility.problem(
                                "e",
                                List.of(
                                        new EnsembleCompatibility.Member("a:1", two),
                                        new EnsembleCompatibility.Member("b:1", two))))
                .isNull();
        assertThat(
                        EnsembleCompatibility.problem(
                                "e",
                                List.of(
                                        new EnsembleCompatibility.Member("a:1", two),
                                        new EnsembleCompatibility.Member("b:1", three))))
                .contains("different classes")
                .contains("2 unnamed classes")
                .contains("3 unnamed classes");
    }
}
