package org.streaminference.sinks.query;

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

/**
 * The keys file as it is now, not as it was at start: read again, at most once per {@link #CHECK_INTERVAL}, when a
 * request comes, and taken when its bytes changed, so that a key removed from the file (or a Kubernetes secret
 * updated under it) is refused within seconds. A file that stops being valid refuses every key until it is fixed
 * (fail closed): keeping the old keys would keep a key its operator meant to revoke.
 */
final class ApiKeysFile {
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeysFile.class);
    static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);
    private static final int MAX_BYTES = 1 << 20;

    private final Path file;
    private final Clock clock;
    private byte[] bytes;
    private volatile ApiKeys keys;
    private volatile String problem;
    private volatile Instant nextCheck;

    /** Reads the file once; an invalid or unreadable file fails here, at the service's start. */
    ApiKeysFile(Path file, Clock clock) throws IOException {
        this.file = file;
        this.clock = clock;
        this.bytes = read(file);
        this.keys = ApiKeys.parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
        this.nextCheck = clock.instant().plus(CHECK_INTERVAL);
    }

    /** The keys in force now; throws where the file has become invalid. */
    ApiKeys current() {
        if (!clock.instant().isBefore(nextCheck)) {
            refresh();
        }
        String broken = problem;
        if (broken != null) {
            throw new ApiError(503, "keys_unavailable", "the service's API keys cannot be read; try again later",
                    Map.of("Retry-After", "5"));
        }
        return keys;
    }

    /** When this reads the time: expiries are checked against the same clock. */
    Instant now() {
        return clock.instant();
    }

    private synchronized void refresh() {
        if (clock.instant().isBefore(nextCheck)) {
            return; // another request just did
        }
        try {
            byte[] now = read(file);
            if (!Arrays.equals(now, bytes)) {
                ApiKeys parsed = ApiKeys.parse(new String(now, StandardCharsets.UTF_8), file.toString());
                keys = parsed;
                bytes = now;
                LOG.info("API keys read again from {}: the file changed", file);
            }
            if (problem != null) {
                LOG.info("API keys file {} is valid again", file);
            }
            problem = null;
        } catch (IOException | RuntimeException e) {
            if (problem == null) {
                LOG.error("API keys file {} cannot be used ({}); every request is refused until it is fixed", file,
                        e.getMessage());
            }
            problem = String.valueOf(e.getMessage());
            bytes = null; // the next valid file is taken, even one equal to the last
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
