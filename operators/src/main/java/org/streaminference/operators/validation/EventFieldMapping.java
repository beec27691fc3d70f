package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the job finds what it needs in the user's own events: the ids, the event time and type, and
 * the fields the feature spec reads, each a dotted path into nested records or objects ({@code
 * payment.amount}). The spec names a field by its path; the decoder puts each value it reads where
 * {@link EventFields} places it in the event.
 *
 * @param eventTime null: the event time is the Kafka record's timestamp
 * @param eventType null: every event has the type {@value #DEFAULT_EVENT_TYPE}
 */
@Internal
public record EventFieldMapping(
        String eventId, String entityId, String eventTime, String eventType, EventFields fields)
        implements Serializable {
    public static final String DEFAULT_EVENT_TYPE = "event";

    /**
     * @throws IllegalArgumentException for a path with an empty name in it, or one that reads a
     *     value which another path reads fields of
     */
    public EventFieldMapping {
        List<String> paths = new ArrayList<>();
        for (String p : new String[] {eventId, entityId, eventTime, eventType}) {
            if (p != null) {
                paths.add(p);
            }
        }
        paths.addAll(fields.all());
        for (String path : paths) {
            if (path.isEmpty()
                    || path.startsWith(".")
                    || path.endsWith(".")
                    || path.contains("..")) {
                throw new IllegalArgumentException(
                        "'" + path + "' is not a path: names separated by single dots");
            }
            for (String other : paths) {
                if (other.startsWith(path + ".")) {
                    throw new IllegalArgumentException(
                            "'"
                                    + path
                                    + "' is read as a value and '"
                                    + other
                                    + "' as a field inside it");
                }
            }
        }
    }

    /** What a path is read as. */
    enum Role {
        EVENT_ID,
        ENTITY_ID,
        EVENT_TIME,
        EVENT_TYPE,
        NUMERIC,
        CATEGORICAL,
        VECTOR
    }

    /** One level of the paths: the fields read here, and the records below that hold more. */
    static final class Node {
        final Map<String, Node> children = new HashMap<>();

        /**
         * What the value at this path is read as (one path may serve several roles); empty for
         * inner nodes.
         */
        final List<Role> roles = new ArrayList<>();

        final String path;

        /**
         * Where a value read as a number, a category or a vector goes in {@link Values}; -1 where
         * it is not one.
         */
        int numeric = -1;

        int categorical = -1;
        int vector = -1;

        Node(String path) {
            this.path = path;
        }
    }

    /**
     * The paths as a tree, for decoders that walk the event once and skip whatever no path names.
     */
    Node tree() {
        Node root = new Node("");
        add(root, eventId, Role.EVENT_ID);
        add(root, entityId, Role.ENTITY_ID);
        add(root, eventTime, Role.EVENT_TIME);
        add(root, eventType, Role.EVENT_TYPE);
        for (int i = 0; i < fields.numeric().size(); i++) {
            add(root, fields.numeric().get(i), Role.NUMERIC).numeric = i;
        }
        for (int i = 0; i < fields.categorical().size(); i++) {
            add(root, fields.categorical().get(i), Role.CATEGORICAL).categorical = i;
        }
        for (int i = 0; i < fields.vectors().size(); i++) {
            add(root, fields.vectors().get(i), Role.VECTOR).vector = i;
        }
        return root;
    }

    private static Node add(Node root, String path, Role role) {
        if (path == null) {
            return null;
        }
        Node node = root;
        StringBuilder prefix = new StringBuilder();
        for (String name : path.split("\\.", -1)) {
            prefix.append(prefix.length() == 0 ? "" : ".").append(name);
            node = node.children.computeIfAbsent(name, n -> new Node(prefix.toString()));
        }
        node.roles.add(role);
        return node;
    }

    /**
     * The event a decoder read whole into {@code values}, or why it is refused: a numeric value
     * that is not finite (the event comes along, for its dead letter's ids), or an event-time path
     * with nothing at it.
     */
    EventDecoder.Decoded decoded(Values values, long kafkaTimestamp) {
        if (values.nonFinite != null) {
            return new EventDecoder.Decoded(
                    values.toEvent(kafkaTimestamp),
                    ReasonCode.INVALID_FIELD,
                    "numeric field '" + values.nonFinite + "' is " + values.nonFiniteValue);
        }
        if (eventTime != null && values.eventTime == null) {
            return EventDecoder.Decoded.failed(
                    ReasonCode.MISSING_FIELD, "event time field '" + eventTime + "' is missing");
        }
        return EventDecoder.Decoded.of(values.toEvent(kafkaTimestamp));
    }

    /** A fresh collector of one event's values, laid out as {@link #fields()} says. */
    Values values() {
        return new Values(fields);
    }

    /**
     * Collects the values a decoder finds, straight into the arrays the event carries on, then
     * makes the event. A number that is not finite is remembered as the event's problem rather than
     * stored: NaN means "absent".
     */
    static final class Values {
        String eventId;
        String entityId;
        Long eventTime;
        String eventType;
        final double[] numeric;
        final String[] categorical;
        final float[][] vectors;

        /** The path of the first numeric value that is not finite, or null. */
        String nonFinite;

        double nonFiniteValue;

        Values(EventFields fields) {
            numeric = new double[fields.numeric().size()];
            Arrays.fill(numeric, Double.NaN);
            categorical = new String[fields.categorical().size()];
            vectors = new float[fields.vectors().size()][];
        }

        void numeric(Node node, double value) {
            if (!Double.isFinite(value)) {
                if (nonFinite == null) {
                    nonFinite = node.path;
                    nonFiniteValue = value;
                }
                return;
            }
            numeric[node.numeric] = value;
        }

        ValidatedEvent toEvent(long kafkaTimestamp) {
            return new ValidatedEvent(
                    eventId,
                    entityId,
                    eventTime != null ? eventTime : kafkaTimestamp,
                    eventType != null ? eventType : DEFAULT_EVENT_TYPE,
                    numeric,
                    categorical,
                    vectors);
        }
    }
}
