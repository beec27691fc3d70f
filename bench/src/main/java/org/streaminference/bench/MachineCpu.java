package org.streaminference.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The whole machine's CPU from {@code /proc/stat}: every process and the kernel's own work (the
 * loopback network's soft interrupts among it), and the time the hypervisor gave to other guests
 * (steal). What the per-process figures leave out, and what says whether the cores were all used.
 */
final class MachineCpu {
    /** Linux reports {@code /proc/stat} in USER_HZ ticks, 100 a second on every common build. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    private static final Path STAT = Path.of("/proc/stat");

    /** Busy and steal nanoseconds summed over all cores since boot (zeros where unreadable). */
    record Sample(long busyNanos, long stealNanos) {
        Sample minus(Sample earlier) {
            return new Sample(busyNanos - earlier.busyNanos, stealNanos - earlier.stealNanos);
        }
    }

    private MachineCpu() {}

    static Sample sample() {
        if (!Files.isReadable(STAT)) {
            return new Sample(0, 0);
        }
        try {
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice
            String[] f = Files.readAllLines(STAT).get(0).trim().split("\\s+");
            long busy = 0;
            for (int i : new int[] {1, 2, 3, 6, 7}) {
                busy += Long.parseLong(f[i]);
            }
            long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
            return new Sample(busy * NANOS_PER_TICK, steal * NANOS_PER_TICK);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
