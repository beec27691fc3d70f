package org.streaminference.operators.validation;

import org.apache.flink.annotation.Internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The JSON decoder's fast path: reads the common event (ASCII, no escapes, numbers a double holds
 * exactly after one rounding) straight from its bytes, each number into its float or double without
 * a token, a char buffer or a String, and declines everything else. It accepts only what Jackson
 * accepts and gives exactly the values Jackson gives: on anything it is not sure of (an escape, a
 * byte above 0x7F, a number with more than 18 digits or an exponent past ±22, a float that a double
 * rounding could move, a value of the wrong type, bad syntax) it returns false and the caller reads
 * the record again with Jackson, which gives the value or the error. A 784-number array was 70% of
 * a JSON event's cost in Jackson's tokenizer and number parser.
 */
@Internal
final class AsciiJsonReader {
    /** Thrown to leave the fast path; carries no stack. */
    private static final class Decline extends Exception {
        private static final long serialVersionUID = 1L;
        static final Decline INSTANCE = new Decline();

        private Decline() {
            super(null, null, false, false);
        }
    }

    /** Powers of ten a double holds exactly. */
    private static final double[] POWERS = new double[23];

    static {
        double p = 1;
        for (int i = 0; i < POWERS.length; i++) {
            POWERS[i] = p;
            p *= 10;
        }
    }

    private static final int MAX_NUMBER_LENGTH = 64;

    private final int maxDepth;

    /**
     * Where an array's numbers are read before they are copied out at their count: it grows to the
     * widest vector once, so a 784-number array is not grown through five sizes on every event.
     */
    private float[] scratch = new float[64];

    // the record being read
    private byte[] bytes;
    private int end;
    private int pos;

    // the last number read: its kind, sign, digits and power of ten
    private boolean integer;
    private boolean negative;
    private long mantissa;
    private int digits; // in the mantissa: more than 18 are left to Jackson
    private int power;
    private int numberStart;

    /** A reader for one thread (a decoder's), reused record after record. */
    AsciiJsonReader(int maxDepth) {
        this.maxDepth = maxDepth;
    }

    /**
     * Reads the JSON object in {@code bytes[offset, offset + length)} into {@code values}; false
     * where the fast path declines (then {@code values} holds a part and must be thrown away).
     */
    boolean read(
            byte[] bytes,
            int offset,
            int length,
            EventFieldMapping.Node tree,
            EventFieldMapping.Values values) {
        this.bytes = bytes;
        this.pos = offset;
        this.end = offset + length;
        try {
            whitespace();
            expect('{');
            object(tree, values, 1);
            whitespace();
            return pos == end;
        } catch (Decline e) {
            return false;
        } finally {
            this.bytes = null; // the record is not kept
        }
    }

    private void object(EventFieldMapping.Node node, EventFieldMapping.Values values, int depth)
            throws Decline {
        if (depth >= maxDepth) {
            throw Decline.INSTANCE;
        }
        whitespace();
        if (peek() == '}') {
            pos++;
            return;
        }
        while (true) {
            whitespace();
            expect('"');
            String name = string();
            whitespace();
            expect(':');
            whitespace();
            EventFieldMapping.Node child = node == null ? null : node.children.get(name);
            if (child == null) {
                skip(depth);
            } else if (peek() == 'n') {
                literal("null"); // an absent optional value
            } else if (!child.roles.isEmpty()) {
                value(child, values);
            } else if (peek() == '{') {
                pos++;
                object(child, values, depth + 1);
            } else {
                throw Decline.INSTANCE; // not an object: Jackson says so
            }
            whitespace();
            byte c = next();
            if (c == '}') {
                return;
            }
            if (c != ',') {
                throw Decline.INSTANCE;
            }
        }
    }

