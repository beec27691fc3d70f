package org.streaminference.schemas;

import org.apache.avro.Schema;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks an Avro binary body against its schema without materialising anything, before Avro decodes
 * it. Avro's decoder trusts length prefixes: a map whose block count claims 10^9 entries in a
 * 74-byte record makes it allocate a 4 GB map, and a string length of 2^31 costs seconds. Here
 * every length and block count is checked against the bytes that remain (an item takes at least as
 * many bytes as its schema's smallest encoding), so a hostile body is refused in time linear in its
 * size, and only a body that passes is handed to Avro. It also refuses what the decoder would
 * accept silently: strings that are not well-formed UTF-8 (Java would turn them into U+FFFD),
 * strings holding U+0000 (no result store can keep them), union and enum indexes out of range, and
 * bytes left over after the record.
 */
@Internal
public final class AvroPayloadCheck {
    /** Nesting deeper than this (a recursive schema) is refused. */
    public static final int MAX_DEPTH = 32;

    /**
     * Why a body was refused: the reason code its dead letter carries and a message naming the
     * field.
     */
    public record Problem(ReasonCode reason, String message) {}

    private final Schema schema;
    private final Map<Schema, Integer> minSizes = new IdentityHashMap<>();

    public AvroPayloadCheck(Schema schema) {
        this.schema = schema;
    }

    /**
     * The problem with {@code body} (read from its position to its limit, not consumed), or null if
     * it is sound.
     */
    public Problem check(ByteBuffer body) {
        Walk walk = new Walk(body.duplicate());
        try {
            walk.value(schema, "", 0);
        } catch (Refused e) {
            return e.problem;
        }
        if (walk.in.hasRemaining()) {
            return new Problem(
                    ReasonCode.MALFORMED_AVRO,
                    walk.in.remaining()
                            + " bytes follow the end of the "
                            + schema.getName()
                            + " record");
        }
        return null;
    }

    /** The fewest bytes any value of {@code s} takes; bounds the item count a block may claim. */
    int minSize(Schema s) {
        Integer known = minSizes.get(s);
        if (known != null) {
            return known;
        }
        minSizes.put(s, 0); // a recursive reference counts as 0 while its size is worked out
        int size =
                switch (s.getType()) {
                    case NULL -> 0;
                    case BOOLEAN, INT, LONG, ENUM, STRING, BYTES, ARRAY, MAP -> 1;
                    case FLOAT -> 4;
                    case DOUBLE -> 8;
                    case FIXED -> s.getFixedSize();
                    case UNION -> 1 + s.getTypes().stream().mapToInt(this::minSize).min().orElse(0);
                    case RECORD -> s.getFields().stream().mapToInt(f -> minSize(f.schema())).sum();
                };
        minSizes.put(s, size);
        return size;
    }

    private static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Problem problem;

        Refused(ReasonCode reason, String message) {
            super(message, null, false, false);
            this.problem = new Problem(reason, message);
        }
    }

    private final class Walk {
        final ByteBuffer in;

        Walk(ByteBuffer in) {
            this.in = in;
        }

        void value(Schema s, String path, int depth) {
            if (depth > MAX_DEPTH) {
                throw malformed(path, "nested deeper than " + MAX_DEPTH + " levels");
            }
            switch (s.getType()) {
                case NULL -> {}
                case BOOLEAN -> {
                    int b = take(path, 1).get() & 0xff;
                    if (b > 1) {
                        throw malformed(path, "boolean byte is " + b);
                    }
                }
                case INT -> {
                    long v = varLong(path);
                    if (v != (int) v) {
                        throw malformed(path, "int out of range");
                    }
                }
                case LONG -> varLong(path);
                case FLOAT -> skip(path, 4);
                case DOUBLE -> skip(path, 8);
                case FIXED -> skip(path, s.getFixedSize());
                case BYTES -> take(path, length(path));
                case STRING -> string(path);
                case ENUM -> index(path, s.getEnumSymbols().size(), "enum symbol");
                case UNION -> {
                    List<Schema> branches = s.getTypes();
                    value(
                            branches.get(index(path, branches.size(), "union branch")),
                            path,
                            depth + 1);
                }
                case RECORD -> {
                    for (Schema.Field f : s.getFields()) {
                        value(
                                f.schema(),
                                path.isEmpty() ? f.name() : path + "." + f.name(),
                                depth + 1);
                    }
                }
                case ARRAY -> blocks(path, depth, s.getElementType(), null);
                case MAP -> blocks(path, depth, s.getValueType(), s);
            }
        }

        /** Array or map blocks: each block's count is bounded by the bytes left for its items. */
        private void blocks(String path, int depth, Schema item, Schema map) {
            int itemSize = Math.max(1, minSize(item) + (map == null ? 0 : 1));
            String keyPath =
                    path + "{key}"; // built once per collection, not per item: the walk stays cheap
            String itemPath = path + (map == null ? "[]" : "{value}");
            while (true) {
                long count = varLong(path);
                if (count == 0) {
                    return;
                }
                if (count < 0) {
                    if (count == Long.MIN_VALUE) {
                        throw malformed(path, "block count out of range");
                    }
                    count = -count;
                    long blockBytes = varLong(path);
                    if (blockBytes < 0 || blockBytes > in.remaining()) {
                        throw malformed(
                                path,
                                "block size "
                                        + blockBytes
                                        + " exceeds the "
                                        + in.remaining()
                                        + " bytes left");
                    }
                }
                if (count > in.remaining() / itemSize) {
                    throw malformed(
                            path,
                            "block claims "
                                    + count
                                    + " items but only "
                                    + in.remaining()
                                    + " bytes are left");
                }
                int fixedSize =
                        map != null
                                ? -1
                                : switch (item.getType()) {
                                    case FLOAT -> 4;
                                    case DOUBLE -> 8;
                                    case FIXED -> item.getFixedSize();
                                    default -> -1;
                                };
                if (fixedSize
                        > 0) { // every item the same size, any bytes valid: the block at once (an
                    // image)
                    skip(itemPath, Math.multiplyExact(Math.toIntExact(count), fixedSize));
                    continue;
                }
                for (long i = 0; i < count; i++) {
                    if (map != null) {
                        string(keyPath);
                    }
                    value(item, itemPath, depth + 1);
                }
            }
        }

        private void string(String path) {
            Problem problem = utf8Problem(take(path, length(path)));
            if (problem != null) {
                throw new Refused(problem.reason(), "field '" + path + "': " + problem.message());
            }
        }

        private int length(String path) {
            long n = varLong(path);
            if (n < 0 || n > in.remaining()) {
                throw malformed(
                        path, "length " + n + " exceeds the " + in.remaining() + " bytes left");
            }
            return (int) n;
        }

        private int index(String path, int size, String what) {
            long i = varLong(path);
            if (i < 0 || i >= size) {
                throw malformed(path, what + " index " + i + " is not below " + size);
            }
            return (int) i;
        }

        private void skip(String path, int n) {
            if (n > in.remaining()) {
                throw malformed(path, "needs " + n + " bytes, " + in.remaining() + " left");
            }
            in.position(in.position() + n);
        }

        private ByteBuffer take(String path, int n) {
            if (n > in.remaining()) {
                throw malformed(path, "needs " + n + " bytes, " + in.remaining() + " left");
            }
            ByteBuffer slice = in.slice(in.position(), n);
            in.position(in.position() + n);
            return slice;
        }

        /** Avro's zig-zag varint, at most 10 bytes. */
        private long varLong(String path) {
            long raw = 0;
            for (int shift = 0; shift < 70; shift += 7) {
                if (!in.hasRemaining()) {
                    throw malformed(path, "ends inside a number");
                }
                int b = in.get() & 0xff;
                raw |= (long) (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            throw malformed(path, "number longer than 10 bytes");
        }

        private Refused malformed(String path, String message) {
            return new Refused(
                    ReasonCode.MALFORMED_AVRO,
                    (path.isEmpty() ? "" : "field '" + path + "': ") + message);
        }
    }

    /**
     * Why {@code bytes} is not well-formed UTF-8 text that a store can keep, or null: U+0000 is an
     * invalid field (well-formed, but no store keeps it); overlong forms, surrogates, code points
     * past U+10FFFF and cut sequences are malformed.
     */
    static Problem utf8Problem(ByteBuffer bytes) {
        int i = bytes.position();
        int end = bytes.limit();
        while (i < end) {
            int b = bytes.get(i) & 0xff;
            if (b == 0) {
                return new Problem(ReasonCode.INVALID_FIELD, "string contains U+0000");
            }
            if (b < 0x80) {
                i++;
                continue;
            }
            int extra;
            int min;
            int cp;
            if (b >= 0xc2 && b <= 0xdf) {
                extra = 1;
                min = 0x80;
                cp = b & 0x1f;
            } else if (b >= 0xe0 && b <= 0xef) {
                extra = 2;
                min = 0x800;
                cp = b & 0x0f;
            } else if (b >= 0xf0 && b <= 0xf4) {
                extra = 3;
                min = 0x10000;
                cp = b & 0x07;
            } else {
                return malformedText("not UTF-8 (byte 0x" + Integer.toHexString(b) + ")");
            }
            if (i + extra >= end) {
                return malformedText("ends inside a UTF-8 sequence");
            }
            for (int k = 1; k <= extra; k++) {
                int c = bytes.get(i + k) & 0xff;
                if ((c & 0xc0) != 0x80) {
                    return malformedText("not UTF-8 (bad continuation byte)");
                }
                cp = (cp << 6) | (c & 0x3f);
            }
            if (cp < min || cp > 0x10ffff) {
                return malformedText("not UTF-8 (overlong or out of range)");
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                return malformedText("an unpaired surrogate");
            }
            i += extra + 1;
        }
        return null;
    }

    private static Problem malformedText(String what) {
        return new Problem(ReasonCode.MALFORMED_AVRO, "string is " + what);
    }
}
