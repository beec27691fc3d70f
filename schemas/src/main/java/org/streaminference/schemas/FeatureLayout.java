package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Where each named group of a feature spec's values is in an enriched event: a group of FLOAT
 * values indexes the event's float features, an INT64 group its integer features, a STRING group
 * its text features. A model input names the group that feeds it; this is how the inference
 * operator finds the group's values.
 */
@PublicEvolving
public final class FeatureLayout implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The type of a group's values, which decides the enriched event's array they are in. */
    public enum ValueType {
        FLOAT,
        INT64,
        STRING
    }

    /** The group every feature belongs to unless its spec names another. */
    public static final String DEFAULT_GROUP = "features";

    /**
     * One group: its values' type and their positions in the event's array of that type, in the
     * order the input takes them.
     */
    public record Group(String name, ValueType type, int[] indices) implements Serializable {
        public Group {
            Objects.requireNonNull(type, "type");
            indices = indices.clone();
        }

        public int width() {
            return indices.length;
        }

        /** Whether the group is the whole array in order, so it can be copied as one block. */
        public boolean isWhole(int arrayLength) {
            if (indices.length != arrayLength) {
                return false;
            }
            for (int i = 0; i < indices.length; i++) {
                if (indices[i] != i) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Group g
                    && name.equals(g.name)
                    && type == g.type
                    && Arrays.equals(indices, g.indices);
        }

        @Override
        public int hashCode() {
            return Objects.hash(name, type, Arrays.hashCode(indices));
        }
    }

    private final Map<String, Group> groups;

    public FeatureLayout(Iterable<Group> groups) {
        Map<String, Group> byName = new LinkedHashMap<>();
        for (Group g : groups) {
            if (byName.put(g.name(), g) != null) {
                throw new IllegalArgumentException(
                        "feature group '" + g.name() + "' is declared twice");
            }
        }
        this.groups = Collections.unmodifiableMap(byName);
    }

    /** A layout of one FLOAT group, {@link #DEFAULT_GROUP}, of {@code width} values. */
    public static FeatureLayout floats(int width) {
        return new FeatureLayout(
                List.of(
                        new Group(
                                DEFAULT_GROUP,
                                ValueType.FLOAT,
                                IntStream.range(0, width).toArray())));
    }

    /**
     * Values of {@code type} an enriched event carries under this layout: one past the largest
     * index of its groups.
     */
    public int width(ValueType type) {
        int width = 0;
        for (Group g : groups.values()) {
            if (g.type() == type) {
                for (int index : g.indices()) {
                    width = Math.max(width, index + 1);
                }
            }
        }
        return width;
    }

    /** The group named {@code name}, or null. */
    public Group group(String name) {
        return groups.get(name);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureLayout l && groups.equals(l.groups);
    }

    @Override
    public int hashCode() {
        return groups.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        groups.values()
                .forEach(
                        g ->
                                s.append(s.length() == 0 ? "" : ", ")
                                        .append(g.name())
                                        .append(':')
                                        .append(g.type())
                                        .append('[')
                                        .append(g.width())
                                        .append(']'));
        return s.toString();
    }
}