    private void value(EventFieldMapping.Node node, EventFieldMapping.Values values)
            throws Decline {
        byte c = peek();
        if (c == '[') {
            if (!node.roles.contains(EventFieldMapping.Role.VECTOR)) {
                throw Decline.INSTANCE;
            }
            pos++;
            values.vectors[node.vector] = floats();
            return;
        }
        if (c == '{') {
            throw Decline.INSTANCE;
        }
        // one scalar, read once, then taken in each role its path has
        String text = null;
        boolean isNumber = false;
        boolean isString = false;
        int start = pos;
        if (c == '"') {
            pos++;
            text = string();
            isString = true;
        } else if (c == 't') {
            literal("true");
            text = "true";
        } else if (c == 'f') {
            literal("false");
            text = "false";
        } else {
            number();
            isNumber = true;
        }
        for (EventFieldMapping.Role role : node.roles) {
            switch (role) {
                case EVENT_ID -> values.eventId = text(text, isNumber, start);
                case ENTITY_ID -> values.entityId = text(text, isNumber, start);
                case EVENT_TYPE -> values.eventType = text(text, isNumber, start);
                case CATEGORICAL ->
                        values.categorical[node.categorical] = text(text, isNumber, start);
                case EVENT_TIME -> {
                    if (!isNumber || !integer) {
                        throw Decline.INSTANCE;
                    }
                    values.eventTime = negative ? -mantissa : mantissa;
                }
                case NUMERIC -> {
                    if (!isNumber || isString) {
                        throw Decline.INSTANCE;
                    }
                    values.numeric(node, toDouble());
                }
                default -> throw Decline.INSTANCE; // a vector that is not an array
            }
        }
    }

    /** A text role's value: a string as it is, an integer or a boolean as its JSON text. */
    private String text(String text, boolean isNumber, int start) throws Decline {
        if (!isNumber) {
            return text;
        }
        if (!integer) {
            throw Decline.INSTANCE;
        }
        return new String(bytes, start, pos - start, StandardCharsets.ISO_8859_1);
    }

    /** The numbers of an array, after its '['. */
    private float[] floats() throws Decline {
        float[] vector = scratch;
        int size = 0;
        whitespace();
        if (peek() == ']') {
            pos++;
            return new float[0];
        }
        while (true) {
            whitespace();
            number();
            if (size == vector.length) {
                vector = Arrays.copyOf(vector, size * 2); // bounded: the record's size is
                scratch = vector;
            }
            vector[size++] = toFloat();
            whitespace();
            byte c = next();
            if (c == ']') {
                return Arrays.copyOf(vector, size);
            }
            if (c != ',') {
                throw Decline.INSTANCE;
            }
        }
    }

    /**
     * Reads a number in JSON's strict grammar into {@link #mantissa} and {@link #power}: up to 18
     * significant digits, an exponent of up to 4 digits.
     */
    private void number() throws Decline {
        numberStart = pos;
        negative = peek() == '-';
        pos += negative ? 1 : 0; // signs are often random: no branch to mispredict
        mantissa = 0;
        digits = 0;
        power = 0;
        byte c = peek();
        if (c == '0') {
            pos++;
        } else if (c >= '1' && c <= '9') {
            integerDigits();
        } else {
            throw Decline.INSTANCE;
        }
        integer = true;
        if (pos < end && bytes[pos] == '.') {
            integer = false;
            pos++;
            fraction();
        }
        if (pos < end && (bytes[pos] == 'e' || bytes[pos] == 'E')) {
            integer = false;
            exponent();
        }
        if (digits > 18 || pos - numberStart > MAX_NUMBER_LENGTH) {
            throw Decline.INSTANCE;
        }
        if (integer && negative && mantissa == 0) {
            throw Decline.INSTANCE; // "-0": left to Jackson
        }
        endOfValue();
    }

    /** The digits of an integer part that does not start with 0. */
    private void integerDigits() {
        long m = 0;
        int count = 0;
        byte c;
        while (pos < end && (c = bytes[pos]) >= '0' && c <= '9') {
            m = m * 10 + (c - '0');
            count++;
            pos++;
        }
        mantissa = m;
        digits = count;
    }

