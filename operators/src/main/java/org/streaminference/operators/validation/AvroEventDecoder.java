package org.streaminference.operators.validation;

import org.streaminference.schemas.AvroPayloadCheck;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.UntrustedText;

import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.ResolvingDecoder;
import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The user's events in their own Avro schema, in single-object encoding (the record's fingerprint
 * picks its writer schema among every version the job was given, so producers can be upgraded one
 * by one) or plain binary (one version only: nothing in the record names it). Decoding resolves the
 * writer schema against a projection of it that keeps only the fields the {@link EventFieldMapping}
 * names, so Avro skips every other field without building it, and reads the named ones straight
 * into the event's primitives and arrays (no record, no boxed values); the body is bounded first
 * ({@link AvroPayloadCheck} against the writer schema). Every path is checked against the schema
 * when the decoder is made, so a spec that reads a field the events do not have fails the job's
 * start, not each event.
 */
@Internal
public final class AvroEventDecoder implements EventDecoder {
    private static final long serialVersionUID = 1L;

    /** How a record value holds the event. */
    public enum Encoding {
        SINGLE_OBJECT,
        BINARY
    }

    /** The writer schemas, in the order given (JSON: the decoder travels to the TaskManagers). */
    private final List<String> writerSchemas;

    private final Encoding encoding;
    private final EventFieldMapping mapping;

    /** Each writer schema by its fingerprint, with what reading its records needs. */
    private transient Map<Long, Writer> writers;

    /** The one writer of BINARY records. */
    private transient Writer onlyWriter;

    private transient String known;
    private transient BinaryDecoder decoder;

    /** Bytes of one block of a float or double array on their way into the vector. */
    private transient byte[] scratch;

    /** The resolver of the record being read (its writer's). */
    private transient ResolvingDecoder resolver;

    private transient EventFieldMapping.Node tree;

    /** One version of the events' schema and the projection its records are read through. */
    private static final class Writer {
        final Schema schema;
        final long fingerprint;
        final AvroPayloadCheck bodyCheck;
        final Schema projection;
        ResolvingDecoder resolver;

        Writer(Schema schema, EventFieldMapping.Node tree) {
            this.schema = schema;
            this.fingerprint = SchemaNormalization.parsingFingerprint64(schema);
            this.bodyCheck = new AvroPayloadCheck(schema);
            this.projection = project(schema, tree);
        }
    }

    /**
     * @throws IllegalArgumentException naming a path the schema does not have, or has with a type
     *     that does not fit
     */
    public AvroEventDecoder(Schema writer, Encoding encoding, EventFieldMapping mapping) {
        this(List.of(writer), encoding, mapping);
    }

    /**
     * Reads records written with any of {@code writers} (the versions of the events' schema).
     *
     * @throws IllegalArgumentException naming the version and the path it does not have, or has
     *     with a type that does not fit; for BINARY with more than one version; for a version given
     *     twice
     */
    public AvroEventDecoder(List<Schema> writers, Encoding encoding, EventFieldMapping mapping) {
        if (writers.isEmpty()) {
            throw new IllegalArgumentException("no schema for the events");
        }
        if (encoding == Encoding.BINARY && writers.size() > 1) {
            throw new IllegalArgumentException(
                    "BINARY records name no schema, so a job reads them with one schema"
                            + " only, not "
                            + writers.size()
                            + "; producers that upgrade their schema write SINGLE_OBJECT");
        }
        Map<Long, String> seen = new LinkedHashMap<>();
        List<String> json = new ArrayList<>();
        for (Schema writer : writers) {
            String version = describeVersion(writer);
            if (writer.getType() != Schema.Type.RECORD) {
                throw new IllegalArgumentException(
                        version + ": the events' schema must be a record, not " + writer.getType());
            }
            try {
                project(writer, mapping.tree()); // checks every path now
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(version + ": " + e.getMessage(), e);
            }
            String twice = seen.put(SchemaNormalization.parsingFingerprint64(writer), version);
            if (twice != null) {
                throw new IllegalArgumentException(version + " is given twice");
            }
            json.add(writer.toString());
        }
        this.writerSchemas = List.copyOf(json);
        this.encoding = encoding;
        this.mapping = mapping;
    }

