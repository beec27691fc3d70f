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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The inference operator benchmark: on each model, side by side in one run, raw ONNX Runtime, the pipeline without
 * inference, the naive per-record map, Flink async I/O with one call per record, and the micro-batched operator across
 * batch sizes and delays.
 * Prints a table, and writes it with a chart to {@code bench/results/}.
 */
@Command(name = "inference-benchmark", mixinStandardHelpOptions = true,
        description = "Benchmarks the micro-batched inference operator against its baselines.")
public final class InferenceBenchmark implements Callable<Integer> {
    @Mixin
    WorkloadOptions workload;

    @Option(names = "--batch-sizes", split = ",", defaultValue = "8,32,128", description = "Batch sizes to sweep.")
    List<Integer> batchSizes;

    @Option(names = "--delays", split = ",", defaultValue = "1,5", description = "Max delays (ms) to sweep.")
    List<Long> delays;

    @Option(names = "--parallelism", defaultValue = "1", description = "Flink parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--concurrent-batches", defaultValue = "1",
            description = "Inference threads per subtask; raw ONNX Runtime gets parallelism x this many threads.")
    int concurrentBatches;

    /** One line of the results table. */
    record Row(String model, String variant, int batch, long delayMillis, double throughput, Double p50, Double p99) {}

    private final List<Row> rows = new ArrayList<>();
    private final List<String> verdicts = new ArrayList<>();

    public static void main(String[] args) {
        System.exit(new CommandLine(new InferenceBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Path modelsDir = Files.createTempDirectory("bench-models");
        int threads = parallelism * concurrentBatches;
        System.out.printf("Inference benchmark: %d cores, parallelism %d, %d inference thread(s) per subtask%n",
                Runtime.getRuntime().availableProcessors(), parallelism, concurrentBatches);
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

    private void benchmark(BenchModels.Workload w, int threads) throws Exception {
        System.out.printf("%n== %s (%d records)%n", w.name(), w.records());
        Map<Integer, Double> raw = new LinkedHashMap<>();
        for (int b : batchSizes) {
            double r = RawOnnxBench.rowsPerSecond(w, b, threads, w.records());
            raw.put(b, r);
            add(new Row(w.name(), "raw ONNX Runtime", b, 0, r, null, null));
        }
        LatencyProbe.Result identity = FlinkBench.run(w, new FlinkBench.Identity(), w.records(), 0, parallelism);
        add(new Row(w.name(), "pipeline without inference (identity)", 1, 0, identity.throughput(), null, null));
        LatencyProbe.Result naive = FlinkBench.run(w, new FlinkBench.Naive(), w.records(), 0, parallelism);
        add(new Row(w.name(), "naive per-record map", 1, 0, naive.throughput(), null, null));
        LatencyProbe.Result async1 = FlinkBench.run(w, new FlinkBench.AsyncPerRecord(concurrentBatches), w.records(), 0,
                parallelism);
        add(new Row(w.name(), "async I/O, 1 record per call", 1, 0, async1.throughput(), null, null));

        Row best = null;
        Map<Integer, Row> byBatch = new LinkedHashMap<>();
        for (int b : batchSizes) {
            for (long d : delays) {
                LatencyProbe.Result r = FlinkBench.run(w, new FlinkBench.Batched(b, d, concurrentBatches), w.records(),
                        0, parallelism);
                Row row = new Row(w.name(), "micro-batched operator", b, d, r.throughput(), null, null);
                add(row);
                if (best == null || row.throughput() > best.throughput()) {
                    best = row;
                }
                if (!byBatch.containsKey(b) || row.throughput() > byBatch.get(b).throughput()) {
                    byBatch.put(b, row);
                }
            }
        }

        // Latency at half of the best configuration's saturated throughput.
        double halfRate = best.throughput() / 2;
        long latencyRecords = Math.max(1_000, (long) (halfRate * 5)); // about five seconds of input
        LatencyProbe.Result half = FlinkBench.run(w, new FlinkBench.Batched(best.batch(), best.delayMillis(),
                concurrentBatches), latencyRecords, halfRate, parallelism);
        add(new Row(w.name(), String.format(Locale.ROOT, "micro-batched at half load (%.0f/s)", halfRate),
                best.batch(), best.delayMillis(), half.throughput(), half.p50Millis(), half.p99Millis()));

        verdicts.add(String.format(Locale.ROOT, "%s: operator/pipeline without inference = %.0f%%", w.name(),
                100 * best.throughput() / identity.throughput()));
        double speedup = best.throughput() / naive.throughput();
        verdicts.add(String.format(Locale.ROOT, "%s: operator/naive map = %.1fx (best: batch %d, delay %d ms)%s",
                w.name(), speedup, best.batch(), best.delayMillis(),
                w.name().equals("tiny-mlp") ? (speedup >= 5 ? "  [target >= 5x: MET]" : "  [target >= 5x: NOT MET]") : ""));
        for (Map.Entry<Integer, Row> e : byBatch.entrySet()) {
            double share = e.getValue().throughput() / raw.get(e.getKey());
            verdicts.add(String.format(Locale.ROOT, "%s: operator/raw ONNX Runtime at batch %d = %.0f%%%s", w.name(),
                    e.getKey(), share * 100, w.name().equals("heavy-mlp")
                            ? (share >= 0.85 ? "  [target >= 85%: MET]" : "  [target >= 85%: NOT MET]") : ""));
        }
        double batchComputeMillis = best.batch() / raw.get(best.batch()) * 1000;
        double bound = best.delayMillis() + 2 * batchComputeMillis;
        verdicts.add(String.format(Locale.ROOT,
                "%s: p99 at half load = %.2f ms; bound = max delay %d ms + 2 x batch compute %.2f ms = %.2f ms  [%s]",
                w.name(), half.p99Millis(), best.delayMillis(), batchComputeMillis, bound,
                half.p99Millis() <= bound ? "MET" : "NOT MET"));
    }

    private void add(Row row) {
        rows.add(row);
        System.out.printf(Locale.ROOT, "  %-40s batch %4d delay %3d ms: %,12.0f rec/s%s%n", row.variant(), row.batch(),
                row.delayMillis(), row.throughput(),
                row.p99() == null ? "" : String.format(Locale.ROOT, "  p50 %.2f ms  p99 %.2f ms", row.p50(), row.p99()));
    }

    private String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| model | variant | batch | max delay (ms) | records/s | p50 (ms) | p99 (ms) |\n");
        sb.append("|---|---|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %,.0f | %s | %s |%n", r.model(), r.variant(),
                    r.batch(), r.delayMillis(), r.throughput(),
                    r.p50() == null ? "" : String.format(Locale.ROOT, "%.2f", r.p50()),
                    r.p99() == null ? "" : String.format(Locale.ROOT, "%.2f", r.p99())));
        }
        return sb.toString();
    }