    /** The digits after the point: at least one. */
    private void fraction() throws Decline {
        long m = mantissa;
        int count = digits;
        int scale = 0;
        int first = pos;
        if (pos + 16 <= end) {
            // up to 15 digits eight at a time, without a branch on how many there are
            long t1 = (long) LONG_LE.get(bytes, pos) ^ ASCII_ZEROS;
            int n1 = leadingDigits(t1);
            long t2 = (long) LONG_LE.get(bytes, pos + 8) ^ ASCII_ZEROS;
            int n2 = leadingDigits(t2) & -(n1 >>> 3); // none unless the first eight all were
            if (n1 > 0 && n2 < 8) {
                // zeros leading the fraction count as digits here (below they do not): that
                // happens only after an integer part of 0, and then at most 15 are read, so the
                // limit of 18 holds as it would
                m =
                        (m * LONG_POWERS[n1] + digitsValue(t1, n1)) * LONG_POWERS[n2]
                                + digitsValue(t2, n2);
                count += n1 + n2;
                scale -= n1 + n2;
                pos += n1 + n2;
            }
        }
        byte c;
        while (pos < end && (c = bytes[pos]) >= '0' && c <= '9') {
            if (m != 0 || c != '0') {
                m = m * 10 + (c - '0');
                count++;
            }
            scale--;
            pos++;
        }
        if (pos == first) {
            throw Decline.INSTANCE;
        }
        mantissa = m;
        digits = count;
        power = scale;
    }

    /** An exponent after its 'e' or 'E': up to 4 digits, added to {@link #power}. */
    private void exponent() throws Decline {
        pos++;
        boolean minus = false;
        if (pos < end && (bytes[pos] == '+' || bytes[pos] == '-')) {
            minus = bytes[pos] == '-';
            pos++;
        }
        int first = pos;
        int exponent = 0;
        byte c;
        while (pos < end && (c = bytes[pos]) >= '0' && c <= '9') {
            exponent = exponent * 10 + (c - '0');
            pos++;
            if (pos - first > 4) {
                throw Decline.INSTANCE;
            }
        }
        if (pos == first) {
            throw Decline.INSTANCE;
        }
        power += minus ? -exponent : exponent;
    }

    /** Eight bytes as one little-endian long: the first byte in the lowest bits. */
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private static final long ASCII_ZEROS = 0x3030303030303030L;

    private static final long[] LONG_POWERS = new long[9];

    /** The low {@code n} bytes of a long, for {@code n} from 0 to 8. */
    private static final long[] LOW_BYTES = new long[9];

    static {
        for (int n = 0; n <= 8; n++) {
            LONG_POWERS[n] = n == 0 ? 1 : LONG_POWERS[n - 1] * 10;
            LOW_BYTES[n] = n == 8 ? -1L : (1L << (8 * n)) - 1;
        }
    }

    /**
     * How many of the eight bytes (each XORed with {@code '0'}, so that a digit's byte is its
     * value) are digits before the first that is not. Such a byte is a digit when it and it plus 6
     * are both below 16; a carry out of a byte that is not a digit only reaches bytes after it.
     */
    private static int leadingDigits(long t) {
        long notDigits = (t | (t + 0x0606060606060606L)) & 0xF0F0F0F0F0F0F0F0L;
        return Long.numberOfTrailingZeros(notDigits) >>> 3;
    }

    /**
     * The value of the first {@code n} digits of {@code t} (bytes 0-9, the first the most
     * significant): moved to the top so that zeros lead, then combined in three multiplications
     * (the SWAR method of simdjson and fast_float).
     */
    private static long digitsValue(long t, int n) {
        long v = (t & LOW_BYTES[n]) << (8 * (8 - n)); // n = 0: nothing left, any shift
        v = v * 10 + (v >>> 8);
        return (((v & 0x000000FF000000FFL) * (100 + (1_000_000L << 32)))
                        + (((v >>> 16) & 0x000000FF000000FFL) * (1 + (10_000L << 32))))
                >>> 32;
    }

    /** The number as the double nearest its text, where one rounding gives it. */
    private double toDouble() throws Decline {
        if (integer) {
            return negative ? -(double) mantissa : (double) mantissa;
        }
        if (mantissa == 0) {
            return negative ? -0.0 : 0.0;
        }
        if (mantissa > (1L << 53) || power < -22 || power > 22) {
            throw Decline.INSTANCE;
        }
        // both operands exact: the one IEEE operation rounds correctly (Clinger's fast path)
        double d = power >= 0 ? mantissa * POWERS[power] : mantissa / POWERS[-power];
        return Math.copySign(d, negative ? -1.0 : 1.0);
    }

