package org.streaminference.features;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class EntityFeatureFunctionTest {

    private static ValidatedEvent event(String entity, long offset, double amount, Double quantity) {
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("amount", amount);
        if (quantity != null) {
            numeric.put("quantity", quantity);
        }
        return ValidatedEvent.newBuilder()
                .setEvent(InputEvent.newBuilder()
                        .setEventId(entity + "-" + offset)
                        .setEntityId(entity)
                        .setEventTime(1_000 + offset)
                        .setEventType("purchase")
                        .setNumericFields(numeric)
                        .setCategoricalFields(Map.of())
                        .build())
                .setSource(new SourcePosition("events", 0, offset))
                .build();
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, ValidatedEvent, EnrichedEvent> harness()
            throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new EntityFeatureFunction()),
                e -> e.getEvent().getEntityId(),
                Types.STRING);
    }

    private static List<Float> featuresOf(KeyedOneInputStreamOperatorTestHarness<?, ?, EnrichedEvent> h, int i) {
        return h.extractOutputValues().get(i).getFeatures();
    }

    @Test
    void countsAndMeansArePerEntityAndIncludeTheEvent() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(event("a", 0, 10.0, 2.0), 0);
            h.processElement(event("b", 1, 100.0, null), 0);
            h.processElement(event("a", 2, 20.0, null), 0);
            h.processElement(event("a", 3, 60.0, 1.5), 0);

            assertThat(featuresOf(h, 0)).containsExactly(10f, 2f, 1f, 10f);
            assertThat(featuresOf(h, 1)).containsExactly(100f, 0f, 1f, 100f);
            assertThat(featuresOf(h, 2)).containsExactly(20f, 0f, 2f, 15f);
            assertThat(featuresOf(h, 3)).containsExactly(60f, 1.5f, 3f, 30f);
            assertThat(h.extractOutputValues().get(3).getSource().getOffset()).isEqualTo(3L);
        }
    }

    @Test
    void statisticsSurviveSnapshotAndRestore() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            h.processElement(event("a", 0, 10.0, null), 0);
            h.processElement(event("a", 1, 30.0, null), 0);
            snapshot = h.snapshot(1L, 1L);
        }
        try (var restored = harness()) {
            restored.initializeState(snapshot);
            restored.open();
            restored.processElement(event("a", 2, 50.0, null), 0);
            assertThat(featuresOf(restored, 0)).containsExactly(50f, 0f, 3f, 30f);
        }
    }
}
