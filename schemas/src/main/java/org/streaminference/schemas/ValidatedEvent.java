package org.streaminference.schemas;

import org.streaminference.schemas.typeutils.ValidatedEventTypeInfo;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInfo;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An event that decoded and passed validation, as it travels from validation to the features: its
 * ids, time and type, where it was read, and only the values the feature spec reads, as primitives
 * and arrays in the order of the spec's {@link EventFields}. Not the event's map of every field:
 * for wide events (an image's 784 values) moving that map was most of the job's CPU. Flink
 * serializes it across the {@code keyBy} with {@link
 * org.streaminference.schemas.typeutils.ValidatedEventSerializer}, which writes the arrays in bulk
 * (never Kryo). It does not live in state.
 */
@Internal
@TypeInfo(ValidatedEventTypeInfo.Factory.class)
public final class ValidatedEvent {
    public String eventId;
    public String entityId;

    /** Epoch milliseconds UTC. */
    public long eventTime;

    public String eventType;
    public SourcePosition source;

    /** The entity's latest profile from reference data when the event was enriched, or null. */
    public EntityProfile profile;

    /**
     * The values of {@link EventFields#numeric()}, in its order; NaN where the event has none (read
     * values are finite).
     */
    public double[] numeric;

    /**
     * The values of {@link EventFields#categorical()}, in its order; null where the event has none.
     */
    public String[] categorical;

    /** The values of {@link EventFields#vectors()}, in its order; null where the event has none. */
    public float[][] vectors;

    /** An event with no values yet, for the serializer. */
    public ValidatedEvent() {}

    public ValidatedEvent(
            String eventId,
            String entityId,
            long eventTime,
            String eventType,
            double[] numeric,
            String[] categorical,
            float[][] vectors) {
        this.eventId = eventId;
        this.entityId = entityId;
        this.eventTime = eventTime;
        this.eventType = eventType;
        this.numeric = numeric;
        this.categorical = categorical;
        this.vectors = vectors;
    }

    /** The values of {@code event} that {@code fields} names (the envelope's maps, read once). */
    public static ValidatedEvent of(InputEvent event, EventFields fields) {
        double[] numeric = new double[fields.numeric().size()];
        for (int i = 0; i < numeric.length; i++) {
            Double v = event.getNumericFields().get(fields.numeric().get(i));
            numeric[i] = v == null ? Double.NaN : v;
        }
        String[] categorical = new String[fields.categorical().size()];
        for (int i = 0; i < categorical.length; i++) {
            categorical[i] = event.getCategoricalFields().get(fields.categorical().get(i));
        }
        float[][] vectors = new float[fields.vectors().size()][];
        for (int i = 0; i < vectors.length; i++) {
            List<Float> v = event.getVectorFields().get(fields.vectors().get(i));
            if (v != null) {
                vectors[i] = new float[v.size()];
                for (int j = 0; j < vectors[i].length; j++) {
                    Float f = v.get(j);
                    vectors[i][j] = f == null ? Float.NaN : f;
                }
            }
        }
        return new ValidatedEvent(
                event.getEventId(),
                event.getEntityId(),
                event.getEventTime(),
                event.getEventType(),
                numeric,
                categorical,
                vectors);
    }

    /**
     * The values this event carries, named by {@code fields} (the layout it was decoded with), as
     * the envelope: what a dead letter of a later stage repeats. Only on failures: it builds the
     * maps this class exists to avoid.
     */
    public InputEvent toInputEvent(EventFields fields) {
        Map<String, Double> numericFields = new LinkedHashMap<>();
        for (int i = 0; numeric != null && i < numeric.length; i++) {
            if (!Double.isNaN(numeric[i])) {
                numericFields.put(fields.numeric().get(i), numeric[i]);
            }
        }
        return new InputEvent(
                eventId,
                entityId,
                eventTime,
                eventType,
                numericFields,
                categoricalFields(fields),
                vectorFields(fields));
    }

    /** The categorical values by field name (serving-plan routes match them). */
    public Map<String, String> categoricalFields(EventFields fields) {
        if (categorical == null || categorical.length == 0) {
            return Map.of();
        }
        Map<String, String> named = new LinkedHashMap<>();
        for (int i = 0; i < categorical.length; i++) {
            if (categorical[i] != null) {
                named.put(fields.categorical().get(i), categorical[i]);
            }
        }
        return named;
    }

    private Map<String, List<Float>> vectorFields(EventFields fields) {
        Map<String, List<Float>> named = new LinkedHashMap<>();
        for (int i = 0; vectors != null && i < vectors.length; i++) {
            if (vectors[i] != null) {
                Float[] boxed = new Float[vectors[i].length];
                for (int j = 0; j < boxed.length; j++) {
                    boxed[j] = vectors[i][j];
                }
                named.put(fields.vectors().get(i), List.of(boxed));
            }
        }
        return named;
    }

    /**
     * This event with {@code profile}: a copy, so the event another operator holds is never changed
     * under it.
     */
    public ValidatedEvent withProfile(EntityProfile profile) {
        ValidatedEvent copy =
                new ValidatedEvent(
                        eventId, entityId, eventTime, eventType, numeric, categorical, vectors);
        copy.source = source;
        copy.profile = profile;
        return copy;
    }

    public String getEventId() {
        return eventId;
    }

    public String getEntityId() {
        return entityId;
    }

    public long getEventTime() {
        return eventTime;
    }

    public String getEventType() {
        return eventType;
    }

    public SourcePosition getSource() {
        return source;
    }

    public EntityProfile getProfile() {
        return profile;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ValidatedEvent other
                && eventTime == other.eventTime
                && Objects.equals(eventId, other.eventId)
                && Objects.equals(entityId, other.entityId)
                && Objects.equals(eventType, other.eventType)
                && Objects.equals(source, other.source)
                && Objects.equals(profile, other.profile)
                && Arrays.equals(numeric, other.numeric)
                && Arrays.equals(categorical, other.categorical)
                && Arrays.deepEquals(vectors, other.vectors);
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                eventId,
                entityId,
                eventTime,
                eventType,
                source,
                profile,
                Arrays.hashCode(numeric),
                Arrays.hashCode(categorical),
                Arrays.deepHashCode(vectors));
    }

    @Override
    public String toString() {
        return "ValidatedEvent{"
                + eventId
                + ", entity "
                + entityId
                + ", time "
                + eventTime
                + ", type "
                + eventType
                + ", "
                + (numeric == null ? 0 : numeric.length)
                + " numbers, "
                + (categorical == null ? 0 : categorical.length)
                + " categories, "
                + (vectors == null ? 0 : vectors.length)
                + " vectors}";
    }
}
