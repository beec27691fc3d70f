package org.streaminference.jobs.local;

import org.streaminference.schemas.InputEvent;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes plausible demo events from a seed: purchases, refunds and views of a fixed population of entities, with
 * an amount (always), a quantity (most of the time) and a country. Event times never go backwards per entity.
 */
public final class DemoEvents {
    private static final List<String> TYPES = List.of("purchase", "purchase", "purchase", "view", "refund");
    private static final List<String> COUNTRIES = List.of("NL", "DE", "FR", "US", "BR", "JP");

    private final Random random;
    private final int entities;
    private final String runId;
    private final AtomicLong sequence = new AtomicLong();

    /**
     * @param runId prefix of event ids, so runs against the same topics never reuse an id
     */
    public DemoEvents(long seed, int entities, String runId) {
        if (entities <= 0) {
            throw new IllegalArgumentException("entities must be positive");
        }
        this.random = new Random(seed);
        this.entities = entities;
        this.runId = runId;
    }

    public static String entityId(int index) {
        return String.format("entity-%05d", index);
    }

    /** The next event, at {@code eventTime}. */
    public synchronized InputEvent next(long eventTime) {
        long n = sequence.incrementAndGet();
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("amount", Math.round(Math.exp(3 + random.nextGaussian()) * 100) / 100.0);
        if (random.nextInt(10) < 8) {
            numeric.put("quantity", (double) (1 + random.nextInt(5)));
        }
        return InputEvent.newBuilder()
                .setEventId(runId + "-" + n)
                .setEntityId(entityId(random.nextInt(entities)))
                .setEventTime(eventTime)
                .setEventType(TYPES.get(random.nextInt(TYPES.size())))
                .setNumericFields(numeric)
                .setCategoricalFields(Map.of("country", COUNTRIES.get(random.nextInt(COUNTRIES.size()))))
                .build();
    }
}
