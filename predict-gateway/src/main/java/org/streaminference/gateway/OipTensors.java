package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.Prediction;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The Open Inference Protocol's tensors, as the gateway maps them: each named input tensor is the
 * event field of that name (a scalar per row for numeric and categorical fields, a row of the
 * tensor for a vector field), the rows are the batch, and the input {@value #ENTITY_ID} (BYTES, one
 * per row) or the request parameter of that name says whose events they are. The outputs are {@code
 * score} (FP64), {@code predicted_class} (INT64, -1 where the model has no classes), {@code label}
 * (BYTES, empty where it has none) and, where every row has them, {@code probabilities} (FP64, rows
 * × classes). Request parameters {@code mode} ("update"/"read") and {@code timeout_ms} are the
 * predict API's options.
 */
@Internal
public final class OipTensors {
    public static final String ENTITY_ID = "entity_id";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor, its values flattened in row-major order (numbers as Double, BYTES as String). */
    public record Tensor(String name, String datatype, long[] shape, List<Object> data) {}

    private OipTensors() {}

    /**
     * One request per row of {@code inputs}.
     *
     * @param parameters the request's parameters (string, number or boolean values)
     * @throws ApiError 400 naming the tensor that does not fit
     */
    static List<PredictCall> calls(
            String model,
            String id,
            Map<String, Object> parameters,
            List<Tensor> inputs,
            EventFields fields,
            long defaultTimeoutMs,
            long maxTimeoutMs,
            int maxBatch) {
        Tensor entities = null;
        for (Tensor t : inputs) {
            if (t.name().equals(ENTITY_ID)) {
                entities = t;
            }
        }
        List<String> entityIds = new ArrayList<>();
        if (entities != null) {
            entities.data().forEach(v -> entityIds.add(String.valueOf(v)));
        } else if (parameters.get(ENTITY_ID) instanceof String entity) {
            entityIds.add(entity);
        } else {
            throw new ApiError(
                    400,
                    "invalid_input",
                    "the entity is the BYTES input '"
                            + ENTITY_ID
                            + "' (one per row) or the parameter '"
                            + ENTITY_ID
                            + "'");
        }
        int rows = entityIds.size();
        if (rows < 1 || rows > maxBatch) {
            throw new ApiError(
                    400,
                    "invalid_input",
                    "a request holds 1 to " + maxBatch + " rows, got " + rows);
        }
        List<ObjectNode> events = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            events.add(JSON.createObjectNode());
        }
        for (Tensor t : inputs) {
            if (t == entities) {
                continue;
            }
            boolean vector = fields.vectors().contains(t.name());
            boolean categorical = fields.categorical().contains(t.name());
            if (!vector && !categorical && !fields.numeric().contains(t.name())) {
                throw new ApiError(
                        400,
                        "invalid_input",
                        "input '" + t.name() + "' is not a field the job's feature spec reads");
            }
            int perRow = vector ? t.data().size() / rows : 1;
            if (t.data().size() != (long) perRow * rows || perRow < 1) {
                throw new ApiError(
                        400,
                        "invalid_input",
                        "input '"
                                + t.name()
                                + "' has "
                                + t.data().size()
                                + " values for "
                                + rows
                                + " rows");
            }
            String leaf = RequestFields.leaf(t.name());
            for (int r = 0; r < rows; r++) {
                ObjectNode event = RequestFields.parentOf(events.get(r), t.name());
                if (vector) {
                    ArrayNode values = event.putArray(leaf);
                    for (int i = 0; i < perRow; i++) {
                        values.add(number(t, t.data().get(r * perRow + i)));
                    }
                } else if (categorical) {
                    event.put(leaf, String.valueOf(t.data().get(r)));
                } else {
                    event.put(leaf, number(t, t.data().get(r)));
                }
            }
        }
        boolean readOnly = PredictCall.mode(text(parameters.get("mode")));
        long timeout = defaultTimeoutMs;
        if (parameters.get("timeout_ms") instanceof Number n) {
            if (n.longValue() < 1 || n.longValue() > maxTimeoutMs) {
                throw new ApiError(
                        400, "invalid_parameter", "timeout_ms must be from 1 to " + maxTimeoutMs);
            }
            timeout = n.longValue();
        }
        Long eventTime = parameters.get("event_time") instanceof Number n ? n.longValue() : null;
        List<PredictCall> calls = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            String requestId = id == null || id.isEmpty() ? null : rows == 1 ? id : id + "-" + r;
            calls.add(
                    PredictCall.of(
                            requestId,
                            model,
                            entityIds.get(r),
                            null,
                            eventTime,
                            events.get(r),
                            readOnly,
                            true,
                            timeout,
                            false));
        }
        return calls;
    }

    private static double number(Tensor t, Object value) {
        if (value instanceof Number n && Double.isFinite(n.doubleValue())) {
            return n.doubleValue();
        }
        throw new ApiError(
                400, "invalid_input", "input '" + t.name() + "' must hold finite numbers");
    }

    private static String text(Object value) {
        return value == null ? null : String.valueOf(value);
    }

    /** The output tensors of the answers, one row per answer, in order. */
    static List<Tensor> outputs(List<Answer> answers) {
        int rows = answers.size();
        List<Object> scores = new ArrayList<>();
        List<Object> classes = new ArrayList<>();
        List<Object> labels = new ArrayList<>();
        List<Object> probabilities = new ArrayList<>();
        int width = -1;
        for (Answer a : answers) {
            Prediction p = a.prediction();
            scores.add(p.getScore());
            classes.add(p.getPredictedClass() == null ? -1L : (long) p.getPredictedClass());
            labels.add(p.getPredictedLabel() == null ? "" : p.getPredictedLabel());
            int n = p.getProbabilities().size();
            width = width == -1 ? n : width == n ? n : -2;
            probabilities.addAll(p.getProbabilities());
        }
        List<Tensor> out = new ArrayList<>();
        out.add(new Tensor("score", "FP64", new long[] {rows}, scores));
        out.add(new Tensor("predicted_class", "INT64", new long[] {rows}, classes));
        out.add(new Tensor("label", "BYTES", new long[] {rows}, labels));
        if (width > 0) {
            out.add(new Tensor("probabilities", "FP64", new long[] {rows, width}, probabilities));
        }
        return out;
    }

    /** The versions that answered, comma-separated (a canary may answer some rows). */
    static String versions(List<Answer> answers) {
        LinkedHashSet<String> versions = new LinkedHashSet<>();
        answers.forEach(a -> versions.add(a.prediction().getModelVersion()));
        return String.join(",", versions);
    }

    /** A REST request's input tensors ({@code data} flat or nested as the shape). */
    static List<Tensor> fromJson(JsonNode inputs) {
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw new ApiError(400, "invalid_input", "inputs must be a non-empty array");
        }
        List<Tensor> tensors = new ArrayList<>();
        for (JsonNode in : inputs) {
            String name = in.path("name").asText(null);
            String datatype = in.path("datatype").asText(null);
            if (name == null || datatype == null || !in.path("shape").isArray()) {
                throw new ApiError(
                        400, "invalid_input", "each input needs a name, a datatype and a shape");
            }
            long[] shape = new long[in.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = in.path("shape").get(i).asLong();
            }
            List<Object> data = new ArrayList<>();
            flatten(in.path("data"), datatype.equals("BYTES"), data, name);
            tensors.add(new Tensor(name, datatype, shape, data));
        }
        return tensors;
    }

    private static void flatten(JsonNode node, boolean bytes, List<Object> data, String name) {
        if (node.isArray()) {
            for (JsonNode v : node) {
                flatten(v, bytes, data, name);
            }
        } else if (bytes && node.isTextual()) {
            data.add(node.textValue());
        } else if (!bytes && node.isNumber()) {
            data.add(node.doubleValue());
        } else {
            throw new ApiError(
                    400, "invalid_input", "input '" + name + "' has a value not of its datatype");
        }
    }

    /** The response's output tensors as REST JSON. */
    static List<Map<String, Object>> toJson(List<Tensor> outputs) {
        List<Map<String, Object>> json = new ArrayList<>();
        for (Tensor t : outputs) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("name", t.name());
            one.put("datatype", t.datatype());
            one.put("shape", t.shape());
            one.put("data", t.data());
            json.add(one);
        }
        return json;
    }

    /** The model's inputs and outputs as the protocol's metadata describes tensors. */
    static List<Tensor> inputsMetadata(EventFields fields) {
        List<Tensor> inputs = new ArrayList<>();
        inputs.add(new Tensor(ENTITY_ID, "BYTES", new long[] {-1}, List.of()));
        fields.numeric()
                .forEach(f -> inputs.add(new Tensor(f, "FP64", new long[] {-1}, List.of())));
        fields.categorical()
                .forEach(f -> inputs.add(new Tensor(f, "BYTES", new long[] {-1}, List.of())));
        fields.vectors()
                .forEach(f -> inputs.add(new Tensor(f, "FP32", new long[] {-1, -1}, List.of())));
        return inputs;
    }

    static List<Tensor> outputsMetadata() {
        return List.of(
                new Tensor("score", "FP64", new long[] {-1}, List.of()),
                new Tensor("predicted_class", "INT64", new long[] {-1}, List.of()),
                new Tensor("label", "BYTES", new long[] {-1}, List.of()),
                new Tensor("probabilities", "FP64", new long[] {-1, -1}, List.of()));
    }
}
