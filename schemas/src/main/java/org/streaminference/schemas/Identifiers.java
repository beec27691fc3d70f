package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.util.regex.Pattern;

/**
 * The one definition of a valid event or entity id, used by the job's validation and by the query service: an id
 * the job accepts is an id the query service can look up, and every id is storable (no NUL, no unpaired surrogate,
 * no control or separator character) and safe in a URL path once percent-encoded (no {@code /}).
 */
@PublicEvolving
public final class Identifiers {
    /** The longest id, in characters (Unicode code points). */
    public static final int MAX_LENGTH = 128;

    /** The rule in words, for error messages and the README. */
    public static final String RULE = "1 to " + MAX_LENGTH + " letters, digits or . _ : @ + = ~ -";

    /** The rule as a regular expression (also in the query service's OpenAPI description). */
    public static final Pattern PATTERN = Pattern.compile("[\\p{L}\\p{N}._:@+=~-]{1," + MAX_LENGTH + "}");

    private Identifiers() {}

    public static boolean isValid(String id) {
        return id != null && id.length() <= 2 * MAX_LENGTH && PATTERN.matcher(id).matches();
    }

    /** Why {@code id} is not a valid value of {@code field}, or null when it is. */
    public static String problem(String field, String id) {
        if (id == null || id.isEmpty()) {
            return field + " is missing or empty";
        }
        if (!isValid(id)) {
            return field + " '" + Printable.truncate(id) + "' is not an id: ids are " + RULE;
        }
        return null;
    }
}
