package org.streaminference.features.spec;

import org.streaminference.schemas.FeatureLayout;

import org.apache.flink.annotation.Internal;
import org.apache.flink.util.TimeUtils;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a feature spec from YAML and checks everything about it before a job runs: unknown or
 * misspelt keys, wrong types, missing settings, windows that do not divide into their slide, state
 * that would expire inside a window. Every problem is reported with the line it is on, so a bad
 * spec fails the job's start, not its records.
 */
@Internal
public final class FeatureSpecParser {
    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,127}");

    /** Bounds the buckets one windowed feature keeps per entity. */
    static final int MAX_BUCKETS_PER_WINDOW = 1440;

    static final int MAX_HASH_BUCKETS = 4096;

    private static final Set<String> TOP_KEYS = Set.of("name", "version", "eventTime", "features");
    private static final Set<String> EVENT_TIME_KEYS =
            Set.of("maxOutOfOrderness", "lateEvents", "entityTtl");
    private static final Set<String> FEATURE_KEYS =
            Set.of(
                    "name",
                    "kind",
                    "field",
                    "source",
                    "default",
                    "vocabulary",
                    "buckets",
                    "window",
                    "slide",
                    "halfLife",
                    "transform",
                    "scale",
                    "group",
                    "width");

    /** Widest vector feature: a 224x224 RGB image. */
    static final int MAX_VECTOR_WIDTH = 3 * 224 * 224;

    static final Duration DEFAULT_MAX_OUT_OF_ORDERNESS = Duration.ofSeconds(30);
    static final Duration DEFAULT_ENTITY_TTL = Duration.ofDays(7);

    private final String source;

    private FeatureSpecParser(String source) {
        this.source = source;
    }

    /**
     * @param yaml the spec's text
     * @param source where it was read from, for messages
     */
    public static FeatureSpec parse(String yaml, String source) throws InvalidFeatureSpecException {
        return new FeatureSpecParser(source).parse(yaml);
    }

    private FeatureSpec parse(String yaml) throws InvalidFeatureSpecException {
        Node root;
        try {
            root =
                    new Compose(LoadSettings.builder().setLabel(source).build())
                            .composeString(yaml)
                            .orElseThrow(
                                    () ->
                                            new InvalidFeatureSpecException(
                                                    source, 0, "the file is empty"));
        } catch (MarkedYamlEngineException e) {
            int line = e.getProblemMark().map(m -> m.getLine() + 1).orElse(0);
            throw new InvalidFeatureSpecException(
                    source, line, "not valid YAML: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw new InvalidFeatureSpecException(source, 0, "not valid YAML: " + e.getMessage());
        }
        Map<String, NodeTuple> top = mapping(root, "the spec", TOP_KEYS);
        String name = text(required(top, root, "name", "the spec"));
        if (!NAME.matcher(name).matches()) {
            throw error(
                    top.get("name").getValueNode(),
                    "name '"
                            + name
                            + "' must start with a letter and hold only"
                            + " letters, digits, '_', '.' and '-' (at most 128)");
        }
        Node versionNode = required(top, root, "version", "the spec");
        int version = (int) integer(versionNode, "version", 1, Integer.MAX_VALUE);

        long outOfOrderness = DEFAULT_MAX_OUT_OF_ORDERNESS.toMillis();
        long ttl = DEFAULT_ENTITY_TTL.toMillis();
        LateEventPolicy late = LateEventPolicy.DEAD_LETTER;
        Node ttlNode = null;
        if (top.containsKey("eventTime")) {
            Node eventTimeNode = top.get("eventTime").getValueNode();
            Map<String, NodeTuple> eventTime = mapping(eventTimeNode, "eventTime", EVENT_TIME_KEYS);
            if (eventTime.containsKey("maxOutOfOrderness")) {
                outOfOrderness =
                        duration(
                                eventTime.get("maxOutOfOrderness").getValueNode(),
                                "maxOutOfOrderness",
                                true);
            }
            if (eventTime.containsKey("lateEvents")) {
                late = latePolicy(eventTime.get("lateEvents").getValueNode());
            }
            if (eventTime.containsKey("entityTtl")) {
                ttlNode = eventTime.get("entityTtl").getValueNode();
                ttl = duration(ttlNode, "entityTtl", false);
            }
        }

        Node featuresNode = required(top, root, "features", "the spec");
        if (!(featuresNode instanceof SequenceNode list) || list.getValue().isEmpty()) {
            throw error(
                    featuresNode,
                    "features must be a non-empty list, one entry per feature in the order of the"
                            + " model's input");
        }
        List<FeatureDefinition> features = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Map<String, FeatureDefinition> groups = new LinkedHashMap<>();
        for (Node entry : list.getValue()) {
            FeatureDefinition f = feature(entry);
            if (!names.add(f.name())) {
                throw error(entry, "feature name '" + f.name() + "' is used twice");
            }
            FeatureDefinition first = groups.putIfAbsent(f.group(), f);
            if (first != null && first.kind().valueType() != f.kind().valueType()) {
                throw error(
                        entry,
                        "feature '"
                                + f.name()
                                + "' gives "
                                + f.kind().valueType()
                                + " values but group '"
                                + f.group()
                                + "' already holds "
                                + first.kind().valueType()
                                + " ones (feature '"
                                + first.name()
                                + "'): a group feeds one model input, of one type");
            }
            if (f.kind().windowed() && f.windowMillis() + outOfOrderness > ttl) {
                throw new InvalidFeatureSpecException(
                        source,
                        ttlNode == null ? f.line() : line(ttlNode),
                        "entityTtl "
                                + Duration.ofMillis(ttl)
                                + " is shorter than feature '"
                                + f.name()
                                + "''s window "
                                + Duration.ofMillis(f.windowMillis())
                                + " plus maxOutOfOrderness: state would be removed"
                                + " while its events still count (lifetime aggregates last until the entity expires)");
            }
            features.add(f);
        }
        return new FeatureSpec(name, version, outOfOrderness, late, ttl, features, source);
    }

    /**
     * One feature: its name and kind, then each group of keys, each allowed only for the kinds it
     * means something for.
     */
    private FeatureDefinition feature(Node node) throws InvalidFeatureSpecException {
        Map<String, NodeTuple> f = mapping(node, "a feature", FEATURE_KEYS);
        String name = text(required(f, node, "name", "a feature"));
        if (!NAME.matcher(name).matches()) {
            throw error(
                    f.get("name").getValueNode(),
                    "feature name '"
                            + name
                            + "' must start with a letter and hold"
                            + " only letters, digits, '_', '.' and '-'");
        }
        String what = "feature '" + name + "'";
        Node kindNode = required(f, node, "kind", what);
        FeatureKind kind = FeatureKind.ofYaml(text(kindNode));
        if (kind == null) {
            throw error(
                    kindNode,
                    what
                            + ": unknown kind '"
                            + text(kindNode)
                            + "'; one of "
                            + FeatureKind.allYamlNames());
        }
        FeatureDefinition.Builder feature = FeatureDefinition.builder(name, kind).line(line(node));
        input(f, node, what, kind, feature);
        defaults(f, what, kind, feature);
        shape(f, node, what, kind, feature);
        time(f, node, what, kind, feature);
        transform(f, what, kind, feature);
        return feature.build();
    }

    /** What the feature reads: a field of the event or of the entity's profile. */
    private void input(
            Map<String, NodeTuple> f,
            Node node,
            String what,
            FeatureKind kind,
            FeatureDefinition.Builder feature)
            throws InvalidFeatureSpecException {
        boolean fromProfile = false;
        if (f.containsKey("source")) {
            Node sourceNode = f.get("source").getValueNode();
            String value = text(sourceNode);
            if (!value.equals("event") && !value.equals("profile")) {
                throw error(
                        sourceNode,
                        what + ": source must be 'event' or 'profile', not '" + value + "'");
            }
            fromProfile = value.equals("profile");
            if (fromProfile
                    && kind != FeatureKind.NUMERIC
                    && kind != FeatureKind.ONE_HOT
                    && kind != FeatureKind.HASHED
                    && kind != FeatureKind.INTEGER) {
                throw error(
                        sourceNode,
                        what
                                + ": only numeric, integer, one-hot and hashed features can read the"
                                + " profile");
            }
        }
        String field = null;
        if (f.containsKey("field")) {
            if (!kind.needsField() && kind != FeatureKind.COUNT) {
                throw notFor(f, "field", what, kind);
            }
            field = text(f.get("field").getValueNode());
            if (field.isBlank()) {
                throw error(f.get("field").getValueNode(), what + ": field is empty");
            }
        } else if (kind.needsField()) {
            throw error(node, what + ": kind " + kind.yamlName() + " needs a 'field'");
        }

        feature.field(field, fromProfile);
    }

    /** The value of a missing field (or of an empty window). */
    private void defaults(
            Map<String, NodeTuple> f,
            String what,
            FeatureKind kind,
            FeatureDefinition.Builder feature)
            throws InvalidFeatureSpecException {
        Double defaultValue = null;
        String defaultText = null;
        if (f.containsKey("default") && kind == FeatureKind.TEXT) {
            defaultText = text(f.get("default").getValueNode());
        } else if (f.containsKey("default")) {
            if (!kind.scalar() && kind != FeatureKind.INTEGER && kind != FeatureKind.VECTOR) {
                throw notFor(f, "default", what, kind);
            }
            defaultValue = number(f.get("default").getValueNode(), what + ": default");
            if (kind == FeatureKind.INTEGER && defaultValue != Math.rint(defaultValue)) {
                throw error(
                        f.get("default").getValueNode(),
                        what + ": an integer feature's default must be a whole" + " number");
            }
        }

        feature.defaultValue(defaultValue).defaultText(defaultText);
    }

    /**
     * How many values the feature gives and where they go: vector width, group, vocabulary, hash
     * buckets.
     */
    private void shape(
            Map<String, NodeTuple> f,
            Node node,
            String what,
            FeatureKind kind,
            FeatureDefinition.Builder feature)
            throws InvalidFeatureSpecException {
        int vectorWidth = 0;
        if (f.containsKey("width")) {
            if (kind != FeatureKind.VECTOR) {
                throw notFor(f, "width", what, kind);
            }
            vectorWidth =
                    (int)
                            integer(
                                    f.get("width").getValueNode(),
                                    what + ": width",
                                    1,
                                    MAX_VECTOR_WIDTH);
        } else if (kind == FeatureKind.VECTOR) {
            throw error(
                    node,
                    what + ": a vector feature needs its 'width' (values in the array field)");
        }

        String group = FeatureLayout.DEFAULT_GROUP;
        if (f.containsKey("group")) {
            group = text(f.get("group").getValueNode());
            if (!NAME.matcher(group).matches() || group.length() > 64) {
                throw error(
                        f.get("group").getValueNode(),
                        what
                                + ": group '"
                                + group
                                + "' must start with a letter"
                                + " and hold only letters, digits, '_', '.' and '-' (at most 64)");
            }
        }

        List<String> vocabulary = List.of();
        if (f.containsKey("vocabulary")) {
            if (kind != FeatureKind.ONE_HOT) {
                throw notFor(f, "vocabulary", what, kind);
            }
            vocabulary = vocabulary(f.get("vocabulary").getValueNode(), what);
        } else if (kind == FeatureKind.ONE_HOT) {
            throw error(
                    node,
                    what
                            + ": a one-hot feature needs a 'vocabulary' (its values, in output order)");
        }

        int buckets = 0;
        if (f.containsKey("buckets")) {
            if (kind != FeatureKind.HASHED) {
                throw notFor(f, "buckets", what, kind);
            }
            buckets =
                    (int)
                            integer(
                                    f.get("buckets").getValueNode(),
                                    what + ": buckets",
                                    1,
                                    MAX_HASH_BUCKETS);
        } else if (kind == FeatureKind.HASHED) {
            throw error(node, what + ": a hashed feature needs 'buckets'");
        }

        feature.vectorWidth(vectorWidth).group(group).vocabulary(vocabulary).buckets(buckets);
    }

    /** The time an aggregate covers: window and slide, or a decayed mean's half-life. */
    private void time(
            Map<String, NodeTuple> f,
            Node node,
            String what,
            FeatureKind kind,
            FeatureDefinition.Builder feature)
            throws InvalidFeatureSpecException {
        long window = 0;
        long slide = 0;
        if (f.containsKey("window")) {
            if (!kind.windowed()) {
                throw notFor(f, "window", what, kind);
            }
            window = duration(f.get("window").getValueNode(), what + ": window", false);
            slide = window;
        }
        if (f.containsKey("slide")) {
            Node slideNode = f.get("slide").getValueNode();
            if (window == 0) {
                throw error(slideNode, what + ": 'slide' needs a 'window'");
            }
            slide = duration(slideNode, what + ": slide", false);
            if (slide > window || window % slide != 0) {
                throw error(
                        slideNode,
                        what
                                + ": window "
                                + Duration.ofMillis(window)
                                + " must be a whole multiple of"
                                + " slide "
                                + Duration.ofMillis(slide));
            }
            if (window / slide > MAX_BUCKETS_PER_WINDOW) {
                throw error(
                        slideNode,
                        what
                                + ": window / slide is "
                                + window / slide
                                + "; at most "
                                + MAX_BUCKETS_PER_WINDOW
                                + " buckets per window are kept per entity");
            }
        }

        long halfLife = 0;
        if (f.containsKey("halfLife")) {
            if (kind != FeatureKind.DECAYED_MEAN) {
                throw notFor(f, "halfLife", what, kind);
            }
            halfLife = duration(f.get("halfLife").getValueNode(), what + ": halfLife", false);
        } else if (kind == FeatureKind.DECAYED_MEAN) {
            throw error(node, what + ": a decayed-mean feature needs a 'halfLife'");
        }

        feature.window(window, slide).halfLifeMillis(halfLife);
    }

    /** What is done to a scalar value: log1p, then standardizing or scaling to [0, 1]. */
    private void transform(
            Map<String, NodeTuple> f,
            String what,
            FeatureKind kind,
            FeatureDefinition.Builder feature)
            throws InvalidFeatureSpecException {
        boolean log1p = false;
        if (f.containsKey("transform")) {
            Node transformNode = f.get("transform").getValueNode();
            if (!kind.scalar()) {
                throw notFor(f, "transform", what, kind);
            }
            String transform = text(transformNode);
            if (!transform.equals("log1p") && !transform.equals("none")) {
                throw error(
                        transformNode,
                        what + ": transform must be 'log1p' or 'none', not '" + transform + "'");
            }
            log1p = transform.equals("log1p");
        }
        double offset = 0;
        double divisor = 1;
        if (f.containsKey("scale")) {
            Node scaleNode = f.get("scale").getValueNode();
            if (!kind.scalar()) {
                throw notFor(f, "scale", what, kind);
            }
            Map<String, NodeTuple> scale =
                    mapping(scaleNode, what + ": scale", Set.of("mean", "std", "min", "max"));
            if (scale.keySet().equals(Set.of("mean", "std"))) {
                offset = number(scale.get("mean").getValueNode(), what + ": scale.mean");
                divisor = number(scale.get("std").getValueNode(), what + ": scale.std");
                if (divisor <= 0) {
                    throw error(
                            scale.get("std").getValueNode(), what + ": scale.std must be positive");
                }
            } else if (scale.keySet().equals(Set.of("min", "max"))) {
                offset = number(scale.get("min").getValueNode(), what + ": scale.min");
                double max = number(scale.get("max").getValueNode(), what + ": scale.max");
                if (max <= offset) {
                    throw error(
                            scale.get("max").getValueNode(),
                            what + ": scale.max must be greater than scale.min");
                }
                divisor = max - offset;
            } else {
                throw error(
                        scaleNode,
                        what
                                + ": scale takes either 'mean' and 'std' (standardize) or 'min' and"
                                + " 'max' (to [0, 1])");
            }
        }
        feature.transform(log1p, offset, divisor);
    }

    // ---------------------------------------------------------------------------------------------------------

    private Map<String, NodeTuple> mapping(Node node, String what, Set<String> allowed)
            throws InvalidFeatureSpecException {
        if (!(node instanceof MappingNode mapping)) {
            throw error(node, what + " must be a mapping of keys to values");
        }
        Map<String, NodeTuple> entries = new LinkedHashMap<>();
        for (NodeTuple tuple : mapping.getValue()) {
            String key = text(tuple.getKeyNode());
            if (!allowed.contains(key)) {
                throw error(
                        tuple.getKeyNode(),
                        what
                                + ": unknown key '"
                                + key
                                + "'; expected one of "
                                + allowed.stream().sorted().toList());
            }
            if (entries.put(key, tuple) != null) {
                throw error(tuple.getKeyNode(), what + ": key '" + key + "' is given twice");
            }
        }
        return entries;
    }

    private Node required(Map<String, NodeTuple> entries, Node owner, String key, String what)
            throws InvalidFeatureSpecException {
        NodeTuple tuple = entries.get(key);
        if (tuple == null) {
            throw error(owner, what + " needs '" + key + "'");
        }
        return tuple.getValueNode();
    }

    private String text(Node node) throws InvalidFeatureSpecException {
        if (!(node instanceof ScalarNode scalar)) {
            throw error(node, "expected a single value here, not a list or mapping");
        }
        return scalar.getValue();
    }

    private double number(Node node, String what) throws InvalidFeatureSpecException {
        String value = text(node);
        try {
            double d = Double.parseDouble(value);
            if (Double.isFinite(d)) {
                return d;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw error(node, what + " must be a finite number, not '" + value + "'");
    }

    private long integer(Node node, String what, long min, long max)
            throws InvalidFeatureSpecException {
        String value = text(node);
        try {
            long n = Long.parseLong(value);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw error(
                node,
                what
                        + " must be a whole number from "
                        + min
                        + " to "
                        + max
                        + ", not '"
                        + value
                        + "'");
    }

    private long duration(Node node, String what, boolean zeroAllowed)
            throws InvalidFeatureSpecException {
        String value = text(node);
        Duration d;
        try {
            d = TimeUtils.parseDuration(value);
        } catch (IllegalArgumentException e) {
            throw error(
                    node,
                    what + " must be a duration such as 30s, 5 min, 1h or 7d, not '" + value + "'");
        }
        if (d.isNegative() || (!zeroAllowed && d.isZero())) {
            throw error(
                    node,
                    what
                            + " must be "
                            + (zeroAllowed ? "zero or more" : "positive")
                            + ", not '"
                            + value
                            + "'");
        }
        return d.toMillis();
    }

    private LateEventPolicy latePolicy(Node node) throws InvalidFeatureSpecException {
        String value = text(node);
        for (LateEventPolicy policy : LateEventPolicy.values()) {
            if (policy.yamlName().equals(value)) {
                return policy;
            }
        }
        throw error(node, "lateEvents must be 'dead-letter' or 'count', not '" + value + "'");
    }

    private List<String> vocabulary(Node node, String what) throws InvalidFeatureSpecException {
        if (!(node instanceof SequenceNode list) || list.getValue().isEmpty()) {
            throw error(node, what + ": vocabulary must be a non-empty list of values");
        }
        List<String> values = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Node item : list.getValue()) {
            String value = text(item);
            if (!seen.add(value)) {
                throw error(item, what + ": vocabulary lists '" + value + "' twice");
            }
            values.add(value);
        }
        return values;
    }

    private InvalidFeatureSpecException notFor(
            Map<String, NodeTuple> f, String key, String what, FeatureKind kind) {
        return error(
                f.get(key).getKeyNode(),
                what + ": '" + key + "' does not apply to kind " + kind.yamlName());
    }

    private InvalidFeatureSpecException error(Node node, String problem) {
        return new InvalidFeatureSpecException(source, line(node), problem);
    }

    private static int line(Node node) {
        return node.getStartMark().map(Mark::getLine).map(l -> l + 1).orElse(0);
    }
}