    /**
     * The number as the float nearest its text. The double nearest it rounds to the same float
     * unless that double lies exactly halfway between two floats (no double lies between the text's
     * value and its nearest double, so no halfway point either): that case, and values outside the
     * normal floats, are left to Jackson.
     */
    private float toFloat() throws Decline {
        if (integer) {
            return negative ? -(float) mantissa : (float) mantissa; // one correct rounding
        }
        double d = toDouble();
        double magnitude = Math.abs(d);
        if (magnitude == 0) {
            return (float) d;
        }
        if (magnitude < Float.MIN_NORMAL || magnitude > Float.MAX_VALUE) {
            throw Decline.INSTANCE;
        }
        // the 29 bits a float drops: exactly half of its last place is a tie
        if ((Double.doubleToRawLongBits(d) & 0x1FFFFFFFL) == 0x10000000L) {
            throw Decline.INSTANCE;
        }
        return (float) d;
    }

    /** A string's content after its opening quote: printable ASCII without escapes. */
    private String string() throws Decline {
        int start = pos;
        while (pos < end) {
            byte c = bytes[pos];
            if (c == '"') {
                String s = new String(bytes, start, pos - start, StandardCharsets.ISO_8859_1);
                pos++;
                return s;
            }
            if (c == '\\' || c < 0x20) { // an escape or a control byte; a byte above 0x7F is < 0
                throw Decline.INSTANCE;
            }
            pos++;
        }
        throw Decline.INSTANCE;
    }

    /** Skips a value no path names, checking its syntax as it goes. */
    private void skip(int depth) throws Decline {
        byte c = peek();
        switch (c) {
            case '"' -> {
                pos++;
                skipString();
            }
            case '{' -> {
                pos++;
                if (depth + 1 >= maxDepth) {
                    throw Decline.INSTANCE;
                }
                whitespace();
                if (peek() == '}') {
                    pos++;
                    return;
                }
                while (true) {
                    whitespace();
                    expect('"');
                    skipString();
                    whitespace();
                    expect(':');
                    whitespace();
                    skip(depth + 1);
                    whitespace();
                    byte n = next();
                    if (n == '}') {
                        return;
                    }
                    if (n != ',') {
                        throw Decline.INSTANCE;
                    }
                }
            }
            case '[' -> {
                pos++;
                if (depth + 1 >= maxDepth) {
                    throw Decline.INSTANCE;
                }
                whitespace();
                if (peek() == ']') {
                    pos++;
                    return;
                }
                while (true) {
                    whitespace();
                    skip(depth + 1);
                    whitespace();
                    byte n = next();
                    if (n == ']') {
                        return;
                    }
                    if (n != ',') {
                        throw Decline.INSTANCE;
                    }
                }
            }
            case 't' -> literal("true");
            case 'f' -> literal("false");
            case 'n' -> literal("null");
            default -> number();
        }
    }

    private void skipString() throws Decline {
        while (pos < end) {
            byte c = bytes[pos++];
            if (c == '"') {
                return;
            }
            if (c == '\\' || c < 0x20) {
                throw Decline.INSTANCE;
            }
        }
        throw Decline.INSTANCE;
    }

    private void literal(String word) throws Decline {
        if (end - pos < word.length()) {
            throw Decline.INSTANCE;
        }
        for (int i = 0; i < word.length(); i++) {
            if (bytes[pos + i] != word.charAt(i)) {
                throw Decline.INSTANCE;
            }
        }
        pos += word.length();
        endOfValue();
    }

    /** A number or a literal ends at a delimiter (or at the end, which the caller then refuses). */
    private void endOfValue() throws Decline {
        if (pos < end) {
            byte c = bytes[pos];
            if (c != ',' && c != ']' && c != '}' && c != ' ' && c != '\n' && c != '\r'
                    && c != '\t') {
                throw Decline.INSTANCE;
            }
        }
    }

    private void whitespace() {
        while (pos < end) {
            byte c = bytes[pos];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                return;
            }
            pos++;
        }
    }

    private byte peek() throws Decline {
        if (pos >= end) {
            throw Decline.INSTANCE;
        }
        return bytes[pos];
    }

    private byte next() throws Decline {
        if (pos >= end) {
            throw Decline.INSTANCE;
        }
        return bytes[pos++];
    }

    private void expect(char c) throws Decline {
        if (next() != c) {
            throw Decline.INSTANCE;
        }
    }
}
