package org.streaminference.operators.validation;

import org.streaminference.schemas.AvroPayloadCheck;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.UntrustedText;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The user's events as JSON objects, read in one streaming pass that descends only into the objects
 * a path of the {@link EventFieldMapping} goes through and skips every other value without building
 * it. Bounded as the envelope is: the value's size (checked before), nesting depth, and the length
 * of numbers; duplicate keys keep the last. The common record (ASCII, no escapes) is read by {@link
 * AsciiJsonReader} straight from its bytes; whatever it declines, Jackson reads.
 */
@Internal
public final class JsonEventDecoder implements EventDecoder {
    private static final long serialVersionUID = 1L;

    private final EventFieldMapping mapping;
    private transient JsonFactory factory;
    private transient EventFieldMapping.Node tree;
    private transient AsciiJsonReader fastPath;

    public JsonEventDecoder(EventFieldMapping mapping) {
        this.mapping = mapping;
    }

    /** A field's value that is not what the spec reads it as. */
    private static final class WrongType extends Exception {
        WrongType(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    public ReasonCode malformed() {
        return ReasonCode.MALFORMED_JSON;
    }

    @Override
    public Decoded decode(ByteBuffer value, long kafkaTimestamp) {
        if (tree == null) {
            tree = mapping.tree();
            fastPath = new AsciiJsonReader(AvroPayloadCheck.MAX_DEPTH);
        }
        if (value.hasArray()) {
            EventFieldMapping.Values values = mapping.values();
            if (fastPath.read(
                    value.array(),
                    value.arrayOffset() + value.position(),
                    value.remaining(),
                    tree,
                    values)) {
                return mapping.decoded(values, kafkaTimestamp);
            }
        }
        return decodeWithJackson(value, kafkaTimestamp);
    }

    /**
     * Every record the fast path declines: Jackson reads it whole and gives its values or the
     * reason it is refused.
     */
    Decoded decodeWithJackson(ByteBuffer value, long kafkaTimestamp) {
        if (factory == null) {
            // numbers parsed from the parser's own buffer by FastDoubleParser (correctly rounded,
            // as
            // Float.parseFloat), not through a String each: a 784-float event decoded in 28-29 µs
            // instead of 61 (Jackson alone, one run on 2 shared cores)
            factory =
                    JsonFactory.builder()
                            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
                            .streamReadConstraints(
                                    StreamReadConstraints.builder()
                                            .maxNestingDepth(AvroPayloadCheck.MAX_DEPTH)
                                            .maxNumberLength(64)
                                            .build())
                            .build();
        }
        ByteBuffer bytes = value.duplicate();
        EventFieldMapping.Values values = mapping.values();
        try (JsonParser parser =
                bytes.hasArray()
                        ? factory.createParser(
                                bytes.array(),
                                bytes.arrayOffset() + bytes.position(),
                                bytes.remaining())
                        : factory.createParser(copy(bytes))) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return Decoded.failed(ReasonCode.MALFORMED_JSON, "not a JSON object");
            }
            readObject(parser, tree, values);
            if (parser.nextToken() != null) {
                return Decoded.failed(
                        ReasonCode.MALFORMED_JSON, "data after the end of the JSON object");
            }
        } catch (WrongType e) {
            return Decoded.failed(ReasonCode.INVALID_FIELD, e.getMessage());
        } catch (JsonProcessingException e) {
            return Decoded.failed(
                    ReasonCode.MALFORMED_JSON,
                    "not JSON: " + UntrustedText.escape(e.getOriginalMessage(), 200));
        } catch (IOException | RuntimeException e) {
            return Decoded.failed(
                    ReasonCode.MALFORMED_JSON,
                    "cannot read the JSON event: " + UntrustedText.escape(String.valueOf(e), 200));
        }
        return mapping.decoded(values, kafkaTimestamp);
    }

    private static byte[] copy(ByteBuffer bytes) {
        byte[] copy = new byte[bytes.remaining()];
        bytes.get(copy);
        return copy;
    }

