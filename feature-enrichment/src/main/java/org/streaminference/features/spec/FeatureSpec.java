package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * A parsed, checked feature spec: the features a model takes, in the order of its input, and the event-time rules
 * they are computed under. Model manifests name it by {@link #id()}.
 *
 * @param name                    the spec's name
 * @param version                 its version; a change to any feature is a new version
 * @param maxOutOfOrdernessMillis how far behind its entity's newest event an event may be and still count in time
 * @param lateEvents              what happens to events later than that
 * @param entityTtlMillis         event time after an entity's newest event at which its state is removed
 * @param features                the features in input order
 * @param source                  where the spec was read from, for messages
 */
@PublicEvolving
public record FeatureSpec(
        String name,
        int version,
        long maxOutOfOrdernessMillis,
        LateEventPolicy lateEvents,
        long entityTtlMillis,
        List<FeatureDefinition> features,
        String source) implements Serializable {

    public FeatureSpec {
        features = List.copyOf(features);
    }

    /**
     * A spec whose features are the event's numeric fields as they are, each required: for models that take a raw
     * input vector, such as an image's pixels, where a YAML file would only list the fields.
     */
    public static FeatureSpec ofNumericFields(String name, int version, List<String> fields) {
        List<FeatureDefinition> features = fields.stream()
                .map(field -> FeatureDefinition.builder(field, FeatureKind.NUMERIC).field(field, false).build())
                .toList();
        return new FeatureSpec(name, version, FeatureSpecParser.DEFAULT_MAX_OUT_OF_ORDERNESS.toMillis(),
                LateEventPolicy.DEAD_LETTER, FeatureSpecParser.DEFAULT_ENTITY_TTL.toMillis(), features,
                "numeric fields " + fields.size());
    }

    /** Field names {@code <prefix>0 .. <prefix><width-1>}. */
    public static List<String> indexedFields(String prefix, int width) {
        return java.util.stream.IntStream.range(0, width).mapToObj(i -> prefix + i).toList();
    }

    /** {@code name:version}, as a manifest's {@code featureSpec} names it. */
    public String id() {
        return name + ":" + version;
    }

    /** Values per feature vector. */
    public int width() {
        return features.stream().mapToInt(FeatureDefinition::width).sum();
    }

    /** The name of each value of the vector, in order. */
    public List<String> valueNames() {
        List<String> names = new ArrayList<>(width());
        features.forEach(f -> names.addAll(f.valueNames()));
        return names;
    }

    /** Numeric event fields that have no default: an event without one is invalid. */
    public List<String> requiredEventFields() {
        Set<String> fields = new LinkedHashSet<>();
        for (FeatureDefinition f : features) {
            if (f.kind() == FeatureKind.NUMERIC && !f.fromProfile() && f.defaultValue() == null) {
                fields.add(f.field());
            }
        }
        return List.copyOf(fields);
    }

    /** Whether any feature reads the entity's profile, so the job must join reference data. */
    public boolean usesProfile() {
        return features.stream().anyMatch(FeatureDefinition::fromProfile);
    }

    /**
     * A fingerprint of everything that shapes per-entity state; state written under another fingerprint is not
     * read back (the entity starts fresh) because its layout would not match.
     */
    public int stateFingerprint() {
        StringBuilder s = new StringBuilder().append(maxOutOfOrdernessMillis).append('|');
        for (FeatureDefinition f : features) {
            if (f.kind() != FeatureKind.NUMERIC && f.kind() != FeatureKind.ONE_HOT && f.kind() != FeatureKind.HASHED) {
                s.append(f.kind()).append(',').append(f.field()).append(',').append(f.windowMillis()).append(',')
                        .append(f.slideMillis()).append(',').append(f.halfLifeMillis()).append('|');
            }
        }
        CRC32 crc = new CRC32();
        crc.update(s.toString().getBytes(StandardCharsets.UTF_8));
        return (int) crc.getValue();
    }
}
