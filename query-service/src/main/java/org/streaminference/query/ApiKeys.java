package org.streaminference.query;

import org.apache.flink.annotation.Internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The API keys the query service accepts, stored only as SHA-256 hashes with their scopes and,
 * optionally, an expiry. A presented key is hashed and compared with every stored hash in constant
 * time, so neither the comparison nor the position of a match leaks through timing.
 */
@Internal
public final class ApiKeys {
    public static final String PREDICTIONS_READ = "predictions:read";
    public static final String MODELS_READ = "models:read";

    /** Asks the running job for predictions (the predict gateway). */
    public static final String PREDICT = "predict";

    private static final Set<String> SCOPES = Set.of(PREDICTIONS_READ, MODELS_READ, PREDICT);

    /**
     * One key: a name for logs and metrics, the hash of the secret, what it may read, and until
     * when (null: ever).
     */
    public record ApiKey(String name, byte[] hash, Set<String> scopes, Instant expires) {}

    private final List<ApiKey> keys;

    ApiKeys(List<ApiKey> keys) {
        this.keys = List.copyOf(keys);
    }

    /**
     * Reads {@code name:sha256hex:scope,scope} lines, each optionally followed by {@code
     * expires=<ISO-8601 instant>}; blank lines and lines starting with # are skipped.
     */
    static ApiKeys parse(String text, String source) {
        List<ApiKey> keys = new ArrayList<>();
        int lineNumber = 0;
        for (String line : text.split("\\R")) {
            lineNumber++;
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                continue;
            }
            String where = source + " line " + lineNumber;
            String[] fields = trimmed.split("\\s+");
            Instant expires = null;
            for (int i = 1; i < fields.length; i++) {
                if (!fields[i].startsWith("expires=") || expires != null) {
                    throw new IllegalArgumentException(
                            where + ": after the key, only one expires=<instant> may follow");
                }
                try {
                    expires = Instant.parse(fields[i].substring("expires=".length()));
                } catch (DateTimeParseException e) {
                    throw new IllegalArgumentException(
                            where
                                    + ": expires= takes an ISO-8601 instant such as"
                                    + " 2027-01-31T00:00:00Z");
                }
            }
            String[] parts = fields[0].split(":", 3);
            if (parts.length != 3
                    || !parts[0].matches("[A-Za-z0-9._-]{1,64}")
                    || !parts[1].matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException(
                        where + ": expected name:sha256hex:scope[,scope]");
            }
            Set<String> scopes = Set.of(parts[2].split(","));
            if (!SCOPES.containsAll(scopes)) {
                throw new IllegalArgumentException(
                        where + ": unknown scope in " + scopes + "; scopes are " + SCOPES);
            }
            keys.add(new ApiKey(parts[0], HexFormat.of().parseHex(parts[1]), scopes, expires));
        }
        if (keys.isEmpty()) {
            throw new IllegalArgumentException(source + " holds no API key");
        }
        return new ApiKeys(keys);
    }

    /**
     * The key {@code presented} is, if any and not expired at {@code now}; looks at every stored
     * key whatever the outcome.
     */
    Optional<ApiKey> authenticate(String presented, Instant now) {
        if (presented == null || presented.isEmpty() || presented.length() > 256) {
            return Optional.empty();
        }
        byte[] hash = sha256(presented);
        ApiKey match = null;
        for (ApiKey key : keys) {
            if (MessageDigest.isEqual(key.hash(), hash) && match == null) {
                match = key;
            }
        }
        return Optional.ofNullable(match)
                .filter(k -> k.expires() == null || now.isBefore(k.expires()));
    }

    /**
     * A new random key: 32 bytes from a SecureRandom, URL-safe Base64, prefixed so that it is
     * recognizable.
     */
    public static String generate() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return "si_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The line of the keys file for {@code key}. */
    public static String line(String name, String key, Set<String> scopes) {
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")) {
            throw new IllegalArgumentException(
                    "a key's name is 1 to 64 of A-Z a-z 0-9 . _ @ -, got '" + name + "'");
        }
        if (scopes.isEmpty() || !SCOPES.containsAll(scopes)) {
            throw new IllegalArgumentException(
                    "unknown scope in " + scopes + "; scopes are " + SCOPES);
        }
        return name + ":" + HexFormat.of().formatHex(sha256(key)) + ":" + String.join(",", scopes);
    }

    static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256")
                    .digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
