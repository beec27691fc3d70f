package org.streaminference.features.spec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FeatureSpecParserTest {

    @Test
    void theDemoSpecParses() {
        FeatureSpec spec = FeatureSpecs.demo();
        assertThat(spec.id()).isEqualTo("demo-transactions:1");
        assertThat(spec.width()).isEqualTo(27);
        assertThat(spec.valueNames())
                .hasSize(27)
                .startsWith("amount", "log_amount", "quantity", "country=NL")
                .contains("merchant#3", "segment=business");
        assertThat(spec.requiredEventFields()).containsExactly("amount");
        assertThat(spec.usesProfile()).isTrue();
        assertThat(spec.lateEvents()).isEqualTo(LateEventPolicy.DEAD_LETTER);
        assertThat(spec.maxOutOfOrdernessMillis()).isEqualTo(30_000);
        assertThat(spec.entityTtlMillis()).isEqualTo(7L * 24 * 3600 * 1000);
        FeatureDefinition sum =
                spec.features().stream()
                        .filter(f -> f.name().equals("amount_sum_1h"))
                        .findFirst()
                        .orElseThrow();
        assertThat(sum.windowMillis()).isEqualTo(3_600_000);
        assertThat(sum.slideMillis()).isEqualTo(300_000);
        assertThat(sum.log1p()).isTrue();
    }

    @Test
    void defaultsApplyWhereEventTimeIsNotGiven() throws Exception {
        FeatureSpec spec =
                FeatureSpecParser.parse(
                        """
                name: minimal
                version: 3
                features:
                  - {name: n, kind: count, window: 10m}
                """,
                        "minimal.yaml");
        assertThat(spec.id()).isEqualTo("minimal:3");
        assertThat(spec.maxOutOfOrdernessMillis()).isEqualTo(30_000);
        assertThat(spec.lateEvents()).isEqualTo(LateEventPolicy.DEAD_LETTER);
        assertThat(spec.features().get(0).slideMillis()).as("tumbling").isEqualTo(600_000);
    }

    static Stream<Arguments> invalidSpecs() {
        String head = "name: s\nversion: 1\nfeatures:\n";
        return Stream.of(
                Arguments.of("", 0, "the file is empty"),
                Arguments.of("name: s\nversion: [1\n", 3, "not valid YAML"),
                Arguments.of("name: s\nversoin: 1\nfeatures: []\n", 2, "unknown key 'versoin'"),
                Arguments.of(
                        "name: s\nfeatures:\n  - {name: a, kind: count}\n", 1, "needs 'version'"),
                Arguments.of(
                        "name: s\nversion: one\nfeatures:\n  - {name: a, kind: count}\n",
                        2,
                        "version must be a whole number"),
                Arguments.of("name: s\nversion: 1\nfeatures: []\n", 3, "non-empty list"),
                Arguments.of(
                        head + "  - name: a\n    kind: average\n    field: x\n",
                        5,
                        "unknown kind 'average'"),
                Arguments.of(head + "  - name: a\n    kind: sum\n", 4, "needs a 'field'"),
                Arguments.of(
                        head + "  - name: a\n    kind: sum\n    field: x\n    windw: 1h\n",
                        7,
                        "unknown key 'windw'"),
                Arguments.of(
                        head
                                + "  - name: a\n    kind: sum\n    field: x\n    window: 1h\n    slide: 7m\n",
                        8,
                        "whole multiple of slide"),
                Arguments.of(
                        head
                                + "  - name: a\n    kind: sum\n    field: x\n    window: 1h\n    slide: 1s\n",
                        8,
                        "at most 1440 buckets"),
                Arguments.of(
                        head + "  - name: a\n    kind: sum\n    field: x\n    window: soon\n",
                        7,
                        "must be a duration"),
                Arguments.of(
                        head + "  - name: a\n    kind: numeric\n    field: x\n    window: 1h\n",
                        7,
                        "'window' does not apply to kind numeric"),
                Arguments.of(
                        head + "  - name: a\n    kind: one-hot\n    field: c\n",
                        4,
                        "needs a 'vocabulary'"),
                Arguments.of(
                        head
                                + "  - name: a\n    kind: one-hot\n    field: c\n    vocabulary: [x, y, x]\n",
                        7,
                        "lists 'x' twice"),
                Arguments.of(
                        head + "  - name: a\n    kind: hashed\n    field: c\n    buckets: 0\n",
                        7,
                        "buckets must be a whole number from 1"),
                Arguments.of(
                        head + "  - name: a\n    kind: decayed-mean\n    field: x\n",
                        4,
                        "needs a 'halfLife'"),
                Arguments.of(
                        head
                                + "  - name: a\n    kind: numeric\n    field: x\n    scale: {mean: 1, std: 0}\n",
                        7,
                        "scale.std must be positive"),
                Arguments.of(
                        head
                                + "  - name: a\n    kind: numeric\n    field: x\n    scale: {mean: 1}\n",
                        7,
                        "either 'mean' and 'std'"),
                Arguments.of(
                        head + "  - name: a\n    kind: numeric\n    field: x\n    default: lots\n",
                        7,
                        "default must be a finite number"),
                Arguments.of(
                        head + "  - name: a\n    kind: sum\n    field: x\n    source: profile\n",
                        7,
                        "only numeric, integer, one-hot and hashed features can read the profile"),
                Arguments.of(
                        head + "  - {name: a, kind: count}\n  - {name: a, kind: count}\n",
                        5,
                        "feature name 'a' is used twice"),
                Arguments.of(head + "  - {name: 1a, kind: count}\n", 4, "must start with a letter"),
                Arguments.of(
                        "name: s\nversion: 1\neventTime:\n  entityTtl: 1h\nfeatures:\n"
                                + "  - {name: a, kind: count, window: 24h}\n",
                        4,
                        "entityTtl PT1H is shorter"),
                Arguments.of(
                        "name: s\nversion: 1\neventTime:\n  lateEvents: drop\nfeatures:\n"
                                + "  - {name: a, kind: count}\n",
                        4,
                        "lateEvents must be 'dead-letter' or 'count'"),
                Arguments.of(
                        "name: s\nversion: 1\nversion: 2\nfeatures:\n  - {name: a, kind: count}\n",
                        3,
                        "key 'version' is given twice"));
    }

    @ParameterizedTest
    @MethodSource("invalidSpecs")
    void anInvalidSpecIsRefusedWithItsLine(String yaml, int line, String problem) {
        assertThatThrownBy(() -> FeatureSpecParser.parse(yaml, "spec.yaml"))
                .isInstanceOf(InvalidFeatureSpecException.class)
                .hasMessageStartingWith("spec.yaml" + (line > 0 ? ", line " + line + ": " : ": "))
                .hasMessageContaining(problem)
                .satisfies(
                        e -> assertThat(((InvalidFeatureSpecException) e).line()).isEqualTo(line));
    }

    @Test
    void aMissingFileIsReportedAsSuch() {
        assertThatThrownBy(() -> FeatureSpecs.load("/does/not/exist.yaml"))
                .isInstanceOf(InvalidFeatureSpecException.class)
                .hasMessageContaining("/does/not/exist.yaml: cannot read the feature spec");
    }
}
