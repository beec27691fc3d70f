package org.streaminference.features;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded event streams that exercise what makes features hard: window boundaries crossed by small
 * and large gaps, events out of order within the bound, events later than it, missing fields and
 * unseen categories.
 */
final class FeatureTestEvents {
    static final long T0 = 1_760_000_000_000L;
    static final List<String> CATEGORIES =
            List.of("a", "b", "c", "d", "a", "a", "b", "rare-1", "rare-2");

    private FeatureTestEvents() {}

    /**
     * @param boundMillis the spec's out-of-orderness bound: about 1 in 10 events is out of order
     *     within it, 1 in 25 later than it
     */
    static List<InputEvent> stream(long seed, int entities, int count, long boundMillis) {
        Random random = new Random(seed);
        Map<Integer, Long> clock = new HashMap<>();
        List<InputEvent> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int entity = random.nextInt(entities);
            long newest = clock.getOrDefault(entity, T0 + random.nextInt(3_600_000));
            long time;
            int roll = random.nextInt(100);
            if (roll < 10) {
                time =
                        newest
                                - random.nextInt(
                                        (int) Math.max(1, boundMillis)); // out of order, in time
            } else if (roll < 14) {
                time = newest - boundMillis - 1 - random.nextInt(3_600_000); // late
            } else {
                long gap =
                        roll < 80
                                ? random.nextInt(120_000)
                                : roll < 95
                                        ? random.nextInt(1_800_000)
                                        : random.nextInt(4 * 3_600_000);
                time = newest + gap;
                clock.put(entity, time);
            }
            Map<String, Double> numeric = new HashMap<>();
            numeric.put("amount", Math.round(Math.exp(3 + random.nextGaussian()) * 100) / 100.0);
            if (random.nextInt(4) > 0) {
                numeric.put("x", random.nextGaussian() * 10);
            }
            Map<String, String> categorical = new HashMap<>();
            if (random.nextInt(5) > 0) {
                categorical.put("c", CATEGORIES.get(random.nextInt(CATEGORIES.size())));
            }
            events.add(
                    InputEvent.newBuilder()
                            .setEventId("ev-" + seed + "-" + i)
                            .setEntityId("entity-" + entity)
                            .setEventTime(time)
                            .setEventType("t")
                            .setNumericFields(numeric)
                            .setCategoricalFields(categorical)
                            .build());
        }
        return events;
    }

    /**
     * Profiles for some of the entities (entities without one get the profile features' defaults).
     */
    static Map<String, EntityProfile> profiles(int entities) {
        Map<String, EntityProfile> profiles = new HashMap<>();
        for (int e = 0; e < entities; e += 2) {
            profiles.put(
                    "entity-" + e,
                    EntityProfile.newBuilder()
                            .setEntityId("entity-" + e)
                            .setNumericFields(Map.of("tier", (double) (e % 3)))
                            .setCategoricalFields(
                                    Map.of("segment", e % 4 == 0 ? "retail" : "business"))
                            .build());
        }
        return profiles;
    }

    /**
     * {@code event} as validation passes it on: the values {@code fields} names, with its source
     * and profile.
     */
    static ValidatedEvent validated(
            InputEvent event, EventFields fields, long offset, EntityProfile profile) {
        ValidatedEvent validated = ValidatedEvent.of(event, fields);
        validated.source = new SourcePosition("events", 0, offset, null, null);
        validated.profile = profile;
        return validated;
    }
}
