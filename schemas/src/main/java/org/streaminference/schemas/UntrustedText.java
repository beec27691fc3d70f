package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;

/**
 * Makes untrusted text safe to put into a log line, an error message or a dead letter: truncated,
 * with control characters, unpaired surrogates and non-ASCII escaped, so that a hostile value can
 * neither forge log lines nor make a message that a sink cannot store.
 */
@Internal
public final class UntrustedText {
    /** The most characters of a value that a message repeats. */
    public static final int DEFAULT_MAX = 64;

    private UntrustedText() {}

    /**
     * The first {@value #DEFAULT_MAX} characters of {@code value}, escaped: what an error message
     * repeats of it.
     */
    public static String excerpt(String value) {
        return escape(value, DEFAULT_MAX);
    }

    /** {@code value} escaped, cut after {@code max} of its characters ({@code ...} marks a cut). */
    public static String escape(String value, int max) {
        if (value == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(Math.min(value.length(), max) + 8);
        int n = Math.min(value.length(), max);
        for (int i = 0; i < n; i++) {
            char c = value.charAt(i);
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                out.append(c);
            } else if (c == '\\') {
                out.append("\\\\");
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        if (value.length() > max) {
            out.append("...");
        }
        return out.toString();
    }
}
