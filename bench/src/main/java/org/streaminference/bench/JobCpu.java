package org.streaminference.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * CPU time of the job's own threads in this process (the MiniCluster's tasks, their Kafka fetchers
 * and producers, the inference threads), by kind, between two snapshots: the cost of the job per
 * event without the in-process broker, the benchmark's own consumer, the JIT compiler and GC, which
 * share the machine but are not the job.
 */
final class JobCpu {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** What kind of job thread {@code name} is, or null for a thread that is not the job's. */
    static String kind(String name) {
        if (name.startsWith("Source Data Fetcher")) {
            return "Kafka source fetchers";
        }
        if (name.startsWith("kafka-producer-network-thread")) {
            return "Kafka producer I/O";
        }
        if (name.startsWith("inference-")) {
            return "inference threads";
        }
        if (name.matches(".* \\(\\d+/\\d+\\)#\\d+")) {
            return name.startsWith("OutputFlusher") || name.contains("Time Trigger for")
                    ? "task timers and flushers"
                    : "task threads";
        }
        return null;
    }

    private final Map<Long, Long> start;

    private JobCpu(Map<Long, Long> start) {
        this.start = start;
    }

    /** A snapshot now. */
    static JobCpu start() {
        Map<Long, Long> now = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (kind(t.getName()) != null) {
                now.put(t.getId(), THREADS.getThreadCpuTime(t.getId()));
            }
        }
        return new JobCpu(now);
    }

    /**
     * Nanoseconds of CPU since the snapshot, by kind in alphabetical order (threads started since
     * count from zero), and "total".
     */
    Map<String, Long> since() {
        Map<String, Long> byKind = new TreeMap<>();
        long total = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String kind = kind(t.getName());
            long cpu = kind == null ? -1 : THREADS.getThreadCpuTime(t.getId());
            if (cpu < 0) {
                continue;
            }
            long used = cpu - start.getOrDefault(t.getId(), 0L);
            byKind.merge(kind, used, Long::sum);
            total += used;
        }
        Map<String, Long> withTotal = new LinkedHashMap<>(byKind);
        withTotal.put("total", total);
        return withTotal;
    }
}
