package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One feature of a spec, as parsed and checked: what it computes, from which field, over which
 * window, and how its value is transformed. Immutable. {@link FeatureSpecParser} checks a spec's
 * features (with the spec's line in every message) before it builds them with {@link
 * #builder(String, FeatureKind)}; the builder checks only the invariants every feature has.
 */
@PublicEvolving
public final class FeatureDefinition implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String name;
    private final FeatureKind kind;
    private final boolean fromProfile;
    private final String field;
    private final Double defaultValue;
    private final String defaultText;
    private final List<String> vocabulary;
    private final int buckets;
    private final long windowMillis;
    private final long slideMillis;
    private final long halfLifeMillis;
    private final boolean log1p;
    private final double offset;
    private final double divisor;
    private final int line;
    private final String group;
    private final int vectorWidth;

    private FeatureDefinition(Builder b) {
        this.name = b.name;
        this.kind = b.kind;
        this.fromProfile = b.fromProfile;
        this.field = b.field;
        this.defaultValue = b.defaultValue;
        this.defaultText = b.defaultText;
        this.vocabulary = b.vocabulary == null ? List.of() : List.copyOf(b.vocabulary);
        this.buckets = b.buckets;
        this.windowMillis = b.windowMillis;
        this.slideMillis = b.slideMillis;
        this.halfLifeMillis = b.halfLifeMillis;
        this.log1p = b.log1p;
        this.offset = b.offset;
        this.divisor = b.divisor;
        this.line = b.line;
        this.group = b.group;
        this.vectorWidth = b.vectorWidth;
    }

    /**
     * A feature named {@code name} computing {@code kind}; the other fields keep their neutral
     * values.
     */
    public static Builder builder(String name, FeatureKind kind) {
        return new Builder(name, kind);
    }

    /** The feature's name, unique in its spec. */
    public String name() {
        return name;
    }

    /** What it computes. */
    public FeatureKind kind() {
        return kind;
    }

    /**
     * Whether {@code field} is read from the entity's profile (reference data) instead of the
     * event.
     */
    public boolean fromProfile() {
        return fromProfile;
    }

    /** The field it reads, or null (count of events, time since previous). */
    public String field() {
        return field;
    }

    /**
     * The value when there is nothing to compute from (missing field, no earlier event); a vector's
     * every value when its field is missing. Null on a numeric, integer or vector event field makes
     * the field required (by the models that read the feature's group).
     */
    public Double defaultValue() {
        return defaultValue;
    }

    /**
     * Text: the text when the field is missing; null makes the field required (by the models that
     * read it).
     */
    public String defaultText() {
        return defaultText;
    }

    /**
     * Whether an event must carry the field for this feature to have a value: an event field
     * without a default (a profile field takes its default until the profile arrives). A model that
     * reads the feature's group answers an event without it with a {@code MISSING_FIELD} dead
     * letter; the event still counts in its entity's state.
     */
    public boolean requiresField() {
        if (fromProfile || field == null) {
            return false;
        }
        return switch (kind) {
            case NUMERIC, INTEGER, VECTOR -> defaultValue == null;
            case TEXT -> defaultText == null;
            default -> false;
        };
    }

    /** One-hot: the values, in output order. */
    public List<String> vocabulary() {
        return vocabulary;
    }

    /** Hashed: the number of buckets. */
    public int buckets() {
        return buckets;
    }

    /** Windowed kinds: the window size, 0 for the entity's lifetime. */
    public long windowMillis() {
        return windowMillis;
    }

    /**
     * Windowed kinds: how often the window advances (the bucket width); equals the window when
     * tumbling.
     */
    public long slideMillis() {
        return slideMillis;
    }

    /** Decayed-mean: the half-life. */
    public long halfLifeMillis() {
        return halfLifeMillis;
    }

    /** Scalar kinds: apply {@code ln(1 + x)} first. */
    public boolean log1p() {
        return log1p;
    }

    /** Scalar kinds: subtracted after the transform. */
    public double offset() {
        return offset;
    }

    /** Scalar kinds: the result is divided by it. */
    public double divisor() {
        return divisor;
    }

    /** The input group its values belong to ({@code features} unless the spec names another). */
    public String group() {
        return group;
    }

    /** The spec line it was defined on, for messages. */
    public int line() {
        return line;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureDefinition f
                && name.equals(f.name)
                && kind == f.kind
                && fromProfile == f.fromProfile
                && Objects.equals(field, f.field)
                && Objects.equals(defaultValue, f.defaultValue)
                && Objects.equals(defaultText, f.defaultText)
                && vocabulary.equals(f.vocabulary)
                && buckets == f.buckets
                && windowMillis == f.windowMillis
                && slideMillis == f.slideMillis
                && halfLifeMillis == f.halfLifeMillis
                && log1p == f.log1p
                && Double.compare(offset, f.offset) == 0
                && Double.compare(divisor, f.divisor) == 0
                && line == f.line
                && group.equals(f.group)
                && vectorWidth == f.vectorWidth;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                name,
                kind,
                fromProfile,
                field,
                defaultValue,
                defaultText,
                vocabulary,
                buckets,
                windowMillis,
                slideMillis,
                halfLifeMillis,
                log1p,
                offset,
                divisor,
                line,
                group,
                vectorWidth);
    }

    @Override
    public String toString() {
        return "FeatureDefinition{"
                + name
                + ", "
                + kind
                + (field == null ? "" : ", field " + field)
                + (windowMillis > 0
                        ? ", window " + windowMillis + " ms, slide " + slideMillis + " ms"
                        : "")
                + ", line "
                + line
                + "}";
    }

    /**
     * How many values the feature contributes to the array of its {@link FeatureKind#valueType()}.
     */
    public int width() {
        return switch (kind) {
            case ONE_HOT -> vocabulary.size();
            case HASHED -> buckets;
            case VECTOR -> vectorWidth;
            default -> 1;
        };
    }

    /**
     * The names of the values it contributes: its name, or {@code name=value} / {@code
     * name#bucket}.
     */
    public List<String> valueNames() {
        if (kind == FeatureKind.ONE_HOT) {
            return vocabulary.stream().map(v -> name + "=" + v).toList();
        }
        if (kind == FeatureKind.HASHED || kind == FeatureKind.VECTOR) {
            List<String> names = new ArrayList<>(width());
            for (int i = 0; i < width(); i++) {
                names.add(
                        name
                                + (kind == FeatureKind.HASHED ? "#" : "[")
                                + i
                                + (kind == FeatureKind.HASHED ? "" : "]"));
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

    /**
     * Builds a {@link FeatureDefinition}; unset fields are neutral (no field, no window, no
     * transform).
     */
    @PublicEvolving
    public static final class Builder {
        private final String name;
        private final FeatureKind kind;
        private boolean fromProfile;
        private String field;
        private Double defaultValue;
        private String defaultText;
        private List<String> vocabulary;
        private int buckets;
        private long windowMillis;
        private long slideMillis;
        private long halfLifeMillis;
        private boolean log1p;
        private double offset;
        private double divisor = 1;
        private int line;
        private String group = "features";
        private int vectorWidth;

        private Builder(String name, FeatureKind kind) {
            this.name = name;
            this.kind = kind;
        }

        /** Reads {@code field}, from the entity's profile when {@code fromProfile}. */
        public Builder field(String field, boolean fromProfile) {
            this.field = field;
            this.fromProfile = fromProfile;
            return this;
        }

        public Builder defaultValue(Double defaultValue) {
            this.defaultValue = defaultValue;
            return this;
        }

        /** Text: the text when the field is missing. */
        public Builder defaultText(String defaultText) {
            this.defaultText = defaultText;
            return this;
        }

        public Builder vocabulary(List<String> vocabulary) {
            this.vocabulary = vocabulary;
            return this;
        }

        public Builder buckets(int buckets) {
            this.buckets = buckets;
            return this;
        }

        /**
         * A window of {@code windowMillis} (0: the entity's lifetime) advancing every {@code
         * slideMillis}.
         */
        public Builder window(long windowMillis, long slideMillis) {
            this.windowMillis = windowMillis;
            this.slideMillis = slideMillis;
            return this;
        }

        public Builder halfLifeMillis(long halfLifeMillis) {
            this.halfLifeMillis = halfLifeMillis;
            return this;
        }

        /**
         * The transform: {@code ln(1 + x)} first when {@code log1p}, then {@code (x - offset) /
         * divisor}.
         */
        public Builder transform(boolean log1p, double offset, double divisor) {
            this.log1p = log1p;
            this.offset = offset;
            this.divisor = divisor;
            return this;
        }

        /** The input group its values belong to. */
        public Builder group(String group) {
            this.group = group;
            return this;
        }

        /** Vector: how many values the array field holds. */
        public Builder vectorWidth(int vectorWidth) {
            this.vectorWidth = vectorWidth;
            return this;
        }

        public Builder line(int line) {
            this.line = line;
            return this;
        }

        public FeatureDefinition build() {
            Preconditions.checkNotNull(name, "name");
            Preconditions.checkNotNull(kind, "kind");
            Preconditions.checkArgument(divisor != 0, "divisor must not be 0");
            Preconditions.checkNotNull(group, "group");
            Preconditions.checkArgument(
                    defaultText == null || kind == FeatureKind.TEXT,
                    "only a text feature has a default text");
            Preconditions.checkArgument(
                    (kind == FeatureKind.VECTOR) == (vectorWidth > 0),
                    "a vector feature, and only it, has a positive width");
            Preconditions.checkArgument(
                    buckets >= 0 && windowMillis >= 0 && slideMillis >= 0 && halfLifeMillis >= 0,
                    "buckets and times must not be negative");
            return new FeatureDefinition(this);
        }
    }
}