    private void write(String table) throws Exception {
        Files.createDirectories(workload.out);
        String stem = "operator-" + LocalDate.now() + "-" + Runtime.getRuntime().availableProcessors() + "cores";
        Path md = workload.out.resolve(stem + ".md");
        Files.writeString(md, "# Inference operator benchmark, " + LocalDate.now() + "\n\n"
                + Runtime.getRuntime().availableProcessors() + " cores, parallelism " + parallelism + ", "
                + concurrentBatches + " inference thread(s) per subtask; records/s measured at the sink between the"
                + " first and last prediction; latency from emit to sink. Command: `bench/run.sh "
                + String.join(" ", commandLine()) + "`\n\n" + table + "\n" + String.join("\n\n", verdicts) + "\n");
        Path png = workload.out.resolve(stem + ".png");
        BitmapEncoder.saveBitmap(chart(), png.toString(), BitmapEncoder.BitmapFormat.PNG);
        System.out.println("Wrote " + md + " and " + png);
    }

    private List<String> commandLine() {
        return List.of("--models", workload.modelList(), "--parallelism", Integer.toString(parallelism),
                "--concurrent-batches", Integer.toString(concurrentBatches), "--scale", Double.toString(workload.scale));
    }

    /** Throughput of each variant relative to raw ONNX Runtime at batch 32 (or the largest swept), per model. */
    private CategoryChart chart() {
        CategoryChart chart = new CategoryChartBuilder().width(1100).height(600)
                .title("Throughput relative to raw ONNX Runtime (same batch size and threads)")
                .xAxisTitle("model").yAxisTitle("share of raw ONNX Runtime throughput").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setYAxisDecimalPattern("0.00");
        List<String> modelNames = rows.stream().map(Row::model).distinct().toList();
        Map<String, List<Double>> series = new LinkedHashMap<>();
        for (String model : modelNames) {
            Map<Integer, Double> raw = new LinkedHashMap<>();
            rows.stream().filter(r -> r.model().equals(model) && r.variant().startsWith("raw"))
                    .forEach(r -> raw.put(r.batch(), r.throughput()));
            double rawBest = raw.values().stream().mapToDouble(Double::doubleValue).max().orElse(1);
            put(series, "naive per-record map", modelNames, model, find(model, "naive", -1) / rawBest);
            put(series, "async I/O, 1 per call", modelNames, model, find(model, "async I/O", -1) / rawBest);
            for (int b : batchSizes) {
                put(series, "micro-batched, batch " + b, modelNames, model, find(model, "micro-batched operator", b) / raw.get(b));
            }
        }
        series.forEach((name, values) -> chart.addSeries(name, modelNames, values));
        return chart;
    }

    private double find(String model, String variantPrefix, int batch) {
        return rows.stream()
                .filter(r -> r.model().equals(model) && r.variant().startsWith(variantPrefix)
                        && (batch < 0 || r.batch() == batch))
                .mapToDouble(Row::throughput).max().orElse(0);
    }

    private static void put(Map<String, List<Double>> series, String name, List<String> models, String model,
            double value) {
        List<Double> values = series.computeIfAbsent(name, k -> new ArrayList<>(java.util.Collections.nCopies(models.size(), 0.0)));
        values.set(models.indexOf(model), value);
    }
}
