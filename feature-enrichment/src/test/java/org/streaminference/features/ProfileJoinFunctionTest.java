package org.streaminference.features;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ProfileJoinFunctionTest {

    @Test
    void eventsCarryTheirEntitysLatestProfileUntilATombstoneRemovesIt() throws Exception {
        try (var h =
                ProcessFunctionTestHarnesses.forKeyedCoProcessFunction(
                        new ProfileJoinFunction(),
                        (ValidatedEvent v) -> v.entityId,
                        (ProfileUpdate p) -> p.entityId,
                        Types.STRING)) {
            h.processElement1(event("a", "1"), 1);
            h.processElement2(new ProfileUpdate("a", profile("a", 1)), 2);
            h.processElement1(event("a", "2"), 3);
            h.processElement1(event("b", "3"), 4);
            h.processElement2(new ProfileUpdate("a", profile("a", 2)), 5);
            h.processElement1(event("a", "4"), 6);
            h.processElement2(new ProfileUpdate("a", null), 7);
            h.processElement1(event("a", "5"), 8);

            List<ValidatedEvent> out = h.extractOutputValues();
            assertThat(out).extracting(v -> v.eventId).containsExactly("1", "2", "3", "4", "5");
            assertThat(out)
                    .extracting(
                            v ->
                                    v.getProfile() == null
                                            ? null
                                            : v.getProfile().getNumericFields().get("tier"))
                    .containsExactly(null, 1.0, null, 2.0, null);
        }
    }

    private static ValidatedEvent event(String entity, String id) {
        return FeatureTestEvents.validated(
                InputEvent.newBuilder()
                        .setEventId(id)
                        .setEntityId(entity)
                        .setEventTime(0)
                        .setEventType("t")
                        .build(),
                EventFields.numeric(List.of()),
                0,
                null);
    }

    private static EntityProfile profile(String entity, double tier) {
        return EntityProfile.newBuilder()
                .setEntityId(entity)
                .setNumericFields(Map.of("tier", tier))
                .build();
    }
}
