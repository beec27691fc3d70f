package org.streaminference.bench;

import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/**
 * Two variants of one operation on one thread, measured like for like (bench/README.md): the same
 * warm-up for both, then rounds in alternating order, each a fixed time of calls. The options are a
 * picocli mixin, so every micro-benchmark takes them the same way.
 */
final class AlternatingRounds {
    @Option(
            names = "--rounds",
            defaultValue = "5",
            description = "Measured rounds per variant (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(
            names = "--seconds",
            defaultValue = "2",
            description = "Length of each round (default ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    /** One call of the operation measured; its result is kept where the JIT cannot drop it. */
    interface Operation {
        Object call() throws Exception;
    }

    /** Microseconds per call of each variant, one value per round. */
    record Result(List<Double> a, List<Double> b) {}

    private static volatile Object sink;

    Result measure(Operation a, Operation b) throws Exception {
        micros(a); // the same warm-up for both
        micros(b);
        List<Double> as = new ArrayList<>();
        List<Double> bs = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            if (r % 2 == 0) {
                as.add(micros(a));
                bs.add(micros(b));
            } else {
                bs.add(micros(b));
                as.add(micros(a));
            }
        }
        return new Result(as, bs);
    }

    /** Microseconds per call over one round, called in blocks of 64. */
    private double micros(Operation operation) throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long n = 0;
        long start = System.nanoTime();
        while (System.nanoTime() < end) {
            for (int i = 0; i < 64; i++) {
                sink = operation.call();
            }
            n += 64;
        }
        return (System.nanoTime() - start) / 1e3 / n;
    }

    /** Writes {@code markdown} to {@code <out>/<name>-<date>-<cores>cores.md} and says where. */
    Path write(String name, String markdown) throws Exception {
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        name
                                + "-"
                                + LocalDate.now()
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.writeString(file, markdown);
        System.out.println("Written to " + file);
        return file;
    }

    /** The header line's account of the method. */
    String method() {
        return "One thread, no Flink; each variant warmed up "
                + seconds
                + " s, then "
                + rounds
                + " alternating rounds of "
                + seconds
                + " s.";
    }
}
