package org.streaminference.bench;

import org.streaminference.operators.validation.EventValidator;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * What bounding untrusted events costs: CPU per event of Avro's decoder alone against the job's
 * validation (the bounds walk over the bytes, then the same decode, then the field checks), for a
 * small event and a wide one (784 numeric map entries, the Crayfish image). One thread, no Flink;
 * each variant warmed up the same way, then measured in alternating rounds, reported with min,
 * median and max.
 */
@Command(
        name = "validation-benchmark",
        mixinStandardHelpOptions = true,
        description = "CPU per event of Avro decoding alone vs the job's bounded validation.")
final class ValidationBenchmark implements Callable<Integer> {
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

    private static volatile Object sink;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ValidationBenchmark()).execute(args));
    }

    private static ByteBuffer event(int numericFields) throws Exception {
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("amount", 25.0);
        for (int i = 1; i < numericFields; i++) {
            numeric.put("pixel_" + i, i / 784.0);
        }
        return InputEvent.newBuilder()
                .setEventId("bench-1")
                .setEntityId("entity-00042")
                .setEventTime(System.currentTimeMillis())
                .setEventType("purchase")
                .setNumericFields(numeric)
                .setCategoricalFields(Map.of("country", "DE", "channel", "web"))
                .build()
                .toByteBuffer();
    }

    interface Variant {
        Object run(ByteBuffer value) throws Exception;
    }

    /** Nanoseconds per event over {@code seconds}. */
    private static double nanosPerEvent(Variant v, ByteBuffer value, double seconds)
            throws Exception {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long n = 0;
        long start = System.nanoTime();
        while (System.nanoTime() < end) {
            for (int i = 0; i < 64; i++) {
                sink = v.run(value.duplicate());
            }
            n += 64;
        }
        return (System.nanoTime() - start) / (double) n;
    }

    @Override
    public Integer call() throws Exception {
        EventValidator validator = new EventValidator(EventFields.numeric(List.of("amount")));
        Variant decode = value -> InputEvent.getDecoder().decode(value);
        Variant validate = value -> validator.validate(null, value);
        StringBuilder md =
                new StringBuilder("# Validation: Avro decode alone vs bounded validation\n\n")
                        .append("One thread, no Flink; each variant warmed up ")
                        .append(seconds)
                        .append(" s, then ")
                        .append(rounds)
                        .append(" alternating rounds of ")
                        .append(seconds)
                        .append(" s. µs per event.\n\n")
                        .append(
                                "| event | decode only: min / median / max | validate: min / median / max |"
                                        + " ratio per round: min / median / max |\n|---|---|---|---|\n");
        for (int fields : new int[] {2, 784}) {
            ByteBuffer value = event(fields);
            nanosPerEvent(decode, value, seconds); // the same warm-up for both
            nanosPerEvent(validate, value, seconds);
            double[] d = new double[rounds];
            double[] v = new double[rounds];
            double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    d[r] = nanosPerEvent(decode, value, seconds);
                    v[r] = nanosPerEvent(validate, value, seconds);
                } else {
                    v[r] = nanosPerEvent(validate, value, seconds);
                    d[r] = nanosPerEvent(decode, value, seconds);
                }
                ratio[r] = v[r] / d[r];
            }
            String line =
                    String.format(
                            "| %d numeric fields, %d bytes | %s | %s | %s |%n",
                            fields,
                            value.remaining(),
                            spread(d, 1e-3),
                            spread(v, 1e-3),
                            spread(ratio, 1));
            System.out.print(line);
            md.append(line);
        }
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        "validation-"
                                + LocalDate.now()
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.writeString(file, md.toString());
        System.out.println("Written to " + file);
        return 0;
    }

    private static String spread(double[] values, double scale) {
        double[] s = values.clone();
        Arrays.sort(s);
        return String.format(
                "%.2f / %.2f / %.2f",
                s[0] * scale, s[s.length / 2] * scale, s[s.length - 1] * scale);
    }
}
