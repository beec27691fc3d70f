package org.streaminference.operators.validation;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.flink.annotation.Internal;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * The fingerprints other Avro libraries compute for a schema. Single-object encoding names a
 * record's schema by the CRC-64-AVRO fingerprint of its parsing canonical form, and libraries
 * disagree on that form: Python's {@code avro} (1.11, Debian's python3-avro) writes a primitive
 * that carries any attribute, such as a {@code logicalType}, as {@code {"type":"long"}} where the
 * specification, and Java, write {@code "long"}. A schema with a {@code timestamp-millis} field
 * therefore has two fingerprints in the wild; the job accepts both for the same version.
 */
@Internal
final class ParsingForms {
    private ParsingForms() {}

    /**
     * The fingerprint Python's avro library puts in front of single-object records of {@code
     * schema}.
     */
    static long pythonFingerprint(Schema schema) {
        return SchemaNormalization.fingerprint64(
                pythonForm(schema).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Python's parsing canonical form: the specification's, but a primitive with attributes as an
     * object.
     */
    static String pythonForm(Schema schema) {
        StringBuilder out = new StringBuilder();
        write(schema, new HashSet<>(), out);
        return out.toString();
    }

    private static void write(Schema s, Set<String> named, StringBuilder out) {
        switch (s.getType()) {
            case UNION -> {
                out.append('[');
                String sep = "";
                for (Schema branch : s.getTypes()) {
                    out.append(sep);
                    write(branch, named, out);
                    sep = ",";
                }
                out.append(']');
            }
            case ARRAY -> {
                out.append("{\"type\":\"array\",\"items\":");
                write(s.getElementType(), named, out);
                out.append('}');
            }
            case MAP -> {
                out.append("{\"type\":\"map\",\"values\":");
                write(s.getValueType(), named, out);
                out.append('}');
            }
            case RECORD, ENUM, FIXED -> {
                String name = s.getFullName();
                if (!named.add(name)) {
                    quote(name, out);
                    return;
                }
                out.append("{\"name\":");
                quote(name, out);
                out.append(",\"type\":");
                quote(s.getType().getName(), out);
                if (s.getType() == Schema.Type.ENUM) {
                    out.append(",\"symbols\":[");
                    String sep = "";
                    for (String symbol : s.getEnumSymbols()) {
                        out.append(sep);
                        quote(symbol, out);
                        sep = ",";
                    }
                    out.append(']');
                } else if (s.getType() == Schema.Type.FIXED) {
                    out.append(",\"size\":").append(s.getFixedSize());
                } else {
                    out.append(",\"fields\":[");
                    String sep = "";
                    for (Schema.Field field : s.getFields()) {
                        out.append(sep).append("{\"name\":");
                        quote(field.name(), out);
                        out.append(",\"type\":");
                        write(field.schema(), named, out);
                        out.append('}');
                        sep = ",";
                    }
                    out.append(']');
                }
                out.append('}');
            }
            default -> {
                boolean attributed = s.getLogicalType() != null || !s.getObjectProps().isEmpty();
                if (attributed) {
                    out.append("{\"type\":");
                    quote(s.getType().getName(), out);
                    out.append('}');
                } else {
                    quote(s.getType().getName(), out);
                }
            }
        }
    }

    private static void quote(String text, StringBuilder out) {
        out.append('"').append(text.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
    }
}
