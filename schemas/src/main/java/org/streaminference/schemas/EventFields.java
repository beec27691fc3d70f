package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The event fields a feature spec reads, by what it reads them as: numbers, categories (text) and arrays of numbers.
 * A decoder of the user's own events reads these and skips the rest; validation requires {@code requiredNumeric}.
 *
 * @param requiredNumeric numeric fields without a default: an event without one is invalid
 * @param numeric         every numeric field read (required ones included)
 * @param categorical     fields read as text
 * @param vectors         fields read as arrays of numbers
 */
@PublicEvolving
public record EventFields(List<String> requiredNumeric, List<String> numeric, List<String> categorical,
        List<String> vectors) implements Serializable {

    public EventFields {
        requiredNumeric = List.copyOf(requiredNumeric);
        numeric = List.copyOf(numeric);
        categorical = List.copyOf(categorical);
        vectors = List.copyOf(vectors);
    }

    /** Numeric fields only, every one required: the fields of a spec of plain numeric inputs. */
    public static EventFields numeric(List<String> required) {
        return new EventFields(required, required, List.of(), List.of());
    }

    /** Every field read, of any kind, in the order numeric, categorical, vector. */
    public Set<String> all() {
        Set<String> all = new LinkedHashSet<>(numeric);
        all.addAll(categorical);
        all.addAll(vectors);
        return all;
    }
}
