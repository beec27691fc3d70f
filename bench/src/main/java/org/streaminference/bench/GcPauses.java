package org.streaminference.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The stop-the-world pauses a JVM's unified GC log ({@code -Xlog:gc:file=...:time}) records in a
 * span of wall-clock time: every thread of the process, the task threads included, stood still for
 * them.
 */
record GcPauses(int count, double totalMillis, double maxMillis) {
    private static final Pattern PAUSE =
            Pattern.compile("^\\[([^\\]]+)\\].*\\bPause\\b.*?([0-9.]+)ms$");
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ");

    /**
     * The pauses that ended between {@code fromMillis} and {@code toMillis}; none without a log.
     */
    static GcPauses between(Path log, long fromMillis, long toMillis) throws IOException {
        if (!Files.exists(log)) {
            return new GcPauses(-1, 0, 0);
        }
        int count = 0;
        double total = 0;
        double max = 0;
        for (String line : Files.readAllLines(log)) {
            Matcher m = PAUSE.matcher(line);
            if (!m.find()) {
                continue;
            }
            long at = OffsetDateTime.parse(m.group(1), TIME).toInstant().toEpochMilli();
            if (at >= fromMillis && at <= toMillis) {
                double ms = Double.parseDouble(m.group(2));
                count++;
                total += ms;
                max = Math.max(max, ms);
            }
        }
        return new GcPauses(count, total, max);
    }

    String describe() {
        return count < 0
                ? "(no GC log)"
                : String.format(
                        "%d, %.0f ms in all, longest %.1f ms", count, totalMillis, maxMillis);
    }
}
