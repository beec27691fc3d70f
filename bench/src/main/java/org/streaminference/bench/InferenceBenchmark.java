package org.streaminference.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The inference operator benchmark: on each model, side by side in one run, raw ONNX Runtime, the
 * pipeline without inference, the naive per-record map, Flink async I/O with one call per record,
 * and the micro-batched operator across batch sizes and delays. Prints a table, and writes it with
 * a chart to {@code bench/results/}.
 */
@Command(
        name = "inference-benchmark",
        mixinStandardHelpOptions = true,
        description = "Benchmarks the micro-batched inference operator against its baselines.")
public final class InferenceBenchmark implements Callable<Integer> {
    @Mixin WorkloadOptions workload;

    @Option(
            names = "--batch-sizes",
            split = ",",
            defaultValue = "8,64,128",
            description = "Batch sizes to sweep.")
    List<Integer> batchSizes;

    @Option(
            names = "--delays",
            split = ",",
            defaultValue = "1,5",
            description = "Max delays (ms) to sweep.")
    List<Long> delays;

    @Option(
            names = "--headline-batch",
            defaultValue = "64",
            description =
                    "Batch size of the headline ratios (default: the job's inference.max-batch-size).")
    int headlineBatch;

    @Option(
            names = "--headline-delay",
            defaultValue = "5",
            description =
                    "Max delay (ms) of the headline ratios (default: the job's inference.max-delay).")
    long headlineDelay;

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description =
                    "Measured rounds after the warm-up round; every variant runs once per round.")
    int repeats;

    @Option(
            names = "--latency-seconds",
            defaultValue = "5",
            description = "Length of the fixed-rate latency run.")
    double latencySeconds;

    @Option(
            names = "--warmup-seconds",
            defaultValue = "1",
            description =
                    "Latency: outputs of events scheduled in the first seconds of the run are left out.")
    double warmupSeconds;

    @Option(
            names = "--parallelism",
            defaultValue = "1",
            description = "Flink parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(
            names = "--concurrent-batches",
            defaultValue = "1",
            description =
                    "Inference threads per subtask; raw ONNX Runtime gets parallelism x this many threads.")
    int concurrentBatches;

    /** One line of the results table: a variant's throughput over the measured rounds. */
    record Row(String model, String variant, int batch, long delayMillis, Spread throughput) {}

    private final List<Row> rows = new ArrayList<>();
    private final List<String> verdicts = new ArrayList<>();

    /** model → variant key → throughput per measured round, for the chart. */
    private final Map<String, Map<String, List<Double>>> measured = new LinkedHashMap<>();

    public static void main(String[] args) {
        System.exit(new CommandLine(new InferenceBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (!batchSizes.contains(headlineBatch) || !delays.contains(headlineDelay)) {
            throw new CommandLine.ParameterException(
                    new CommandLine(this),
                    "the headline configuration must be among the swept batch sizes and delays");
        }
        Path modelsDir = Files.createTempDirectory("bench-models");
        int threads = parallelism * concurrentBatches;
        System.out.printf(
                "Inference benchmark: %d cores, parallelism %d, %d inference thread(s) per subtask,"
                        + " 1 warm-up round + %d measured rounds%n",
                Runtime.getRuntime().availableProcessors(),
                parallelism,
                concurrentBatches,
                repeats);
        for (BenchModels.Workload w : workload.workloads(modelsDir, 400_000, 60_000, 100_000)) {
            benchmark(w, threads);
        }
        String table = table();
        System.out.println();
        System.out.println(table);
        verdicts.forEach(System.out::println);
        write(table);
        return 0;
    }

    /** A variant of one round: its key in the results and how to measure it. */
    private record Variant(
            String key, String label, int batch, long delay, Measurement measurement) {}

    @FunctionalInterface
    private interface Measurement {
        double throughput() throws Exception;
    }

    private void benchmark(BenchModels.Workload w, int threads) throws Exception {
        System.out.printf("%n== %s (%d records)%n", w.name(), w.records());
        List<Variant> variants = new ArrayList<>();
        List<Integer> rawBatches = new ArrayList<>(List.of(1));
        batchSizes.stream().filter(b -> b != 1).forEach(rawBatches::add);
        for (int b : rawBatches) {
            variants.add(
                    new Variant(
                            "raw/" + b,
                            "raw ONNX Runtime",
                            b,
                            0,
                            () -> RawOnnxBench.rowsPerSecond(w, b, threads, w.records())));
        }
        variants.add(
                new Variant(
                        "identity",
                        "pipeline without inference (identity)",
                        1,
                        0,
                        () ->
                                FlinkBench.run(
                                                w,
                                                new FlinkBench.Identity(),
                                                w.records(),
                                                0,
                                                parallelism,
                                                0)
                                        .throughput()));
        variants.add(
                new Variant(
                        "naive",
                        "naive per-record map",
                        1,
                        0,
                        () ->
                                FlinkBench.run(
                                                w,
                                                new FlinkBench.Naive(),
                                                w.records(),
                                                0,
                                                parallelism,
                                                0)
                                        .throughput()));
        variants.add(
                new Variant(
                        "async",
                        "async I/O, 1 record per call",
                        1,
                        0,
                        () ->
                                FlinkBench.run(
                                                w,
                                                new FlinkBench.AsyncPerRecord(concurrentBatches),
                                                w.records(),
                                                0,
                                                parallelism,
                                                0)
                                        .throughput()));
        for (int b : batchSizes) {
            for (long d : delays) {
                variants.add(
                        new Variant(
                                batchedKey(b, d),
                                "micro-batched operator",
                                b,
                                d,
                                () ->
                                        FlinkBench.run(
                                                        w,
                                                        new FlinkBench.Batched(
                                                                b, d, concurrentBatches),
                                                        w.records(),
                                                        0,
                                                        parallelism,
                                                        0)
                                                .throughput()));
            }
        }
        // every variant once unmeasured (JIT, class loading, the OS's caches), then the measured
        // rounds, each
        // running every variant in the same order
        Map<String, List<Double>> results = new LinkedHashMap<>();
        for (int round = 0; round <= repeats; round++) {
            System.out.printf(
                    "  %s%n", round == 0 ? "warm-up round" : "round " + round + " of " + repeats);
            for (Variant v : variants) {
                double t = v.measurement().throughput();
                System.out.printf(
                        Locale.ROOT,
                        "    %-40s batch %4d delay %3d ms: %,12.0f rec/s%n",
                        v.label(),
                        v.batch(),
                        v.delay(),
                        t);
                if (round > 0) {
                    results.computeIfAbsent(v.key(), k -> new ArrayList<>()).add(t);
                }
            }
        }
        measured.put(w.name(), results);
        for (Variant v : variants) {
            rows.add(
                    new Row(
                            w.name(),
                            v.label(),
                            v.batch(),
                            v.delay(),
                            Spread.of(results.get(v.key()))));
        }

        String headline = batchedKey(headlineBatch, headlineDelay);
        String config = "batch " + headlineBatch + ", max delay " + headlineDelay + " ms";
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: operator (%s) / naive per-record map = %sx",
                        w.name(),
                        config,
                        Spread.ofRatios(results.get(headline), results.get("naive"))
                                .format("%.1f")));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: operator (%s) / async I/O with one record per call = %sx",
                        w.name(),
                        config,
                        Spread.ofRatios(results.get(headline), results.get("async"))
                                .format("%.1f")));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: operator (%s) / pipeline without inference = %s",
                        w.name(),
                        config,
                        percent(Spread.ofRatios(results.get(headline), results.get("identity")))));
        for (int b : batchSizes) {
            verdicts.add(
                    String.format(
                            Locale.ROOT,
                            "%s: operator / raw ONNX Runtime, both at batch %d with %d"
                                    + " thread(s), max delay %d ms = %s",
                            w.name(),
                            b,
                            threads,
                            headlineDelay,
                            percent(
                                    Spread.ofRatios(
                                            results.get(batchedKey(b, headlineDelay)),
                                            results.get("raw/" + b)))));
        }
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: naive per-record map / raw ONNX Runtime at batch 1 = %s",
                        w.name(),
                        percent(Spread.ofRatios(results.get("naive"), results.get("raw/1")))));

        // latency of the headline configuration at half its median saturated throughput, from the
        // scheduled emit time
        double halfRate = Spread.of(results.get(headline)).median() / 2;
        long records = Math.max(1_000, (long) (halfRate * (latencySeconds + warmupSeconds)));
        LatencyProbe.Result half =
                FlinkBench.run(
                        w,
                        new FlinkBench.Batched(headlineBatch, headlineDelay, concurrentBatches),
                        records,
                        halfRate,
                        parallelism,
                        (long) (warmupSeconds * 1e6));
        double batchComputeMillis =
                headlineBatch / Spread.of(results.get("raw/" + headlineBatch)).median() * 1000;
        double bound = headlineDelay + 2 * batchComputeMillis;
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: at half load (%,.0f/s, %s): p50 %.2f ms, p99 %.2f ms from the"
                                + " scheduled emit time (first %.0f s left out); bound = max delay %d ms + 2 x batch compute"
                                + " %.2f ms = %.2f ms  [%s]",
                        w.name(),
                        halfRate,
                        config,
                        half.p50Millis(),
                        half.p99Millis(),
                        warmupSeconds,
                        headlineDelay,
                        batchComputeMillis,
                        bound,
                        half.p99Millis() <= bound ? "met" : "not met"));
    }

    private static String batchedKey(int batch, long delay) {
        return "batched/" + batch + "/" + delay;
    }

    private static String percent(Spread ratio) {
        return String.format(
                Locale.ROOT,
                "%.0f%% / %.0f%% / %.0f%%",
                100 * ratio.min(),
                100 * ratio.median(),
                100 * ratio.max());
    }

    private String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | variant | batch | max delay (ms) | records/s: min / median / max |\n");
        sb.append("|---|---|---:|---:|---:|\n");
        for (Row r : rows) {
            sb.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %d | %d | %s |%n",
                            r.model(),
                            r.variant(),
                            r.batch(),
                            r.delayMillis(),
                            r.throughput().format("%,.0f")));
        }
        return sb.toString();
    }

    private void write(String table) throws Exception {
        Files.createDirectories(workload.out);
        String stem =
                "operator-"
                        + LocalDate.now()
                        + "-"
                        + Runtime.getRuntime().availableProcessors()
                        + "cores";
        Path md = workload.out.resolve(stem + ".md");
        Files.writeString(
                md,
                "# Inference operator benchmark, "
                        + LocalDate.now()
                        + "\n\n"
                        + Runtime.getRuntime().availableProcessors()
                        + " cores, parallelism "
                        + parallelism
                        + ", "
                        + concurrentBatches
                        + " inference thread(s) per subtask. Every variant runs once unmeasured, then in "
                        + repeats
                        + " measured rounds, each round running every variant in the same order; figures are min /"
                        + " median / max over the rounds, ratios are taken within a round (like for like: the same"
                        + " configuration, the same round). Flink variants are timed at the sink from the first to the last"
                        + " output (cluster start and model load excluded); raw ONNX Runtime over its runs alone. Latency"
                        + " from the scheduled emit time to the sink. Ratios and verdicts below the table. Command:"
                        + " `bench/run.sh "
                        + String.join(" ", commandLine())
                        + "`\n\n"
                        + table
                        + "\n"
                        + String.join("\n\n", verdicts)
                        + "\n");
        Path png = workload.out.resolve(stem + ".png");
        BitmapEncoder.saveBitmap(chart(), png.toString(), BitmapEncoder.BitmapFormat.PNG);
        System.out.println("Wrote " + md + " and " + png);
    }

    private List<String> commandLine() {
        return List.of(
                "--models",
                workload.modelList(),
                "--parallelism",
                Integer.toString(parallelism),
                "--concurrent-batches",
                Integer.toString(concurrentBatches),
                "--scale",
                Double.toString(workload.scale),
                "--repeats",
                Integer.toString(repeats));
    }

    /**
     * Median throughput of each variant relative to raw ONNX Runtime doing the same work per call:
     * the per-record variants against raw at batch 1, the operator at batch b against raw at batch
     * b; the same threads throughout.
     */
    private CategoryChart chart() {
        CategoryChart chart =
                new CategoryChartBuilder()
                        .width(1100)
                        .height(600)
                        .title(
                                "Throughput relative to raw ONNX Runtime at the same batch size and threads (medians)")
                        .xAxisTitle("model")
                        .yAxisTitle("share of raw ONNX Runtime throughput")
                        .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setYAxisDecimalPattern("0.00");
        List<String> modelNames = new ArrayList<>(measured.keySet());
        Map<String, List<Double>> series = new LinkedHashMap<>();
        for (String model : modelNames) {
            Map<String, List<Double>> m = measured.get(model);
            put(
                    series,
                    "naive per-record map (vs raw, batch 1)",
                    modelNames,
                    model,
                    Spread.ofRatios(m.get("naive"), m.get("raw/1")).median());
            put(
                    series,
                    "async I/O, 1 per call (vs raw, batch 1)",
                    modelNames,
                    model,
                    Spread.ofRatios(m.get("async"), m.get("raw/1")).median());
            for (int b : batchSizes) {
                put(
                        series,
                        "micro-batched, batch " + b + ", " + headlineDelay + " ms",
                        modelNames,
                        model,
                        Spread.ofRatios(m.get(batchedKey(b, headlineDelay)), m.get("raw/" + b))
                                .median());
            }
        }
        series.forEach((name, values) -> chart.addSeries(name, modelNames, values));
        return chart;
    }

    private static void put(
            Map<String, List<Double>> series,
            String name,
            List<String> models,
            String model,
            double value) {
        List<Double> values =
                series.computeIfAbsent(
                        name, k -> new ArrayList<>(Collections.nCopies(models.size(), 0.0)));
        values.set(models.indexOf(model), value);
    }
}
