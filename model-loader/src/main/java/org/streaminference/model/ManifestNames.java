package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

import java.util.regex.Pattern;

/**
 * The rules for the names a manifest holds, shared by the manifest, its parts (inputs, tokenizers,
 * external data) and the commands that name a model: model names and versions that are safe in
 * paths, logs, metric labels and the result store, and file paths that stay inside a version's
 * directory.
 */
@PublicEvolving
public final class ManifestNames {
    /**
     * What a model name or version may be: safe in paths, logs, metric labels and the result store.
     */
    public static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public static final String SAFE_NAME_RULE =
            "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit";

    /**
     * @throws IllegalArgumentException unless {@code value} is a safe model name or version
     */
    public static String requireSafeName(String value, String field) {
        if (value == null || !SAFE_NAME.matcher(value).matches()) {
            throw new IllegalArgumentException(
                    "manifest field '" + field + "' must be " + SAFE_NAME_RULE);
        }
        return value;
    }

    /**
     * Whether {@code path} names a file inside a directory: relative, no {@code ..}, no backslash,
     * no scheme.
     */
    public static boolean isPlainRelativePath(String path) {
        if (path == null
                || path.isEmpty()
                || path.length() > 255
                || path.startsWith("/")
                || path.contains("\\")
                || path.contains(":")
                || path.indexOf('\0') >= 0) {
            return false;
        }
        for (String segment : path.split("/")) {
            if (segment.isEmpty() || segment.equals("..") || segment.equals(".")) {
                return false;
            }
        }
        return true;
    }

    private ManifestNames() {}
}