    /** A schema version as messages name it: its full name and fingerprint. */
    static String describeVersion(Schema writer) {
        return "schema "
                + writer.getFullName()
                + " (fingerprint "
                + Long.toHexString(SchemaNormalization.parsingFingerprint64(writer))
                + ")";
    }

    private void open() {
        tree = mapping.tree();
        writers = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        for (String json : writerSchemas) {
            Writer writer = new Writer(new Schema.Parser().parse(json), tree);
            writers.put(writer.fingerprint, writer);
            writers.putIfAbsent(
                    ParsingForms.pythonFingerprint(writer.schema), writer); // what Python writes
            names.add(writer.schema.getFullName() + " " + Long.toHexString(writer.fingerprint));
            onlyWriter = writer;
        }
        known = String.join(", ", names);
    }

    @Override
    public Decoded decode(ByteBuffer value, long kafkaTimestamp) {
        if (writers == null) {
            open();
        }
        ByteBuffer body = value.duplicate();
        Writer writer = onlyWriter;
        if (encoding == Encoding.SINGLE_OBJECT) {
            if (!EnvelopeEventDecoder.hasSingleObjectHeader(body)) {
                return Decoded.failed(
                        ReasonCode.MALFORMED_AVRO,
                        "not Avro single-object encoding (no C3 01 header and 8-byte schema fingerprint)");
            }
            long found = EnvelopeEventDecoder.fingerprint(body);
            writer = writers.get(found);
            if (writer == null) {
                return Decoded.failed(
                        ReasonCode.UNKNOWN_SCHEMA,
                        "schema fingerprint "
                                + Long.toHexString(found)
                                + " is none of the events' schemas ("
                                + known
                                + "; events.avro.schema)");
            }
            body.position(body.position() + EnvelopeEventDecoder.HEADER_BYTES);
        }
        AvroPayloadCheck.Problem problem = writer.bodyCheck.check(body);
        if (problem != null) {
            return Decoded.failed(
                    problem.reason(), writer.schema.getName() + " " + problem.message());
        }
        EventFieldMapping.Values values = mapping.values();
        try {
            decoder = EnvelopeEventDecoder.binaryDecoder(body, decoder);
            if (writer.resolver == null) {
                writer.resolver =
                        DecoderFactory.get()
                                .resolvingDecoder(writer.schema, writer.projection, decoder);
            } else {
                writer.resolver.configure(decoder);
            }
            resolver = writer.resolver;
            readRecord(tree, values);
            resolver.drain();
        } catch (IOException
                | AvroRuntimeException
                | IndexOutOfBoundsException
                | NegativeArraySizeException e) {
            return Decoded.failed(
                    ReasonCode.MALFORMED_AVRO,
                    "cannot decode "
                            + writer.schema.getName()
                            + ": "
                            + UntrustedText.escape(String.valueOf(e), 200));
        }
        return mapping.decoded(values, kafkaTimestamp);
    }

    /**
     * Reads one record of the projection straight into {@code values}: Avro's resolver skips the
     * writer's other fields, and nothing is built per value (no record, no boxed number, no list
     * per array).
     */
    private void readRecord(EventFieldMapping.Node node, EventFieldMapping.Values values)
            throws IOException {
        for (Schema.Field field : resolver.readFieldOrder()) {
            readValue(field.schema(), node.children.get(field.name()), values);
        }
    }

    private void readValue(
            Schema type, EventFieldMapping.Node node, EventFieldMapping.Values values)
            throws IOException {
        switch (type.getType()) {
            case UNION -> readValue(type.getTypes().get(resolver.readIndex()), node, values);
            case NULL -> resolver.readNull(); // an optional value that is absent
            case RECORD -> readRecord(node, values);
            case ARRAY -> values.vectors[node.vector] = readVector(type.getElementType().getType());
            case STRING -> text(node, resolver.readString(), values);
            case ENUM -> text(node, type.getEnumSymbols().get(resolver.readEnum()), values);
            case INT -> number(node, resolver.readInt(), values);
            case LONG -> number(node, resolver.readLong(), values);
            case FLOAT -> number(node, resolver.readFloat(), values);
            case DOUBLE -> number(node, resolver.readDouble(), values);
            default ->
                    throw new IllegalStateException(
                            "unhandled type " + type.getType()); // checked when made
        }
    }

