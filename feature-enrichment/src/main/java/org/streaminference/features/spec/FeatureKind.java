package org.streaminference.features.spec;

import org.streaminference.schemas.FeatureLayout.ValueType;

import org.apache.flink.annotation.PublicEvolving;

import java.util.Arrays;
import java.util.stream.Collectors;

/** What a feature computes; {@link #yamlName()} is how a feature spec names it in {@code kind:}. */
@PublicEvolving
public enum FeatureKind {
    /** A numeric field of the event or profile, with a default for missing values. */
    NUMERIC("numeric", false),
    /**
     * A categorical field as one value per vocabulary entry (1 for the entry it equals, else 0).
     */
    ONE_HOT("one-hot", false),
    /** A categorical field hashed into a fixed number of buckets, one value per bucket. */
    HASHED("hashed", false),
    COUNT("count", true),
    SUM("sum", true),
    MEAN("mean", true),
    MIN("min", true),
    MAX("max", true),
    /** Population standard deviation. */
    STDDEV("stddev", true),
    /**
     * Number of distinct values of a categorical field: exact up to 64 per bucket, HyperLogLog
     * beyond.
     */
    DISTINCT_COUNT("distinct-count", true),
    /** The field's value on the entity's most recent earlier event that carried it. */
    LAST("last", false),
    /** Seconds since the entity's most recent earlier event. */
    TIME_SINCE_PREVIOUS("time-since-previous", false),
    /** Exponentially decayed mean of a field in event time, with a half-life. */
    DECAYED_MEAN("decayed-mean", false),
    /**
     * An array field of the event ({@code vectorFields}) of a declared width, as one block of float
     * values.
     */
    VECTOR("vector", false),
    /** A numeric field as a whole number (int64): an id a model looks up in an embedding table. */
    INTEGER("integer", false),
    /** A categorical (string) field as it is: the text a tokenizer reads, or a string input. */
    TEXT("text", false);

    private final String yamlName;
    private final boolean windowed;

    FeatureKind(String yamlName, boolean windowed) {
        this.yamlName = yamlName;
        this.windowed = windowed;
    }

    public String yamlName() {
        return yamlName;
    }

    /**
     * Whether the kind aggregates over an event-time window (or the entity's lifetime when none is
     * given).
     */
    public boolean windowed() {
        return windowed;
    }

    /** Whether the kind reads a field (count may, but need not). */
    public boolean needsField() {
        return this != COUNT && this != TIME_SINCE_PREVIOUS;
    }

    /** Whether the kind reads a categorical (string) field rather than a numeric one. */
    public boolean categorical() {
        return this == ONE_HOT || this == HASHED || this == DISTINCT_COUNT || this == TEXT;
    }

    /** Whether the kind yields a single float that a transform and scaling may apply to. */
    public boolean scalar() {
        return this != ONE_HOT
                && this != HASHED
                && this != VECTOR
                && this != INTEGER
                && this != TEXT;
    }

    /**
     * The type of the values it gives, which decides the array of the enriched event they go to.
     */
    public ValueType valueType() {
        return switch (this) {
            case INTEGER -> ValueType.INT64;
            case TEXT -> ValueType.STRING;
            default -> ValueType.FLOAT;
        };
    }

    static FeatureKind ofYaml(String name) {
        for (FeatureKind kind : values()) {
            if (kind.yamlName.equals(name)) {
                return kind;
            }
        }
        return null;
    }

    static String allYamlNames() {
        return Arrays.stream(values()).map(FeatureKind::yamlName).collect(Collectors.joining(", "));
    }
}
