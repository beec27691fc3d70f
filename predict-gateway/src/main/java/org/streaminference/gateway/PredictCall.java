package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.Identifiers;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.annotation.Internal;

import java.util.Iterator;
import java.util.Set;
import java.util.UUID;

/**
 * One prediction request as the gateway took it, checked: the model asked, the entity, the event
 * (type, time, fields), and the options (how long to wait, whether it may change the entity's
 * state, whether to return probabilities, and which path it takes).
 *
 * @param eventTime epoch milliseconds, or null for the gateway's clock when it is sent
 * @param async true or false where the caller chose the path, null where the routing decides
 */
@Internal
public record PredictCall(
        String requestId,
        String model,
        String entityId,
        String eventType,
        Long eventTime,
        JsonNode fields,
        boolean readOnly,
        boolean returnProbabilities,
        long timeoutMs,
        Boolean async) {

    /** The event type of a request that names none (the job's default type). */
    static final String DEFAULT_EVENT_TYPE = "event";

    private static final Set<String> BODY =
            Set.of("request_id", "entity_id", "event_type", "event_time", "fields", "options");
    private static final Set<String> OPTIONS =
            Set.of("return_probabilities", "timeout_ms", "mode", "path");

    /** The request of a REST body ({@code POST /v1/models/{model}/predict}). */
    static PredictCall fromJson(
            String model, JsonNode body, long defaultTimeoutMs, long maxTimeoutMs) {
        if (body == null || !body.isObject()) {
            throw new ApiError(400, "invalid_body", "the body must be a JSON object");
        }
        unknown(body, BODY, "");
        JsonNode options = body.path("options");
        if (!options.isMissingNode() && !options.isObject()) {
            throw RequestFields.invalid("options", "must be an object");
        }
        unknown(options, OPTIONS, "options.");
        Long eventTime = null;
        if (body.hasNonNull("event_time")) {
            if (!body.get("event_time").canConvertToExactIntegral()) {
                throw RequestFields.invalid("event_time", "must be epoch milliseconds");
            }
            eventTime = body.get("event_time").asLong();
        }
        long timeout = defaultTimeoutMs;
        if (options.hasNonNull("timeout_ms")) {
            JsonNode t = options.get("timeout_ms");
            if (!t.canConvertToExactIntegral() || t.asLong() < 1 || t.asLong() > maxTimeoutMs) {
                throw RequestFields.invalid(
                        "options.timeout_ms", "must be an integer from 1 to " + maxTimeoutMs);
            }
            timeout = t.asLong();
        }
        return of(
                text(body, "request_id"),
                model,
                text(body, "entity_id"),
                text(body, "event_type"),
                eventTime,
                body.get("fields"),
                mode(text(options, "mode")),
                bool(options, "return_probabilities"),
                timeout,
                path(text(options, "path")));
    }

    /** A checked request; every text may be null where it is optional. */
    static PredictCall of(
            String requestId,
            String model,
            String entityId,
            String eventType,
            Long eventTime,
            JsonNode fields,
            boolean readOnly,
            boolean returnProbabilities,
            long timeoutMs,
            Boolean async) {
        if (model == null || !Identifiers.isValid(model)) {
            throw new ApiError(400, "invalid_model", "model must be " + Identifiers.RULE);
        }
        if (entityId == null) {
            throw RequestFields.invalid("entity_id", "is required");
        }
        if (!Identifiers.isValid(entityId)) {
            throw RequestFields.invalid("entity_id", "must be " + Identifiers.RULE);
        }
        if (requestId != null && !Identifiers.isValid(requestId)) {
            throw RequestFields.invalid("request_id", "must be " + Identifiers.RULE);
        }
        if (eventType != null && !Identifiers.isValid(eventType)) {
            throw RequestFields.invalid("event_type", "must be " + Identifiers.RULE);
        }
        return new PredictCall(
                requestId == null ? UUID.randomUUID().toString() : requestId,
                model,
                entityId,
                eventType == null ? DEFAULT_EVENT_TYPE : eventType,
                eventTime,
                fields,
                readOnly,
                returnProbabilities,
                timeoutMs,
                async);
    }

    /** {@code "read"} or {@code "update"} (the default) as read-only. */
    static boolean mode(String mode) {
        if (mode == null || mode.isEmpty() || mode.equals("update")) {
            return false;
        }
        if (mode.equals("read")) {
            return true;
        }
        throw RequestFields.invalid("options.mode", "must be 'update' or 'read'");
    }

    /** {@code "sync"} or {@code "async"} as async, or null where the routing decides. */
    static Boolean path(String path) {
        if (path == null || path.isEmpty()) {
            return null;
        }
        return switch (path) {
            case "sync" -> false;
            case "async" -> true;
            default -> throw RequestFields.invalid("options.path", "must be 'sync' or 'async'");
        };
    }

    private static void unknown(JsonNode node, Set<String> known, String prefix) {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                throw RequestFields.invalid(
                        prefix + (name.length() > 64 ? name.substring(0, 64) + "..." : name),
                        "is not a field of the request; it takes " + known);
            }
        }
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw RequestFields.invalid(field, "must be a string");
        }
        return value.textValue();
    }

    private static boolean bool(JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return false;
        }
        if (!value.isBoolean()) {
            throw RequestFields.invalid("options." + field, "must be true or false");
        }
        return value.booleanValue();
    }
}
