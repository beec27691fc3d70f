package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;

import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * A {@code List<Float>} over a {@code float[]}: what the features put in an {@link EnrichedEvent}'s
 * {@code array<float>} so that an event's values are not boxed one by one (784 {@code Float}s for an image). Avro
 * still writes it as an ordinary array wherever the record is serialized (state, a network hop); the inference
 * operator copies {@link #array()} into its input buffer in bulk. Fixed size, not changed after it is made.
 */
@Internal
public final class FloatList extends AbstractList<Float> implements RandomAccess {
    private final float[] values;

    /** @param values not copied: the caller hands them over */
    public FloatList(float[] values) {
        this.values = values;
    }

    /** The values themselves (not a copy): read only. */
    public float[] array() {
        return values;
    }

    @Override
    public Float get(int index) {
        return values[index];
    }

    @Override
    public int size() {
        return values.length;
    }
}
