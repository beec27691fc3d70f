package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.PredictRequestFormat;
import org.streaminference.schemas.UntrustedText;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.annotation.Internal;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * The event fields a request may carry: exactly those the job's feature spec reads, each of its
 * type (a finite number for a numeric field, a string for a categorical one, an array of finite
 * numbers for a vector), nested by the dots of their paths as in the user's events. A request is
 * refused at the door with 400 naming the first field that is wrong, before it costs the job
 * anything; the job validates it again as it does every event (the topic has other writers).
 */
@Internal
public final class RequestFields {
    static final int MAX_DEPTH = 8;
    static final int MAX_TEXT = 1024;
    static final int MAX_VECTOR = 65_536;

    private static final Set<String> RESERVED =
            Set.of(
                    PredictRequestFormat.REQUEST_ID,
                    PredictRequestFormat.ENTITY_ID,
                    PredictRequestFormat.EVENT_TIME,
                    PredictRequestFormat.EVENT_TYPE);

    private final EventFields fields;

    RequestFields(EventFields fields) {
        this.fields = fields;
        for (String path : fields.all()) {
            if (RESERVED.contains(path.split("\\.")[0])) {
                throw new IllegalArgumentException(
                        "the feature spec reads '"
                                + path
                                + "', whose name the request format keeps for itself: "
                                + RESERVED);
            }
        }
    }

    EventFields eventFields() {
        return fields;
    }

    /**
     * Checks {@code given} (the request's {@code fields} object).
     *
     * @throws ApiError 400 naming the field
     */
    void check(JsonNode given) {
        if (given == null || given.isNull() || given.isMissingNode()) {
            return;
        }
        if (!given.isObject()) {
            throw invalid("fields", "must be an object of the event's fields");
        }
        check((ObjectNode) given, "", 0);
    }

    private void check(ObjectNode node, String prefix, int depth) {
        if (depth > MAX_DEPTH) {
            throw invalid("fields." + prefix, "nests deeper than " + MAX_DEPTH);
        }
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().isEmpty() || field.getKey().contains(".")) {
                throw invalid(
                        "fields." + prefix + UntrustedText.excerpt(field.getKey()),
                        "is not a field name: a path's dots are nested objects, as in the events");
            }
            String path = prefix + field.getKey();
            JsonNode value = field.getValue();
            boolean numeric = fields.numeric().contains(path);
            boolean categorical = fields.categorical().contains(path);
            boolean vector = fields.vectors().contains(path);
            if (numeric || categorical || vector) {
                if (value.isNull()) {
                    continue; // absent: the job's features say what a missing value means
                }
                if (numeric && value.isNumber() && Double.isFinite(value.asDouble())) {
                    continue;
                }
                if (categorical && value.isTextual() && value.textValue().length() <= MAX_TEXT) {
                    continue;
                }
                if (vector && value.isArray() && finiteNumbers(value)) {
                    continue;
                }
                throw invalid(
                        "fields." + path,
                        "must be "
                                + (numeric
                                        ? "a finite number"
                                        : categorical
                                                ? "a string of at most " + MAX_TEXT + " characters"
                                                : "an array of at most "
                                                        + MAX_VECTOR
                                                        + " finite numbers"));
            }
            if (value.isObject() && readsBelow(path)) {
                check((ObjectNode) value, path + ".", depth + 1);
                continue;
            }
            throw invalid(
                    "fields." + UntrustedText.excerpt(path),
                    "is not a field the job's feature spec reads");
        }
    }

    private boolean readsBelow(String path) {
        for (String p : fields.all()) {
            if (p.startsWith(path + ".")) {
                return true;
            }
        }
        return false;
    }

    private static boolean finiteNumbers(JsonNode array) {
        if (array.size() > MAX_VECTOR) {
            return false;
        }
        for (JsonNode v : array) {
            if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
                return false;
            }
        }
        return true;
    }

    /**
     * The object a field's path ends in under {@code root}, made where missing: a path's dots are
     * nested objects, as in the user's events.
     */
    public static ObjectNode parentOf(ObjectNode root, String path) {
        ObjectNode node = root;
        String[] names = path.split("\\.");
        for (int i = 0; i < names.length - 1; i++) {
            JsonNode child = node.get(names[i]);
            node = child instanceof ObjectNode o ? o : node.putObject(names[i]);
        }
        return node;
    }

    /** The last name of a field's path. */
    public static String leaf(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
    }

    static ApiError invalid(String field, String problem) {
        return new ApiError(400, "invalid_field", field + " " + problem);
    }
}
