package org.streaminference.bench;

import com.sun.tools.attach.VirtualMachine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * async-profiler attached to another JVM (the TaskManager) for the span of one measurement: CPU
 * samples every millisecond, by thread, including native frames (RocksDB, ONNX Runtime), at a cost
 * the measurement does not notice (JFR's profile settings cut the operator's throughput ~3.5x
 * here).
 */
final class ProcessProfiler {
    private final Path library;
    private final long pid;

    private ProcessProfiler(Path library, long pid) {
        this.library = library;
        this.pid = pid;
    }

    /** Loads the profiler into {@code pid} and starts sampling. */
    static ProcessProfiler start(long pid, Path work) throws Exception {
        Path library = work.resolve("libasyncProfiler.so");
        if (!Files.exists(library)) {
            try (InputStream in =
                    ProcessProfiler.class.getResourceAsStream("/linux-x64/libasyncProfiler.so")) {
                if (in == null) {
                    throw new IOException(
                            "async-profiler's linux-x64 library is not on the classpath");
                }
                Files.copy(in, library, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        ProcessProfiler profiler = new ProcessProfiler(library, pid);
        profiler.command("start,event=cpu,interval=1ms,threads");
        return profiler;
    }

    /** Stops sampling and writes the collapsed stacks (first frame: the thread) to {@code file}. */
    Summary stop(Path file) throws Exception {
        command("stop,collapsed,file=" + file);
        return Summary.of(file);
    }

    private void command(String args) throws Exception {
        VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
        try {
            vm.loadAgentPath(library.toString(), args);
        } finally {
            vm.detach();
        }
    }

    /** Samples by kind of thread, and the frames that take the most samples themselves. */
    record Summary(long samples, Map<String, Long> byThread, Map<String, Long> topSelf) {
        static Summary of(Path collapsed) throws IOException {
            Map<String, Long> byThread = new TreeMap<>();
            Map<String, Long> self = new LinkedHashMap<>();
            long total = 0;
            for (String line : Files.readAllLines(collapsed)) {
                int space = line.lastIndexOf(' ');
                if (space < 0) {
                    continue;
                }
                long n = Long.parseLong(line.substring(space + 1));
                String[] frames = line.substring(0, space).split(";");
                total += n;
                byThread.merge(threadKind(frames[0]), n, Long::sum);
                self.merge(shorten(frames[frames.length - 1]), n, Long::sum);
            }
            List<Map.Entry<String, Long>> top = new ArrayList<>(self.entrySet());
            top.sort(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()));
            Map<String, Long> topSelf = new LinkedHashMap<>();
            top.stream().limit(8).forEach(e -> topSelf.put(e.getKey(), e.getValue()));
            return new Summary(total, byThread, topSelf);
        }

        /** The share of samples, in percent, formatted for a table cell. */
        String describe(Map<String, Long> part) {
            List<String> cells = new ArrayList<>();
            part.entrySet().stream()
                    .sorted(Map.Entry.comparingByValue(Comparator.reverseOrder()))
                    .forEach(
                            e ->
                                    cells.add(
                                            e.getKey()
                                                    + " "
                                                    + Math.round(
                                                            100.0
                                                                    * e.getValue()
                                                                    / Math.max(samples, 1))
                                                    + "%"));
            return String.join("; ", cells);
        }
    }

    /** What a thread of the TaskManager is, from the name async-profiler gives its first frame. */
    static String threadKind(String frame) {
        String name = frame.replaceAll("^\\[(.*?)( tid=\\d+)?\\]$", "$1");
        if (name.startsWith("OutputFlusher") || name.contains("Time Trigger")) {
            return "timers and flushers";
        }
        if (name.startsWith("Source Data Fetcher")) {
            return "Kafka fetcher";
        }
        if (name.startsWith("kafka-producer-network-thread")) {
            return "Kafka producer I/O";
        }
        if (name.startsWith("inference-")) {
            return name.contains("-timer-") ? "inference timer" : "inference threads";
        }
        if (name.contains("Source:")) {
            return "source task";
        }
        if (name.matches(".*\\(\\d+/\\d+\\)#\\d+.*")) {
            return "features/inference task";
        }
        if (name.contains("GC") || name.startsWith("G1")) {
            return "GC";
        }
        if (name.contains("Compiler")) {
            return "JIT";
        }
        if (name.contains("rocksdb") || name.startsWith("rocksdb")) {
            return "RocksDB background";
        }
        return "other";
    }

    private static String shorten(String frame) {
        String f = frame.replaceAll("_\\[[a-z]\\]$", "");
        return f.length() > 80 ? f.substring(f.length() - 80) : f;
    }
}
