package org.streaminference.features.spec;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.FeatureLayout;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.zip.CRC32;

/**
 * A parsed, checked feature spec: the features a model takes, in the order of its input, and the
 * event-time rules they are computed under. Model manifests name it by {@link #id()}.
 *
 * @param name the spec's name
 * @param version its version; a change to any feature is a new version
 * @param maxOutOfOrdernessMillis how far behind its entity's newest event an event may be and still
 *     count in time
 * @param lateEvents what happens to events later than that
 * @param entityTtlMillis event time after an entity's newest event at which its state is removed
 * @param features the features in input order
 * @param source where the spec was read from, for messages
 */
@PublicEvolving
public record FeatureSpec(
        String name,
        int version,
        long maxOutOfOrdernessMillis,
        LateEventPolicy lateEvents,
        long entityTtlMillis,
        List<FeatureDefinition> features,
        String source)
        implements Serializable {

    public FeatureSpec {
        features = List.copyOf(features);
    }

    /**
     * A spec whose features are the event's numeric fields as they are, each required: for models
     * that take a raw input vector, such as an image's pixels, where a YAML file would only list
     * the fields.
     */
    public static FeatureSpec ofNumericFields(String name, int version, List<String> fields) {
        List<FeatureDefinition> features =
                fields.stream()
                        .map(
                                field ->
                                        FeatureDefinition.builder(field, FeatureKind.NUMERIC)
                                                .field(field, false)
                                                .build())
                        .toList();
        return new FeatureSpec(
                name,
                version,
                FeatureSpecParser.DEFAULT_MAX_OUT_OF_ORDERNESS.toMillis(),
                LateEventPolicy.DEAD_LETTER,
                FeatureSpecParser.DEFAULT_ENTITY_TTL.toMillis(),
                features,
                "numeric fields " + fields.size());
    }

    /** Field names {@code <prefix>0 .. <prefix><width-1>}. */
    public static List<String> indexedFields(String prefix, int width) {
        return IntStream.range(0, width).mapToObj(i -> prefix + i).toList();
    }

    /** {@code name:version}, as a manifest's {@code featureSpec} names it. */
    public String id() {
        return name + ":" + version;
    }

    /** Float values per feature vector (integer and text features are carried beside it). */
    public int width() {
        return width(FeatureLayout.ValueType.FLOAT);
    }

    /** Values of {@code type} per enriched event. */
    public int width(FeatureLayout.ValueType type) {
        return features.stream()
                .filter(f -> f.kind().valueType() == type)
                .mapToInt(FeatureDefinition::width)
                .sum();
    }

    /** The name of each float value of the vector, in order. */
    public List<String> valueNames() {
        List<String> names = new ArrayList<>(width());
        features.stream()
                .filter(f -> f.kind().valueType() == FeatureLayout.ValueType.FLOAT)
                .forEach(f -> names.addAll(f.valueNames()));
        return names;
    }

    /**
     * Where each group's values are in an enriched event: each feature's values go, in spec order,
     * to the array of its type; a group's indices are its features' positions there, in spec order.
     */
    public FeatureLayout layout() {
        Map<String, FeatureLayout.ValueType> types = new LinkedHashMap<>();
        Map<String, List<Integer>> indices = new LinkedHashMap<>();
        EnumMap<FeatureLayout.ValueType, Integer> next =
                new EnumMap<>(FeatureLayout.ValueType.class);
        for (FeatureDefinition f : features) {
            FeatureLayout.ValueType type = f.kind().valueType();
            types.putIfAbsent(f.group(), type);
            List<Integer> group = indices.computeIfAbsent(f.group(), g -> new ArrayList<>());
            int start = next.getOrDefault(type, 0);
            for (int i = 0; i < f.width(); i++) {
                group.add(start + i);
            }
            next.put(type, start + f.width());
        }
        List<FeatureLayout.Group> groups = new ArrayList<>();
        indices.forEach(
                (name, list) ->
                        groups.add(
                                new FeatureLayout.Group(
                                        name,
                                        types.get(name),
                                        list.stream().mapToInt(Integer::intValue).toArray())));
        return new FeatureLayout(groups);
    }

    /**
     * Event fields that features need, having no default: an event without one is a {@code
     * MISSING_FIELD} dead letter for each model that reads the feature's group, and is served by
     * the others.
     */
    public List<String> requiredEventFields() {
        Set<String> fields = new LinkedHashSet<>();
        for (FeatureDefinition f : features) {
            if (f.requiresField()) {
                fields.add(f.field());
            }
        }
        return List.copyOf(fields);
    }

    /**
     * The event fields the spec reads, by how it reads them (profile fields are not the event's).
     */
    public EventFields eventFields() {
        Set<String> numeric = new LinkedHashSet<>();
        Set<String> categorical = new LinkedHashSet<>();
        Set<String> vectors = new LinkedHashSet<>();
        for (FeatureDefinition f : features) {
            if (f.fromProfile() || f.field() == null) {
                continue;
            }
            switch (f.kind()) {
                case ONE_HOT, HASHED, DISTINCT_COUNT, TEXT -> categorical.add(f.field());
                case VECTOR -> vectors.add(f.field());
                default -> numeric.add(f.field());
            }
        }
        return new EventFields(
                List.copyOf(numeric), List.copyOf(categorical), List.copyOf(vectors));
    }

    /** Whether any feature reads the entity's profile, so the job must join reference data. */
    public boolean usesProfile() {
        return features.stream().anyMatch(FeatureDefinition::fromProfile);
    }

    /**
     * A fingerprint of everything that shapes per-entity state; state written under another
     * fingerprint is not read back (the entity starts fresh) because its layout would not match.
     */
    public int stateFingerprint() {
        StringBuilder s = new StringBuilder().append(maxOutOfOrdernessMillis).append('|');
        for (FeatureDefinition f : features) {
            if (f.kind().windowed()
                    || f.kind() == FeatureKind.LAST
                    || f.kind() == FeatureKind.DECAYED_MEAN
                    || f.kind() == FeatureKind.DISTINCT_COUNT
                    || f.kind() == FeatureKind.TIME_SINCE_PREVIOUS) {
                s.append(f.kind())
                        .append(',')
                        .append(f.field())
                        .append(',')
                        .append(f.windowMillis())
                        .append(',')
                        .append(f.slideMillis())
                        .append(',')
                        .append(f.halfLifeMillis())
                        .append('|');
            }
        }
        CRC32 crc = new CRC32();
        crc.update(s.toString().getBytes(StandardCharsets.UTF_8));
        return (int) crc.getValue();
    }
}
