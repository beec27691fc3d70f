package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The event fields a feature spec reads, by what it reads them as: numbers, categories (text) and
 * arrays of numbers. A decoder of the user's own events reads these and skips the rest. None is
 * required of every event: a field a feature needs (no default) is required only by the models that
 * read that feature's group, which the inference operator checks for each model an event reaches.
 *
 * @param numeric every numeric field read
 * @param categorical fields read as text
 * @param vectors fields read as arrays of numbers
 */
@PublicEvolving
public record EventFields(List<String> numeric, List<String> categorical, List<String> vectors)
        implements Serializable {

    public EventFields {
        numeric = List.copyOf(numeric);
        categorical = List.copyOf(categorical);
        vectors = List.copyOf(vectors);
    }

    /** Numeric fields only: the fields of a spec of plain numeric inputs. */
    public static EventFields numeric(List<String> fields) {
        return new EventFields(fields, List.of(), List.of());
    }

    /** Every field read, of any kind, in the order numeric, categorical, vector. */
    public Set<String> all() {
        Set<String> all = new LinkedHashSet<>(numeric);
        all.addAll(categorical);
        all.addAll(vectors);
        return all;
    }
}
