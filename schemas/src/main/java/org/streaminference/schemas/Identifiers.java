package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.util.regex.Pattern;

/**
 * The one definition of a valid event or entity id, used by the job's validation and by the query
 * service: an id the job accepts is an id the query service can look up, and every id is storable
 * (no NUL, no unpaired surrogate, no control or separator character) and safe in a URL path once
 * percent-encoded (no {@code /}).
 */
@PublicEvolving
public final class Identifiers {
    /** The longest id, in characters (Unicode code points). */
    public static final int MAX_LENGTH = 128;

    /** The rule in words, for error messages and the guides. */
    public static final String RULE = "1 to " + MAX_LENGTH + " letters, digits or . _ : @ + = ~ -";

    /** The rule as a regular expression (also in the query service's OpenAPI description). */
    public static final Pattern PATTERN =
            Pattern.compile("[\\p{L}\\p{N}._:@+=~-]{1," + MAX_LENGTH + "}");

    private Identifiers() {}

    /**
     * Whether {@code id} matches {@link #PATTERN}, checked code point by code point (twice per
     * event in the job: a regular expression's matcher cost more than the rest of the check).
     */
    public static boolean isValid(String id) {
        if (id == null || id.isEmpty() || id.length() > 2 * MAX_LENGTH) {
            return false;
        }
        int codePoints = 0;
        for (int i = 0; i < id.length(); codePoints++) {
            int c = id.codePointAt(i);
            if (codePoints == MAX_LENGTH || !allowed(c)) {
                return false;
            }
            i += Character.charCount(c);
        }
        return true;
    }

    /**
     * One code point of {@link #PATTERN}'s class: a letter ({@code \p{L}}), a number ({@code
     * \p{N}}) or a sign.
     */
    private static boolean allowed(int c) {
        if (c < 128) {
            return (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '.'
                    || c == '_'
                    || c == ':'
                    || c == '@'
                    || c == '+'
                    || c == '='
                    || c == '~'
                    || c == '-';
        }
        return switch (Character.getType(c)) {
            case Character.UPPERCASE_LETTER,
                    Character.LOWERCASE_LETTER,
                    Character.TITLECASE_LETTER,
                    Character.MODIFIER_LETTER,
                    Character.OTHER_LETTER,
                    Character.DECIMAL_DIGIT_NUMBER,
                    Character.LETTER_NUMBER,
                    Character.OTHER_NUMBER ->
                    true;
            default -> false;
        };
    }

    /** Why {@code id} is not a valid value of {@code field}, or null when it is. */
    public static String problem(String field, String id) {
        if (id == null || id.isEmpty()) {
            return field + " is missing or empty";
        }
        if (!isValid(id)) {
            return field + " '" + UntrustedText.excerpt(id) + "' is not an id: ids are " + RULE;
        }
        return null;
    }
}
