package org.streaminference.query;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * The keys file as it is now, not as it was at start: read again, at most once per {@link
 * #CHECK_INTERVAL}, when a request comes, and taken when its bytes changed, so that a key removed
 * from the file (or a Kubernetes secret updated under it) is refused within seconds. A file that
 * stops being valid refuses every key until it is fixed (fail closed): keeping the old keys would
 * keep a key its operator meant to revoke.
 */
@Internal
public final class ApiKeysFile {
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeysFile.class);
    static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);
    private static final int MAX_BYTES = 1 << 20;

    private final Path file;
    private final Clock clock;

    /** The bytes {@link #keys} were read from. */
    private byte[] bytes;

    /** The keys in force; null while the file is invalid. */
    private volatile ApiKeys keys;

    private volatile Instant nextCheck;

    /** Reads the file once; an invalid or unreadable file fails here, at the service's start. */
    public ApiKeysFile(Path file, Clock clock) throws IOException {
        this.file = file;
        this.clock = clock;
        this.bytes = read(file);
        this.keys = ApiKeys.parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
        this.nextCheck = clock.instant().plus(CHECK_INTERVAL);
    }

    /**
     * The key {@code presented} is in the file as it is now, if any and not expired; throws (503)
     * where the file has become invalid.
     */
    public Optional<ApiKeys.ApiKey> authenticate(String presented) {
        Instant now = clock.instant();
        if (!now.isBefore(nextCheck)) {
            refresh();
        }
        ApiKeys inForce = keys;
        if (inForce == null) {
            throw new ApiError(
                    503,
                    "keys_unavailable",
                    "the service's API keys cannot be read; try again later",
                    Map.of("Retry-After", "5"));
        }
        return inForce.authenticate(presented, now);
    }

    private synchronized void refresh() {
        if (clock.instant().isBefore(nextCheck)) {
            return; // another request just did
        }
        try {
            byte[] now = read(file);
            if (keys == null || !Arrays.equals(now, bytes)) {
                keys = ApiKeys.parse(new String(now, StandardCharsets.UTF_8), file.toString());
                bytes = now;
                LOG.info("API keys read again from {}: the file changed", file);
            }
        } catch (IOException | RuntimeException e) {
            if (keys != null) {
                LOG.error(
                        "API keys file {} cannot be used ({}); every request is refused until it is fixed",
                        file,
                        e.getMessage());
            }
            keys = null;
        } finally {
            nextCheck = clock.instant().plus(CHECK_INTERVAL);
        }
    }

    private static byte[] read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] content = in.readNBytes(MAX_BYTES + 1);
            if (content.length > MAX_BYTES) {
                throw new IOException(file + " is larger than " + MAX_BYTES + " bytes");
            }
            return content;
        }
    }
}
