package org.streaminference.features;

import org.streaminference.schemas.InputEvent;

import java.util.List;

/**
 * The fixed feature vector of the walking skeleton, in the order of the demo model's input:
 * {@code [amount, quantity, event_count, mean_amount]}. Counts and means include the event itself. A declarative
 * feature spec replaces this class later.
 */
public final class SkeletonFeatures {
    /** Numeric field every event must carry. */
    public static final String AMOUNT = "amount";
    /** Optional numeric field; absent means 0. */
    public static final String QUANTITY = "quantity";

    public static final List<String> NAMES = List.of("amount", "quantity", "event_count", "mean_amount");
    public static final List<String> REQUIRED_NUMERIC_FIELDS = List.of(AMOUNT);
    /** The name and version model manifests use for these features ({@code featureSpec}). */
    public static final String SPEC = "skeleton:1";

    private SkeletonFeatures() {}

    /** The vector for {@code event}, given the entity's statistics after the event was counted. */
    public static float[] vector(InputEvent event, EntityStats statsIncludingEvent) {
        double amount = event.getNumericFields().get(AMOUNT);
        Double quantity = event.getNumericFields().get(QUANTITY);
        return new float[] {
            (float) amount,
            quantity == null ? 0f : quantity.floatValue(),
            (float) statsIncludingEvent.count,
            (float) statsIncludingEvent.mean()
        };
    }
}
