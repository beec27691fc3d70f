package org.streaminference.features;

import org.streaminference.features.spec.FeatureDefinition;
import org.streaminference.features.spec.FeatureKind;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.LateEventPolicy;
import org.streaminference.features.state.FeatureHashing;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.InputEvent;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The spec's features computed the plain way, to check the job against: per entity, the list of
 * every event counted so far, scanned in full for each new event. No buckets, no sketches, no state
 * encoding. Distinct counts are exact here (the job's are approximate).
 */
public final class ReferenceFeatures {
    private final FeatureSpec spec;
    private final Map<String, List<Counted>> counted = new HashMap<>();

    private record Counted(long time, InputEvent event) {}

    public ReferenceFeatures(FeatureSpec spec) {
        this.spec = spec;
    }

    /**
     * Feature vectors of events in arrival order (per entity that is partition order); null for a
     * late dead letter.
     */
    public static Map<String, double[]> compute(
            FeatureSpec spec, List<InputEvent> arrivalOrder, Map<String, EntityProfile> profiles) {
        ReferenceFeatures reference = new ReferenceFeatures(spec);
        Map<String, double[]> byEventId = new HashMap<>();
        for (InputEvent e : arrivalOrder) {
            byEventId.put(e.getEventId(), reference.next(e, profiles.get(e.getEntityId())));
        }
        return byEventId;
    }

    /** Whether a feature reads the entity's earlier events: only then is an event late. */
    private boolean readsThePast() {
        return spec.features().stream()
                .anyMatch(
                        f ->
                                switch (f.kind()) {
                                    case COUNT,
                                            SUM,
                                            MEAN,
                                            MIN,
                                            MAX,
                                            STDDEV,
                                            DISTINCT_COUNT,
                                            DECAYED_MEAN,
                                            LAST,
                                            TIME_SINCE_PREVIOUS ->
                                            true;
                                    default -> false;
                                });
    }

    /** The vector of the next arriving event, or null where the spec dead-letters it as late. */
    public double[] next(InputEvent event, EntityProfile profile) {
        List<Counted> seen = counted.computeIfAbsent(event.getEntityId(), k -> new ArrayList<>());
        long t = event.getEventTime();
        long max = seen.stream().mapToLong(Counted::time).max().orElse(Long.MIN_VALUE);
        if (!seen.isEmpty() && t - max >= spec.entityTtlMillis()) {
            seen.clear(); // idle past the TTL: starts fresh
            max = Long.MIN_VALUE;
        }
        long at = t;
        if (!seen.isEmpty() && t < max - spec.maxOutOfOrdernessMillis() && readsThePast()) {
            if (spec.lateEvents() == LateEventPolicy.DEAD_LETTER) {
                return null;
            }
            at = max;
        }
        List<Counted> before = List.copyOf(seen);
        seen.add(new Counted(at, event));

        double[] vector = new double[spec.width()];
        int pos = 0;
        for (FeatureDefinition f : spec.features()) {
            switch (f.kind()) {
                case NUMERIC -> {
                    Double v =
                            (f.fromProfile() ? profileNumeric(profile) : event.getNumericFields())
                                    .get(f.field());
                    // a required value that is missing: NaN (the models that read it answer with a
                    // dead letter)
                    vector[pos++] =
                            v != null
                                    ? f.finish(v)
                                    : f.requiresField() ? Double.NaN : f.defaultOrZero();
                }
                case ONE_HOT -> {
                    String v =
                            (f.fromProfile()
                                            ? profileCategorical(profile)
                                            : event.getCategoricalFields())
                                    .get(f.field());
                    for (int i = 0; i < f.vocabulary().size(); i++) {
                        vector[pos + i] = f.vocabulary().get(i).equals(v) ? 1 : 0;
                    }
                    pos += f.width();
                }
                case HASHED -> {
                    String v =
                            (f.fromProfile()
                                            ? profileCategorical(profile)
                                            : event.getCategoricalFields())
                                    .get(f.field());
                    if (v != null) {
                        vector[pos + FeatureHashing.bucket(v, f.buckets())] = 1;
                    }
                    pos += f.width();
                }
                case COUNT, SUM, MEAN, MIN, MAX, STDDEV, DISTINCT_COUNT ->
                        vector[pos++] = windowed(f, seen, at);
                case LAST -> {
                    Counted latest = null;
                    for (Counted c : before) {
                        if (c.event().getNumericFields().containsKey(f.field())
                                && (latest == null || c.time() >= latest.time())) {
                            latest = c;
                        }
                    }
                    vector[pos++] =
                            latest == null
                                    ? f.defaultOrZero()
                                    : f.finish(latest.event().getNumericFields().get(f.field()));
                }
                case TIME_SINCE_PREVIOUS -> {
                    long previous =
                            before.stream().mapToLong(Counted::time).max().orElse(Long.MIN_VALUE);
                    vector[pos++] =
                            before.isEmpty()
                                    ? f.defaultOrZero()
                                    : f.finish(Math.max(0, at - previous) / 1000.0);
                }
                case DECAYED_MEAN -> {
                    long now = seen.stream().mapToLong(Counted::time).max().orElseThrow();
                    double sum = 0;
                    double weight = 0;
                    for (Counted c : seen) {
                        Double v = c.event().getNumericFields().get(f.field());
                        if (v != null) {
                            double w = Math.pow(2, -(double) (now - c.time()) / f.halfLifeMillis());
                            sum += v * w;
                            weight += w;
                        }
                    }
                    vector[pos++] = weight > 0 ? f.finish(sum / weight) : f.defaultOrZero();
                }
                case VECTOR -> {
                    List<Float> values = event.getVectorFields().get(f.field());
                    for (int i = 0; i < f.width(); i++) {
                        vector[pos + i] =
                                values != null && values.size() == f.width()
                                        ? values.get(i)
                                        : values == null && f.defaultValue() != null
                                                ? f.defaultValue()
                                                : Double.NaN;
                    }
                    pos += f.width();
                }
                default -> throw new IllegalStateException("unhandled kind " + f.kind());
            }
        }
        return vector;
    }

    /**
     * Over the counted events in the window of size W ending at the end of the slide holding {@code
     * at}.
     */
    private static double windowed(FeatureDefinition f, List<Counted> seen, long at) {
        long end =
                Math.floorDiv(at, f.slideMillis() == 0 ? 1 : f.slideMillis()) * f.slideMillis()
                        + f.slideMillis();
        List<Double> values = new ArrayList<>();
        Set<String> distinct = new HashSet<>();
        long events = 0;
        for (Counted c : seen) {
            boolean inWindow =
                    f.lifetime() || (c.time() >= end - f.windowMillis() && c.time() < end);
            if (!inWindow) {
                continue;
            }
            if (f.kind() == FeatureKind.DISTINCT_COUNT) {
                String v = c.event().getCategoricalFields().get(f.field());
                if (v != null) {
                    distinct.add(v);
                }
            } else if (f.field() == null) {
                events++;
            } else if (c.event().getNumericFields().containsKey(f.field())) {
                values.add(c.event().getNumericFields().get(f.field()));
                events++;
            }
        }
        double sum = values.stream().mapToDouble(Double::doubleValue).sum();
        return switch (f.kind()) {
            case COUNT -> f.finish(events);
            case SUM -> f.finish(sum);
            case DISTINCT_COUNT -> f.finish(distinct.size());
            default -> {
                if (values.isEmpty()) {
                    yield f.defaultOrZero();
                }
                double mean = sum / values.size();
                yield switch (f.kind()) {
                    case MEAN -> f.finish(mean);
                    case MIN ->
                            f.finish(
                                    values.stream()
                                            .mapToDouble(Double::doubleValue)
                                            .min()
                                            .orElseThrow());
                    case MAX ->
                            f.finish(
                                    values.stream()
                                            .mapToDouble(Double::doubleValue)
                                            .max()
                                            .orElseThrow());
                    case STDDEV ->
                            f.finish(
                                    Math.sqrt(
                                            values.stream()
                                                            .mapToDouble(
                                                                    v -> (v - mean) * (v - mean))
                                                            .sum()
                                                    / values.size()));
                    default -> throw new IllegalStateException();
                };
            }
        };
    }

    private static Map<String, Double> profileNumeric(EntityProfile profile) {
        return profile == null ? Map.of() : profile.getNumericFields();
    }

    private static Map<String, String> profileCategorical(EntityProfile profile) {
        return profile == null ? Map.of() : profile.getCategoricalFields();
    }
}
