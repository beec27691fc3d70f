package org.streaminference.features.spec;

import org.streaminference.features.state.EntityFeatureState;
import org.streaminference.features.state.FeatureEngine;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Vector, integer and text features, and the groups that feed a model's inputs. */
class FeatureGroupsTest {

    private static final String SPEC =
            """
            name: mixed
            version: 1
            features:
              - {name: amount, kind: numeric, field: amount, group: numeric}
              - {name: pixels, kind: vector, field: pixels, width: 3, group: image}
              - {name: count, kind: count, group: numeric}
              - {name: shop, kind: integer, field: shop_id, group: shop}
              - {name: review, kind: text, field: review, group: text}
            """;

    private static ValidatedEvent event(
            EventFields fields,
            Map<String, Double> numeric,
            Map<String, List<Float>> vectors,
            Map<String, String> text) {
        return ValidatedEvent.of(
                InputEvent.newBuilder()
                        .setEventId("e")
                        .setEntityId("u")
                        .setEventTime(1_000)
                        .setEventType("t")
                        .setNumericFields(numeric)
                        .setCategoricalFields(text)
                        .setVectorFields(vectors)
                        .build(),
                fields);
    }

    @Test
    void eachGroupIndexesTheArrayOfItsType() throws Exception {
        FeatureSpec spec = FeatureSpecParser.parse(SPEC, "mixed.yaml");
        assertThat(spec.width()).as("float values: amount, 3 pixels, count").isEqualTo(5);
        assertThat(spec.width(FeatureLayout.ValueType.INT64)).isEqualTo(1);
        assertThat(spec.width(FeatureLayout.ValueType.STRING)).isEqualTo(1);
        FeatureLayout layout = spec.layout();
        assertThat(layout.group("numeric").indices()).containsExactly(0, 4);
        assertThat(layout.group("image").indices()).containsExactly(1, 2, 3);
        assertThat(layout.group("shop").type()).isEqualTo(FeatureLayout.ValueType.INT64);
        assertThat(layout.group("text").type()).isEqualTo(FeatureLayout.ValueType.STRING);
        assertThat(spec.requiredEventFields())
                .containsExactly("amount", "pixels", "shop_id", "review");
        assertThat(FeatureSpecs.demo().layout())
                .as("a spec without groups is one float group")
                .isEqualTo(FeatureLayout.floats(27));
    }

    @Test
    void theEngineGivesEveryTypeAndNamesWhatItCannotComputeByGroup() throws Exception {
        FeatureSpec parsed = FeatureSpecParser.parse(SPEC, "mixed.yaml");
        FeatureEngine engine = new FeatureEngine(parsed);
        EventFields fields = parsed.eventFields();
        ValidatedEvent good =
                event(
                        fields,
                        Map.of("amount", 12.5, "shop_id", 42.0),
                        Map.of("pixels", List.of(0.1f, 0.2f, 0.3f)),
                        Map.of("review", "fine"));
        assertThat(engine.problems(good)).isEmpty();
        EntityFeatureState state = engine.newState();
        assertThat(engine.update(state, good, 1_000)).containsExactly(12.5, 0.1f, 0.2f, 0.3f, 1);
        assertThat(engine.integers(good)).containsExactly(42L);
        assertThat(engine.texts(good)).containsExactly("fine");

        assertThat(
                        engine.problems(
                                event(
                                        fields,
                                        Map.of("amount", 1.0, "shop_id", 1.0),
                                        Map.of("pixels", List.of(1f, 2f)),
                                        Map.of("review", "x"))))
                .singleElement()
                .satisfies(
                        p -> {
                            assertThat(p.getGroup()).isEqualTo("image");
                            assertThat(p.getReason()).isEqualTo(ReasonCode.INVALID_FIELD);
                            assertThat(p.getMessage())
                                    .contains("has 2 values; feature 'pixels' takes 3");
                        });
        ValidatedEvent noPixels =
                event(
                        fields,
                        Map.of("amount", 1.0, "shop_id", 1.0),
                        Map.of(),
                        Map.of("review", "x"));
        assertThat(engine.problems(noPixels))
                .singleElement()
                .satisfies(
                        p -> {
                            assertThat(p.getGroup()).isEqualTo("image");
                            assertThat(p.getReason()).isEqualTo(ReasonCode.MISSING_FIELD);
                        });
        assertThat(engine.update(engine.newState(), noPixels, 1_000))
                .as("the missing vector's values are NaN")
                .containsExactly(1.0, Double.NaN, Double.NaN, Double.NaN, 1);
        assertThat(
                        engine.problems(
                                        event(
                                                fields,
                                                Map.of("amount", 1.0, "shop_id", 1.0),
                                                Map.of("pixels", List.of(1f, Float.NaN, 2f)),
                                                Map.of("review", "x")))
                                .get(0)
                                .getMessage())
                .contains("value 1 is NaN");
        assertThat(
                        engine.problems(
                                        event(
                                                fields,
                                                Map.of("amount", 1.0, "shop_id", 4.5),
                                                Map.of("pixels", List.of(1f, 2f, 3f)),
                                                Map.of("review", "x")))
                                .get(0)
                                .getMessage())
                .contains("not a whole number");
        assertThat(
                        engine.problems(
                                event(
                                        fields,
                                        Map.of("amount", 1.0, "shop_id", 4.0),
                                        Map.of("pixels", List.of(1f, 2f, 3f)),
                                        Map.of())))
                .extracting(p -> p.getGroup() + ": " + p.getMessage())
                .containsExactly("text: text field 'review' is missing");
        assertThat(
                        engine.problems(
                                event(
                                        fields,
                                        Map.of(),
                                        Map.of("pixels", List.of(1f, 2f, 3f)),
                                        Map.of("review", "x"))))
                .extracting(p -> p.getGroup() + ": " + p.getMessage())
                .containsExactly(
                        "numeric: numeric field 'amount' is missing",
                        "shop: numeric field 'shop_id' is missing");
    }

