package org.streaminference.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The whole machine's CPU: every process's and kernel thread's, from {@code /proc/<pid>/stat}, and
 * the time the hypervisor gave to other guests (steal) from {@code /proc/stat}. What the
 * per-process figures leave out (the JobManager, the kernel's threads), and whether the cores were
 * all used. {@code /proc/stat}'s own busy counters are not used: they are sampled at the timer
 * tick, and a thread that wakes and sleeps between ticks (a paced producer) is missed by them.
 */
final class MachineCpu {
    /** Linux reports these files in USER_HZ ticks, 100 a second on every common build. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    private static final Path PROC = Path.of("/proc");

    /** Each live process's CPU ticks, and the machine's steal ticks, at one moment. */
    record Sample(Map<Long, Long> ticksByPid, long stealTicks) {
        /**
         * What the machine did since {@code earlier}: {busy, steal} nanoseconds; a process that
         * started in between counts whole, one that ended in between is not seen.
         */
        long[] since(Sample earlier) {
            long busy = 0;
            for (Map.Entry<Long, Long> e : ticksByPid.entrySet()) {
                busy += e.getValue() - earlier.ticksByPid.getOrDefault(e.getKey(), 0L);
            }
            return new long[] {
                busy * NANOS_PER_TICK, (stealTicks - earlier.stealTicks) * NANOS_PER_TICK
            };
        }
    }

    private MachineCpu() {}

    static Sample sample() {
        Map<Long, Long> ticks = new HashMap<>();
        long steal = 0;
        if (!Files.isDirectory(PROC)) {
            return new Sample(ticks, steal);
        }
        try (Stream<Path> entries = Files.list(PROC)) {
            for (Path dir : (Iterable<Path>) entries::iterator) {
                String name = dir.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String stat = Files.readString(dir.resolve("stat"));
                    // after the command's closing parenthesis: state, ppid, ... utime is the 14th
                    // field of the line, stime the 15th
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks.put(Long.parseLong(name), Long.parseLong(f[11]) + Long.parseLong(f[12]));
                } catch (IOException | RuntimeException gone) {
                    // the process ended while the directory was listed
                }
            }
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice
            List<String> lines = Files.readAllLines(PROC.resolve("stat"));
            String[] f = lines.get(0).trim().split("\\s+");
            steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
        } catch (IOException e) {
            // no procfs to read: the figures stay zero
        }
        return new Sample(ticks, steal);
    }
}