    private static void text(
            EventFieldMapping.Node node, String text, EventFieldMapping.Values values) {
        for (EventFieldMapping.Role role : node.roles) {
            switch (role) {
                case EVENT_ID -> values.eventId = text;
                case ENTITY_ID -> values.entityId = text;
                case EVENT_TYPE -> values.eventType = text;
                case CATEGORICAL -> values.categorical[node.categorical] = text;
                default ->
                        throw new IllegalStateException(
                                "text read as " + role); // checked when made
            }
        }
    }

    /** A number: an id (int or long), the event time, or a numeric field. */
    private static void number(
            EventFieldMapping.Node node, long whole, EventFieldMapping.Values values) {
        for (EventFieldMapping.Role role : node.roles) {
            switch (role) {
                case EVENT_ID -> values.eventId = Long.toString(whole);
                case ENTITY_ID -> values.entityId = Long.toString(whole);
                case EVENT_TIME -> values.eventTime = whole;
                case NUMERIC -> values.numeric(node, whole);
                default ->
                        throw new IllegalStateException(
                                "a number read as " + role); // checked when made
            }
        }
    }

    private static void number(
            EventFieldMapping.Node node, double value, EventFieldMapping.Values values) {
        for (EventFieldMapping.Role role : node.roles) {
            if (role != EventFieldMapping.Role.NUMERIC) {
                throw new IllegalStateException("a fraction read as " + role); // checked when made
            }
            values.numeric(node, value);
        }
    }

    /**
     * An array of numbers as floats, block by block (its length is bounded by the payload check).
     * The projection keeps the writer's item type, so there is nothing to resolve per item: the
     * items are read from the binary decoder itself, and the resolver, which sees only the array's
     * start and its block counts, stays in step (its parser leaves the array's item repeater at the
     * array's end whether or not it saw the items). Floats and doubles are fixed-size little-endian
     * in Avro's binary encoding, so a block of them is read as one run of bytes and converted in
     * bulk; ints and longs are variable-length and read one by one.
     */
    private float[] readVector(Schema.Type items) throws IOException {
        float[] vector = null;
        int size = 0;
        for (long block = resolver.readArrayStart(); block != 0; block = resolver.arrayNext()) {
            int count = (int) block;
            if (vector == null) {
                vector = new float[count];
            } else if (size + count > vector.length) {
                vector = Arrays.copyOf(vector, size + count);
            }
            switch (items) {
                case FLOAT -> {
                    decoder.readFixed(scratch(count * Float.BYTES), 0, count * Float.BYTES);
                    ByteBuffer.wrap(scratch, 0, count * Float.BYTES)
                            .order(ByteOrder.LITTLE_ENDIAN)
                            .asFloatBuffer()
                            .get(vector, size, count);
                }
                case DOUBLE -> {
                    decoder.readFixed(scratch(count * Double.BYTES), 0, count * Double.BYTES);
                    DoubleBuffer doubles =
                            ByteBuffer.wrap(scratch, 0, count * Double.BYTES)
                                    .order(ByteOrder.LITTLE_ENDIAN)
                                    .asDoubleBuffer();
                    for (int i = 0; i < count; i++) {
                        vector[size + i] = (float) doubles.get(i);
                    }
                }
                case INT -> {
                    for (int i = 0; i < count; i++) {
                        vector[size + i] = decoder.readInt();
                    }
                }
                case LONG -> {
                    for (int i = 0; i < count; i++) {
                        vector[size + i] = decoder.readLong();
                    }
                }
                default ->
                        throw new IllegalStateException("array of " + items); // checked when made
            }
            size += count;
        }
        return vector == null ? new float[0] : vector; // grown block by block to exactly its items
    }

    /**
     * A buffer of at least {@code bytes} for one block of fixed-size items; grows to the largest
     * block seen.
     */
    private byte[] scratch(int bytes) {
        if (scratch == null || scratch.length < bytes) {
            scratch = new byte[Math.max(bytes, 4096)];
        }
        return scratch;
    }

