package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * One feature of a spec, as parsed and checked: what it computes, from which field, over which window, and how its
 * value is transformed. Immutable; {@link FeatureSpecParser} is the one way to make a valid one.
 *
 * @param name         the feature's name, unique in its spec
 * @param kind         what it computes
 * @param fromProfile  whether {@code field} is read from the entity's profile (reference data) instead of the event
 * @param field        the field it reads, or null (count of events, time since previous)
 * @param defaultValue the value when there is nothing to compute from (missing field, no earlier event); null on a
 *                     numeric event field makes the field required
 * @param vocabulary   one-hot: the values, in output order
 * @param buckets      hashed: the number of buckets
 * @param windowMillis windowed kinds: the window size, 0 for the entity's lifetime
 * @param slideMillis  windowed kinds: how often the window advances (the bucket width); equals the window when tumbling
 * @param halfLifeMillis decayed-mean: the half-life
 * @param log1p        scalar kinds: apply {@code ln(1 + x)} first
 * @param offset       scalar kinds: subtracted after the transform
 * @param divisor      scalar kinds: the result is divided by it
 * @param line         the spec line it was defined on, for messages
 */
@PublicEvolving
public record FeatureDefinition(
        String name,
        FeatureKind kind,
        boolean fromProfile,
        String field,
        Double defaultValue,
        List<String> vocabulary,
        int buckets,
        long windowMillis,
        long slideMillis,
        long halfLifeMillis,
        boolean log1p,
        double offset,
        double divisor,
        int line) implements Serializable {

    public FeatureDefinition {
        vocabulary = vocabulary == null ? List.of() : List.copyOf(vocabulary);
    }

    /** How many values the feature contributes to the vector. */
    public int width() {
        return switch (kind) {
            case ONE_HOT -> vocabulary.size();
            case HASHED -> buckets;
            default -> 1;
        };
    }

    /** The names of the values it contributes: its name, or {@code name=value} / {@code name#bucket}. */
    public List<String> valueNames() {
        if (kind == FeatureKind.ONE_HOT) {
            return vocabulary.stream().map(v -> name + "=" + v).toList();
        }
        if (kind == FeatureKind.HASHED) {
            List<String> names = new ArrayList<>(buckets);
            for (int i = 0; i < buckets; i++) {
                names.add(name + "#" + i);
            }
            return names;
        }
        return List.of(name);
    }

    public boolean lifetime() {
        return kind.windowed() && windowMillis == 0;
    }

    /** The value when there is nothing to compute from. */
    public double defaultOrZero() {
        return defaultValue == null ? 0.0 : defaultValue;
    }

    /** Applies the transform and scaling. */
    public double finish(double value) {
        double v = log1p ? Math.log1p(value) : value;
        return (v - offset) / divisor;
    }
}
