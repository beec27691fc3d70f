package org.streaminference.features.state;

import org.streaminference.features.spec.FeatureDefinition;
import org.streaminference.features.spec.FeatureKind;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.FeatureProblem;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Computes a spec's feature vectors from per-entity state, one event at a time, and encodes that
 * state compactly. Pure Java, no Flink state: the Flink function around it decides lateness and
 * expiry and keeps the bytes.
 *
 * <p>Windowed aggregates of an event at time {@code t}, with window W sliding by S, cover the
 * entity's events counted so far (the event included) whose times fall in {@code [end - W, end)}
 * with {@code end} the end of the slide interval holding {@code t}: the trailing window as of the
 * event's bucket. Windows share buckets per (field, window, slide).
 */
@Internal
public final class FeatureEngine implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final byte FORMAT = 2;

    private final FeatureSpec spec;

    /**
     * Per feature: index of its window group, distinct group, decayed slot or last slot; -1 where
     * none.
     */
    private final int[] slot;

    private final List<Group> windowGroups = new ArrayList<>();
    private final List<Group> distinctGroups = new ArrayList<>();
    private final List<FeatureDefinition> decayed = new ArrayList<>();
    private final List<FeatureDefinition> lasts = new ArrayList<>();

    /**
     * Per window group: whether its features read sums, squares, extremes (only those are written
     * to state).
     */
    private final boolean[] readsSums;

    private final boolean[] readsSquares;
    private final boolean[] readsExtremes;
    private final int fingerprint;
    private final boolean keepsState;

    /**
     * The features carried beside the state: checked per event, and the integer and text ones read
     * out.
     */
    private final List<FeatureDefinition> vectorFeatures;

    private final List<FeatureDefinition> integerFeatures;
    private final List<FeatureDefinition> textFeatures;

    /**
     * Per feature: where its field's value is in the event's arrays ({@link
     * ValidatedEvent#numeric}, {@code categorical} or {@code vectors}, by the feature's kind, laid
     * out as {@link FeatureSpec#eventFields()} says); -1 for profile fields and features without a
     * field.
     */
    private final int[] eventIndex;

    /** The same for the window groups, distinct groups, decayed and last features. */
    private final int[] windowIndex;

    private final int[] distinctIndex;
    private final int[] decayedIndex;
    private final int[] lastIndex;

    /**
     * Where each vector feature's field is in {@code vectors}; each integer and text feature's
     * place in the spec.
     */
    private final int[] integerFeatureIndex;

    private final int[] textFeatureIndex;
    private transient double[] aggregate;
    private transient byte[] scratch;
    private transient DataOutputSerializer out;

    /** Buckets shared by every windowed feature over the same field, window and slide. */
    private record Group(String field, long window, long slide, int ringSize)
            implements Serializable {
        long bucket(long time) {
            return window == 0 ? 0 : Math.floorDiv(time, slide);
        }

        long firstBucket(long lastBucket) {
            return window == 0 ? 0 : lastBucket - window / slide + 1;
        }
    }

    public FeatureEngine(FeatureSpec spec) {
        this.spec = spec;
        this.fingerprint = spec.stateFingerprint();
        this.vectorFeatures = ofKind(spec, FeatureKind.VECTOR);
        this.integerFeatures = ofKind(spec, FeatureKind.INTEGER);
        this.textFeatures = ofKind(spec, FeatureKind.TEXT);
        List<FeatureDefinition> features = spec.features();
        slot = new int[features.size()];
        for (int i = 0; i < features.size(); i++) {
            FeatureDefinition f = features.get(i);
            slot[i] =
                    switch (f.kind()) {
                        case COUNT, SUM, MEAN, MIN, MAX, STDDEV -> group(windowGroups, f);
                        case DISTINCT_COUNT -> group(distinctGroups, f);
                        case DECAYED_MEAN -> add(decayed, f);
                        case LAST -> add(lasts, f);
                        default -> -1;
                    };
        }
        EventFields fields = spec.eventFields();
        integerFeatureIndex = integerFeatures.stream().mapToInt(features::indexOf).toArray();
        textFeatureIndex = textFeatures.stream().mapToInt(features::indexOf).toArray();
        eventIndex = new int[features.size()];
        for (int i = 0; i < features.size(); i++) {
            FeatureDefinition f = features.get(i);
            eventIndex[i] =
                    f.fromProfile() || f.field() == null
                            ? -1
                            : switch (f.kind()) {
                                case ONE_HOT, HASHED, DISTINCT_COUNT, TEXT ->
                                        fields.categorical().indexOf(f.field());
                                case VECTOR -> fields.vectors().indexOf(f.field());
                                default -> fields.numeric().indexOf(f.field());
                            };
        }
        windowIndex =
                windowGroups.stream()
                        .mapToInt(g -> g.field() == null ? -1 : fields.numeric().indexOf(g.field()))
                        .toArray();
        distinctIndex =
                distinctGroups.stream()
                        .mapToInt(g -> fields.categorical().indexOf(g.field()))
                        .toArray();
        decayedIndex =
                decayed.stream().mapToInt(f -> fields.numeric().indexOf(f.field())).toArray();
        lastIndex = lasts.stream().mapToInt(f -> fields.numeric().indexOf(f.field())).toArray();
        keepsState =
                !windowGroups.isEmpty()
                        || !distinctGroups.isEmpty()
                        || !decayed.isEmpty()
                        || !lasts.isEmpty()
                        || features.stream()
                                .anyMatch(f -> f.kind() == FeatureKind.TIME_SINCE_PREVIOUS);
        readsSums = new boolean[windowGroups.size()];
        readsSquares = new boolean[windowGroups.size()];
        readsExtremes = new boolean[windowGroups.size()];
        for (int i = 0; i < features.size(); i++) {
            switch (features.get(i).kind()) {
                case SUM, MEAN -> readsSums[slot[i]] = true;
                case STDDEV -> readsSquares[slot[i]] = true;
                case MIN, MAX -> readsExtremes[slot[i]] = true;
                default -> {}
            }
        }
    }

    private int group(List<Group> groups, FeatureDefinition f) {
        long window = f.windowMillis();
        long slide = f.slideMillis();
        int ring =
                window == 0
                        ? 1
                        : (int)
                                (window / slide
                                        + (spec.maxOutOfOrdernessMillis() + slide - 1) / slide
                                        + 1);
        Group g = new Group(f.field(), window, slide, ring);
        int i = groups.indexOf(g);
        if (i >= 0) {
            return i;
        }
        groups.add(g);
        return groups.size() - 1;
    }

    private static int add(List<FeatureDefinition> list, FeatureDefinition f) {
        list.add(f);
        return list.size() - 1;
    }

    public FeatureSpec spec() {
        return spec;
    }

    /**
     * Whether any feature reads the entity's past (windows, distinct counts, decayed means, last
     * values, time since the previous event); if none does, an event's vector is computed from the
     * event alone.
     */
    public boolean keepsState() {
        return keepsState;
    }

    /** State for an entity with no events yet. */
    public EntityFeatureState newState() {
        WindowBuckets[] windows = new WindowBuckets[windowGroups.size()];
        for (int i = 0; i < windows.length; i++) {
            windows[i] =
                    new WindowBuckets(
                            windowGroups.get(i).ringSize(),
                            readsSums[i],
                            readsSquares[i],
                            readsExtremes[i]);
        }
        DistinctBuckets[] distincts = new DistinctBuckets[distinctGroups.size()];
        for (int i = 0; i < distincts.length; i++) {
            distincts[i] = new DistinctBuckets(distinctGroups.get(i).ringSize());
        }
        return new EntityFeatureState(windows, distincts, decayed.size(), lasts.size());
    }

    /**
     * Counts the event at time {@code at} (its own time, or the entity's newest time for a late
     * event counted in the current window) and returns its feature vector.
     *
     * @param event the event, laid out as the spec's {@link FeatureSpec#eventFields()}, with its
     *     entity's profile or none
     */
    public double[] update(EntityFeatureState state, ValidatedEvent event, long at) {
        long previous = state.maxEventTime;
        long now = previous == Long.MIN_VALUE ? at : Math.max(previous, at);
        double[] lastBefore =
                updateLasts(
                        state, event, at); // values that describe the past, read before the event
        updateDecayed(state, event, previous, now, at);
        addToWindows(state, event, at);
        state.maxEventTime = now;
        return vector(state, event, at, previous, lastBefore);
    }

    /**
     * Keeps each 'last' field's newest value, and returns the values as they were before this
     * event.
     */
    private double[] updateLasts(EntityFeatureState state, ValidatedEvent event, long at) {
        double[] lastBefore = new double[lasts.size()];
        for (int i = 0; i < lasts.size(); i++) {
            FeatureDefinition f = lasts.get(i);
            lastBefore[i] =
                    state.lastTimes[i] == Long.MIN_VALUE
                            ? f.defaultOrZero()
                            : f.finish(state.lastValues[i]);
            double value = value(event, lastIndex[i]);
            if (!Double.isNaN(value) && at >= state.lastTimes[i]) {
                state.lastTimes[i] = at;
                state.lastValues[i] = value;
            }
        }
        return lastBefore;
    }

    /**
     * Decayed sums are kept as of the entity's newest time: decays them to {@code now}, then adds
     * the event.
     */
    private void updateDecayed(
            EntityFeatureState state, ValidatedEvent event, long previous, long now, long at) {
        for (int i = 0; i < decayed.size(); i++) {
            FeatureDefinition f = decayed.get(i);
            if (previous != Long.MIN_VALUE && now > previous) {
                double factor = Math.pow(2, -(double) (now - previous) / f.halfLifeMillis());
                state.decayedSums[i] *= factor;
                state.decayedWeights[i] *= factor;
            }
            double value = value(event, decayedIndex[i]);
            if (!Double.isNaN(value)) {
                double weight = Math.pow(2, -(double) (now - at) / f.halfLifeMillis());
                state.decayedSums[i] += value * weight;
                state.decayedWeights[i] += weight;
            }
        }
    }

    /** Adds the event to the bucket of its time in every window and distinct-count sketch. */
    private void addToWindows(EntityFeatureState state, ValidatedEvent event, long at) {
        for (int i = 0; i < windowGroups.size(); i++) {
            Group g = windowGroups.get(i);
            if (g.field() == null) {
                state.windows[i].add(g.bucket(at), Double.NaN);
            } else {
                double value = value(event, windowIndex[i]);
                if (!Double.isNaN(value)) {
                    state.windows[i].add(g.bucket(at), value);
                }
            }
        }
        for (int i = 0; i < distinctGroups.size(); i++) {
            Group g = distinctGroups.get(i);
            String value = distinctIndex[i] < 0 ? null : event.categorical[distinctIndex[i]];
            if (value != null) {
                state.distincts[i].add(g.bucket(at), FeatureHashing.hash64(value));
            }
        }
    }

    /** The feature vector of the event, in the spec's order, from the state that now holds it. */
    private double[] vector(
            EntityFeatureState state,
            ValidatedEvent event,
            long at,
            long previous,
            double[] lastBefore) {
        List<FeatureDefinition> features = spec.features();
        double[] vector = new double[spec.width()];
        int pos = 0;
        for (int i = 0; i < features.size(); i++) {
            FeatureDefinition f = features.get(i);
            switch (f.kind()) {
                case NUMERIC -> {
                    double value = numeric(i, f, event);
                    // a required value that is missing: NaN, and a problem of its group
                    // (problems())
                    vector[pos++] =
                            !Double.isNaN(value)
                                    ? f.finish(value)
                                    : f.requiresField() ? Double.NaN : f.defaultOrZero();
                }
                case ONE_HOT -> {
                    String value = categorical(i, f, event);
                    int index = value == null ? -1 : f.vocabulary().indexOf(value);
                    if (index >= 0) {
                        vector[pos + index] = 1;
                    }
                    pos += f.width();
                }
                case HASHED -> {
                    String value = categorical(i, f, event);
                    if (value != null) {
                        vector[pos + FeatureHashing.bucket(value, f.buckets())] = 1;
                    }
                    pos += f.width();
                }
                case COUNT, SUM, MEAN, MIN, MAX, STDDEV ->
                        vector[pos++] = windowed(state, f, slot[i], at);
                case DISTINCT_COUNT -> {
                    Group g = distinctGroups.get(slot[i]);
                    long last = g.bucket(at);
                    vector[pos++] =
                            f.finish(
                                    state.distincts[slot[i]].estimate(
                                            g.firstBucket(last), last, scratch()));
                }
                case LAST -> vector[pos++] = lastBefore[slot[i]];
                case TIME_SINCE_PREVIOUS ->
                        vector[pos++] =
                                previous == Long.MIN_VALUE
                                        ? f.defaultOrZero()
                                        : f.finish(Math.max(0, at - previous) / 1000.0);
                case DECAYED_MEAN -> {
                    double weight = state.decayedWeights[slot[i]];
                    vector[pos++] =
                            weight > 0
                                    ? f.finish(state.decayedSums[slot[i]] / weight)
                                    : f.defaultOrZero();
                }
                case VECTOR -> {
                    float[] values = event.vectors[eventIndex[i]];
                    if (values != null && values.length == f.width()) {
                        for (int v = 0; v < values.length; v++) {
                            vector[pos + v] = values[v];
                        }
                    } else { // missing (its default, else NaN) or of another width (NaN):
                        // problems() says which
                        Arrays.fill(
                                vector,
                                pos,
                                pos + f.width(),
                                values == null && f.defaultValue() != null
                                        ? f.defaultValue()
                                        : Double.NaN);
                    }
                    pos += f.width();
                }
                case INTEGER, TEXT -> {} // carried beside the vector: integers(), texts()
                default -> throw new IllegalStateException("unhandled kind " + f.kind());
            }
        }
        return vector;
    }

    /**
     * What is wrong with {@code event}'s values for features that need them, group by group: a
     * field a feature needs is missing ({@code MISSING_FIELD}), or a vector field has another width
     * or a value that is not finite, or an integer field is not a whole number ({@code
     * INVALID_FIELD}). Empty for most events. The event is still counted in its entity's state and
     * served by every model that reads none of these groups.
     */
    public List<FeatureProblem> problems(ValidatedEvent event) {
        List<FeatureProblem> problems = null;
        List<FeatureDefinition> features = spec.features();
        for (int i = 0; i < features.size(); i++) {
            FeatureDefinition f = features.get(i);
            String problem = null;
            ReasonCode reason = ReasonCode.MISSING_FIELD;
            switch (f.kind()) {
                case NUMERIC -> {
                    if (f.requiresField() && Double.isNaN(numeric(i, f, event))) {
                        problem = "numeric field '" + f.field() + "' is missing";
                    }
                }
                case INTEGER -> {
                    double value = numeric(i, f, event);
                    if (Double.isNaN(value)) {
                        problem =
                                f.requiresField()
                                        ? "numeric field '" + f.field() + "' is missing"
                                        : null;
                    } else if (value != Math.rint(value) || Math.abs(value) > MAX_EXACT_INTEGER) {
                        reason = ReasonCode.INVALID_FIELD;
                        problem =
                                "field '"
                                        + f.field()
                                        + "' of integer feature '"
                                        + f.name()
                                        + "' is "
                                        + value
                                        + ", not a whole number up to 2^53";
                    }
                }
                case TEXT -> {
                    if (f.requiresField() && categorical(i, f, event) == null) {
                        problem = "text field '" + f.field() + "' is missing";
                    }
                }
                case VECTOR -> {
                    float[] values = event.vectors[eventIndex[i]];
                    if (values == null) {
                        problem =
                                f.requiresField()
                                        ? "vector field '" + f.field() + "' is missing"
                                        : null;
                    } else if (values.length != f.width()) {
                        reason = ReasonCode.INVALID_FIELD;
                        problem =
                                "vector field '"
                                        + f.field()
                                        + "' has "
                                        + values.length
                                        + " values; feature '"
                                        + f.name()
                                        + "' takes "
                                        + f.width();
                    } else {
                        for (int v = 0; v < values.length && problem == null; v++) {
                            if (!Float.isFinite(values[v])) {
                                reason = ReasonCode.INVALID_FIELD;
                                problem =
                                        "vector field '"
                                                + f.field()
                                                + "' value "
                                                + v
                                                + " is "
                                                + values[v];
                            }
                        }
                    }
                }
                default -> {}
            }
            if (problem != null) {
                if (problems == null) {
                    problems = new ArrayList<>(2);
                }
                problems.add(new FeatureProblem(f.group(), reason, problem));
            }
        }
        return problems == null ? List.of() : problems;
    }

    private static List<FeatureDefinition> ofKind(FeatureSpec spec, FeatureKind kind) {
        return spec.features().stream().filter(f -> f.kind() == kind).toList();
    }

    /** Integers beyond 2^53 are not exact in the double an event field holds. */
    private static final double MAX_EXACT_INTEGER = 9007199254740992.0;

    /**
     * The spec's integer features of {@code event}, in spec order (the default where a field is
     * missing, 0 where a required one is: {@link #problems} names it).
     */
    public List<Long> integers(ValidatedEvent event) {
        if (integerFeatures.isEmpty()) {
            return List.of();
        }
        List<Long> out = new ArrayList<>(integerFeatures.size());
        for (int k = 0; k < integerFeatures.size(); k++) {
            FeatureDefinition f = integerFeatures.get(k);
            double value = numeric(integerFeatureIndex[k], f, event);
            out.add((long) (Double.isNaN(value) ? f.defaultOrZero() : value));
        }
        return out;
    }

    /**
     * The spec's text features of {@code event}, in spec order (the default where a field is
     * missing, empty where a required one is: {@link #problems} names it).
     */
    public List<String> texts(ValidatedEvent event) {
        if (textFeatures.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>(textFeatures.size());
        for (int k = 0; k < textFeatures.size(); k++) {
            FeatureDefinition f = textFeatures.get(k);
            String text = categorical(textFeatureIndex[k], f, event);
            out.add(text != null ? text : f.defaultText() != null ? f.defaultText() : "");
        }
        return out;
    }

    private double windowed(EntityFeatureState state, FeatureDefinition f, int group, long at) {
        Group g = windowGroups.get(group);
        long last = g.bucket(at);
        double[] a = aggregate();
        state.windows[group].aggregate(g.firstBucket(last), last, a);
        double count = a[0];
        if (f.kind() == FeatureKind.COUNT) {
            return f.finish(count);
        }
        if (f.kind() == FeatureKind.SUM) {
            return f.finish(a[1]);
        }
        if (count == 0) {
            return f.defaultOrZero();
        }
        double mean = a[1] / count;
        return switch (f.kind()) {
            case MEAN -> f.finish(mean);
            case MIN -> f.finish(a[3]);
            case MAX -> f.finish(a[4]);
            case STDDEV -> f.finish(Math.sqrt(Math.max(0, a[2] / count - mean * mean)));
            default -> throw new IllegalStateException("unhandled kind " + f.kind());
        };
    }

    /** The event's numeric value at {@code index}, NaN where it has none. */
    private static double value(ValidatedEvent event, int index) {
        return index < 0 ? Double.NaN : event.numeric[index];
    }

    /**
     * The value of feature {@code i}'s numeric field, from the event or its profile; NaN where
     * there is none.
     */
    private double numeric(int i, FeatureDefinition f, ValidatedEvent event) {
        if (!f.fromProfile()) {
            return value(event, eventIndex[i]);
        }
        Map<String, Double> fields =
                event.profile == null ? null : event.profile.getNumericFields();
        Double value = fields == null ? null : fields.get(f.field());
        return value == null ? Double.NaN : value;
    }

    /**
     * The value of feature {@code i}'s categorical field, from the event or its profile; null where
     * there is none.
     */
    private String categorical(int i, FeatureDefinition f, ValidatedEvent event) {
        if (!f.fromProfile()) {
            return eventIndex[i] < 0 ? null : event.categorical[eventIndex[i]];
        }
        Map<String, String> fields =
                event.profile == null ? null : event.profile.getCategoricalFields();
        return fields == null ? null : fields.get(f.field());
    }

    // ---------------------------------------------------------------------------------------------------------

    /**
     * The state as bytes: a format byte and the spec's state fingerprint, then only what is
     * non-empty.
     */
    public byte[] encode(EntityFeatureState state) throws IOException {
        if (out == null) {
            out = new DataOutputSerializer(256);
        }
        out.clear();
        out.writeByte(FORMAT);
        out.writeInt(fingerprint);
        out.writeLong(state.maxEventTime);
        out.writeLong(state.expiryTimer);
        for (WindowBuckets w : state.windows) {
            w.write(out);
        }
        for (DistinctBuckets d : state.distincts) {
            d.write(out);
        }
        for (int i = 0; i < state.decayedSums.length; i++) {
            out.writeDouble(state.decayedSums[i]);
            out.writeDouble(state.decayedWeights[i]);
        }
        for (int i = 0; i < state.lastTimes.length; i++) {
            out.writeLong(state.lastTimes[i]);
            out.writeDouble(state.lastValues[i]);
        }
        return out.getCopyOfBuffer();
    }

    /** The state in {@code bytes}, or null where they were written under another spec layout. */
    public EntityFeatureState decode(byte[] bytes) throws IOException {
        Objects.requireNonNull(bytes);
        DataInputDeserializer in = new DataInputDeserializer(bytes);
        if (in.readByte() != FORMAT || in.readInt() != fingerprint) {
            return null;
        }
        EntityFeatureState state = newState();
        state.maxEventTime = in.readLong();
        state.expiryTimer = in.readLong();
        for (WindowBuckets w : state.windows) {
            w.read(in);
        }
        for (DistinctBuckets d : state.distincts) {
            d.read(in);
        }
        for (int i = 0; i < state.decayedSums.length; i++) {
            state.decayedSums[i] = in.readDouble();
            state.decayedWeights[i] = in.readDouble();
        }
        for (int i = 0; i < state.lastTimes.length; i++) {
            state.lastTimes[i] = in.readLong();
            state.lastValues[i] = in.readDouble();
        }
        return state;
    }

    private double[] aggregate() {
        if (aggregate == null) {
            aggregate = new double[5];
        }
        return aggregate;
    }

    private byte[] scratch() {
        if (scratch == null) {
            scratch = new byte[DistinctBuckets.REGISTERS];
        }
        return scratch;
    }
}