    /**
     * {@code record} with only the fields {@code node} names (nested records projected the same
     * way): the reader schema that makes Avro skip everything else.
     */
    static Schema project(Schema record, EventFieldMapping.Node node) {
        List<Schema.Field> fields = new ArrayList<>();
        for (Map.Entry<String, EventFieldMapping.Node> entry : node.children.entrySet()) {
            EventFieldMapping.Node child = entry.getValue();
            Schema.Field field = record.getField(entry.getKey());
            if (field == null) {
                throw new IllegalArgumentException(
                        "'"
                                + child.path
                                + "': record "
                                + record.getFullName()
                                + " of the events' schema has no field '"
                                + entry.getKey()
                                + "'");
            }
            Schema type = field.schema();
            Schema projected;
            if (!child.roles.isEmpty()) {
                for (EventFieldMapping.Role role : child.roles) {
                    requireFits(nonNull(type, child), role, child);
                }
                projected = type;
            } else if (type.getType() == Schema.Type.RECORD) {
                projected = project(type, child);
            } else if (type.getType() == Schema.Type.UNION
                    && nonNull(type, child).getType() == Schema.Type.RECORD) {
                List<Schema> branches = new ArrayList<>();
                for (Schema branch : type.getTypes()) {
                    branches.add(
                            branch.getType() == Schema.Type.RECORD
                                    ? project(branch, child)
                                    : branch);
                }
                projected = Schema.createUnion(branches);
            } else {
                throw new IllegalArgumentException(
                        "'"
                                + child.path
                                + "' is a "
                                + type.getType()
                                + " in the events' schema, not a record to read fields from");
            }
            fields.add(new Schema.Field(field.name(), projected, null, (Object) null));
        }
        return Schema.createRecord(record.getName(), null, record.getNamespace(), false, fields);
    }

    /** The type a nullable union holds; the type itself where it is not a union. */
    private static Schema nonNull(Schema type, EventFieldMapping.Node node) {
        if (type.getType() != Schema.Type.UNION) {
            return type;
        }
        List<Schema> others =
                type.getTypes().stream().filter(t -> t.getType() != Schema.Type.NULL).toList();
        if (others.size() != 1) {
            throw new IllegalArgumentException(
                    "'"
                            + node.path
                            + "' is a union of "
                            + others.size()
                            + " types besides null; only an optional value (null and one type) can be read");
        }
        return others.get(0);
    }

    private static final Set<Schema.Type> NUMBERS =
            Set.of(Schema.Type.INT, Schema.Type.LONG, Schema.Type.FLOAT, Schema.Type.DOUBLE);

    private static void requireFits(
            Schema type, EventFieldMapping.Role role, EventFieldMapping.Node node) {
        Schema.Type t = type.getType();
        boolean fits =
                switch (role) {
                    case NUMERIC -> NUMBERS.contains(t);
                    case EVENT_TIME -> t == Schema.Type.LONG || t == Schema.Type.INT;
                    case EVENT_ID, ENTITY_ID ->
                            t == Schema.Type.STRING
                                    || t == Schema.Type.INT
                                    || t == Schema.Type.LONG;
                    case EVENT_TYPE, CATEGORICAL ->
                            t == Schema.Type.STRING || t == Schema.Type.ENUM;
                    case VECTOR ->
                            t == Schema.Type.ARRAY
                                    && NUMBERS.contains(type.getElementType().getType());
                };
        if (!fits) {
            throw new IllegalArgumentException(
                    "'"
                            + node.path
                            + "' is a "
                            + describe(type)
                            + " in the events'"
                            + " schema, which cannot be read as "
                            + switch (role) {
                                case NUMERIC -> "a number";
                                case EVENT_TIME -> "epoch milliseconds (long)";
                                case EVENT_ID, ENTITY_ID -> "an id (string, int or long)";
                                case EVENT_TYPE, CATEGORICAL -> "text (string or enum)";
                                case VECTOR -> "a vector (array of numbers)";
                            });
        }
    }

    private static String describe(Schema type) {
        return type.getType() == Schema.Type.ARRAY
                ? "array of " + type.getElementType().getType()
                : type.getType().getName();
    }
}