    @Test
    void everyKindThatReadsAFieldCanBeOptionalWithADefault() throws Exception {
        FeatureSpec optional =
                FeatureSpecParser.parse(
                        """
                name: optional
                version: 1
                features:
                  - {name: amount, kind: numeric, field: amount, default: -1}
                  - {name: pixels, kind: vector, field: pixels, width: 3, default: 0.5, group: image}
                  - {name: shop, kind: integer, field: shop_id, default: 7, group: shop}
                  - {name: review, kind: text, field: review, default: "no review", group: text}
                """,
                        "optional.yaml");
        assertThat(optional.requiredEventFields()).isEmpty();
        FeatureEngine engine = new FeatureEngine(optional);
        ValidatedEvent empty = event(optional.eventFields(), Map.of(), Map.of(), Map.of());
        assertThat(engine.problems(empty)).isEmpty();
        assertThat(engine.update(engine.newState(), empty, 1_000))
                .containsExactly(-1, 0.5, 0.5, 0.5);
        assertThat(engine.integers(empty)).containsExactly(7L);
        assertThat(engine.texts(empty)).containsExactly("no review");
        assertThatThrownBy(
                        () ->
                                FeatureSpecParser.parse(
                                        """
                name: s
                version: 1
                features:
                  - {name: c, kind: one-hot, field: c, vocabulary: [a], default: 1}
                """,
                                        "s.yaml"))
                .hasMessageContaining("default");
    }

    @Test
    void aGroupHoldsOneTypeAndAVectorItsWidth() {
        assertThatThrownBy(
                        () ->
                                FeatureSpecParser.parse(
                                        """
                name: s
                version: 1
                features:
                  - {name: a, kind: numeric, field: a}
                  - {name: b, kind: integer, field: b}
                """,
                                        "s.yaml"))
                .hasMessageContaining("line 5")
                .hasMessageContaining("group 'features' already holds" + " FLOAT ones");
        assertThatThrownBy(
                        () ->
                                FeatureSpecParser.parse(
                                        """
                name: s
                version: 1
                features:
                  - {name: a, kind: vector, field: a}
                """,
                                        "s.yaml"))
                .hasMessageContaining("needs its 'width'");
        assertThatThrownBy(
                        () ->
                                FeatureSpecParser.parse(
                                        """
                name: s
                version: 1
                features:
                  - {name: a, kind: text, field: a, transform: log1p}
                """,
                                        "s.yaml"))
                .hasMessageContaining("transform");
    }
}
