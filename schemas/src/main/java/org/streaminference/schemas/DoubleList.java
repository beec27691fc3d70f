package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;

import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * A {@code List<Double>} over a {@code double[]}: what the features put in an {@link
 * EnrichedEvent}'s {@code array<double>} so that an event's values are not boxed one by one (784
 * {@code Double}s for an image). Avro still writes it as an ordinary array wherever the record is
 * serialized (state, a network hop); the inference operator copies {@link #array()} into its input
 * buffer in one pass. Fixed size, not changed after it is made.
 */
@Internal
public final class DoubleList extends AbstractList<Double> implements RandomAccess {
    private final double[] values;

    /**
     * @param values not copied: the caller hands them over
     */
    public DoubleList(double[] values) {
        this.values = values;
    }

    /** The values themselves (not a copy): read only. */
    public double[] array() {
        return values;
    }

    @Override
    public Double get(int index) {
        return values[index];
    }

    @Override
    public int size() {
        return values.length;
    }
}