    /** Reads the object the parser is at (after its START_OBJECT) up to its END_OBJECT. */
    private static void readObject(
            JsonParser parser, EventFieldMapping.Node node, EventFieldMapping.Values values)
            throws IOException, WrongType {
        JsonToken token;
        while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
            EventFieldMapping.Node child = node.children.get(parser.currentName());
            JsonToken valueToken = parser.nextToken();
            if (child == null) {
                parser.skipChildren(); // a value no path names: skipped, never built
                continue;
            }
            if (valueToken == JsonToken.VALUE_NULL) {
                continue; // an absent optional value
            }
            if (!child.roles.isEmpty()) {
                read(parser, valueToken, child, values);
            } else if (valueToken == JsonToken.START_OBJECT) {
                readObject(parser, child, values);
            } else {
                throw new WrongType("'" + child.path + "' is not an object");
            }
        }
        if (token != JsonToken.END_OBJECT) {
            throw new JsonParseProblem("unexpected " + token);
        }
    }

    private static void read(
            JsonParser parser,
            JsonToken token,
            EventFieldMapping.Node node,
            EventFieldMapping.Values values)
            throws IOException, WrongType {
        if (token == JsonToken.START_ARRAY) {
            if (!node.roles.contains(EventFieldMapping.Role.VECTOR)) {
                throw new WrongType("'" + node.path + "' is an array");
            }
            float[] vector = new float[16];
            int size = 0;
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
                if (token != JsonToken.VALUE_NUMBER_INT && token != JsonToken.VALUE_NUMBER_FLOAT) {
                    throw new WrongType(
                            "'"
                                    + node.path
                                    + "' holds a "
                                    + describe(token)
                                    + ", not only numbers");
                }
                if (size == vector.length) {
                    vector = Arrays.copyOf(vector, size * 2); // bounded: the record's size is
                }
                vector[size++] = parser.getFloatValue();
            }
            values.vectors[node.vector] = Arrays.copyOf(vector, size);
            return;
        }
        if (token == JsonToken.START_OBJECT) {
            throw new WrongType("'" + node.path + "' is an object");
        }
        boolean number =
                token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT;
        for (EventFieldMapping.Role role : node.roles) {
            switch (role) {
                case EVENT_ID -> values.eventId = text(parser, token, node);
                case ENTITY_ID -> values.entityId = text(parser, token, node);
                case EVENT_TYPE -> values.eventType = text(parser, token, node);
                case CATEGORICAL ->
                        values.categorical[node.categorical] = text(parser, token, node);
                case EVENT_TIME -> {
                    if (token != JsonToken.VALUE_NUMBER_INT) {
                        throw new WrongType(
                                "event time '"
                                        + node.path
                                        + "' is a "
                                        + describe(token)
                                        + ", not epoch milliseconds");
                    }
                    values.eventTime = parser.getLongValue();
                }
                case NUMERIC -> {
                    if (!number) {
                        throw new WrongType(
                                "numeric field '" + node.path + "' is a " + describe(token));
                    }
                    values.numeric(node, parser.getDoubleValue());
                }
                case VECTOR ->
                        throw new WrongType(
                                "vector field '"
                                        + node.path
                                        + "' is a "
                                        + describe(token)
                                        + ", not an array");
                default -> throw new IllegalStateException("unhandled role " + role);
            }
        }
    }

    /**
     * Strings as they are; numbers and booleans as their JSON text (an id or a category may be
     * written either way).
     */
    private static String text(JsonParser parser, JsonToken token, EventFieldMapping.Node node)
            throws IOException, WrongType {
        if (token == JsonToken.VALUE_STRING
                || token == JsonToken.VALUE_NUMBER_INT
                || token == JsonToken.VALUE_TRUE
                || token == JsonToken.VALUE_FALSE) {
            return parser.getText();
        }
        throw new WrongType("'" + node.path + "' is a " + describe(token) + ", not text");
    }

    private static String describe(JsonToken token) {
        return switch (token) {
            case VALUE_STRING -> "string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "number";
            case VALUE_TRUE, VALUE_FALSE -> "boolean";
            case START_ARRAY -> "array";
            case START_OBJECT -> "object";
            default -> String.valueOf(token);
        };
    }

    /** Malformed structure found while walking (the parser reports most of it itself). */
    private static final class JsonParseProblem extends IOException {
        JsonParseProblem(String message) {
            super(message);
        }
    }
}
