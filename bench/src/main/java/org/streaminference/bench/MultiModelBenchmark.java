package org.streaminference.bench;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferencePipeline;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A light model's latency when its job serves it alone, next to its latency when the same job also
 * serves a model about 50 times heavier on every event (fan-out): batching is per model and
 * version, so the heavy model's batches should not hold the light model's back. A third variant
 * fans out to a second light model, so that what the heavy model costs the light one is told apart
 * from what any fan-out costs (twice the predictions to write). Each round runs every variant at
 * the same fixed rate, in rotating order, after a warm-up round of each; latency runs from each
 * event's scheduled send time to its prediction's arrival.
 */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description =
                "A light model's latency served alone and beside a model ~50x heavier in the same job.")
public final class MultiModelBenchmark implements Callable<Integer> {
    @Option(
            names = "--rate",
            defaultValue = "1000",
            description = "Events per second (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(
            names = "--seconds",
            defaultValue = "10",
            description = "Measured length of each run (s).")
    int seconds;

    @Option(
            names = "--warmup-seconds",
            defaultValue = "3",
            description = "Left out at the start of each run (s).")
    int warmupSeconds;

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description = "Measured rounds (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(
            names = "--parallelism",
            defaultValue = "1",
            description = "Job parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(
            names = "--batch-size",
            defaultValue = "64",
            description = "Max batch size (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(
            names = "--max-delay",
            defaultValue = "5",
            description = "Max batch delay, ms (default ${DEFAULT-VALUE}).")
    long maxDelay;

    private final AtomicInteger runs = new AtomicInteger();
    private EmbeddedKafkaBroker kafka;
    private Path work;

    public static void main(String[] args) {
        System.exit(new CommandLine(new MultiModelBenchmark()).execute(args));
    }

    private record Latency(double p50, double p99) {}

    @Override
    public Integer call() throws Exception {
        work = Files.createTempDirectory("models-bench");
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf(
                "Several models in one job: %d cores; real Kafka (in-process KRaft), Flink MiniCluster%n",
                cores);
        BenchModels.Workload light = BenchModels.tiny(work.resolve("models"), 0);
        BenchModels.Workload heavy = BenchModels.wide(work.resolve("models"), 0);
        BenchModels.Workload lightCopy = BenchModels.tinyCopy(work.resolve("models"), 0);
        double[] perRow = rawMicrosPerRow(light, heavy);
        System.out.printf(
                Locale.ROOT,
                "raw ONNX Runtime, batches of 32: %s %.3f µs/row, %s %.3f µs/row (%.0fx)%n",
                light.name(),
                perRow[0],
                heavy.name(),
                perRow[1],
                perRow[1] / perRow[0]);

        Map<String, List<Double>> p99 = new LinkedHashMap<>();
        Map<String, List<Double>> p50 = new LinkedHashMap<>();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0)) {
            kafka = broker;
            for (int round = 0; round <= repeats; round++) {
                System.out.printf(
                        "  %s%n",
                        round == 0 ? "warm-up round" : "round " + round + " of " + repeats);
                List<BenchModels.Workload> variants =
                        new ArrayList<>(Arrays.asList(null, heavy, lightCopy));
                Collections.rotate(variants, round);
                for (BenchModels.Workload beside : variants) {
                    Map<String, Latency> measured = run(light, beside);
                    for (Map.Entry<String, Latency> m : measured.entrySet()) {
                        String other =
                                m.getKey().equals(light.name())
                                        ? (beside == null ? null : beside.name())
                                        : light.name();
                        String key =
                                m.getKey()
                                        + (other != null ? " (beside " + other + ")" : " (alone)");
                        System.out.printf(
                                Locale.ROOT,
                                "    %-40s p50 %5.0f ms  p99 %5.0f ms%n",
                                key,
                                m.getValue().p50(),
                                m.getValue().p99());
                        if (round > 0) {
                            p50.computeIfAbsent(key, k -> new ArrayList<>())
                                    .add(m.getValue().p50());
                            p99.computeIfAbsent(key, k -> new ArrayList<>())
                                    .add(m.getValue().p99());
                        }
                    }
                }
            }
        }
        String alone = light.name() + " (alone)";
        String beside = light.name() + " (beside " + heavy.name() + ")";
        String besideLight = light.name() + " (beside " + lightCopy.name() + ")";
        StringBuilder md = new StringBuilder();
        md.append(
                String.format(
                        Locale.ROOT,
                        "# Several models in one job: a light model alone and beside a heavy one"
                                + " (%s, %d cores)%n%n",
                        LocalDate.now(),
                        cores));
        md.append(
                String.format(
                        Locale.ROOT,
                        "`bench/run.sh models --rate %.0f --seconds %d --warmup-seconds %d"
                                + " --repeats %d --parallelism %d --batch-size %d --max-delay %d`: one job, the demo pipeline"
                                + " (Kafka, validation, keyed features, micro-batched inference, Kafka; at-least-once, result"
                                + " store off), every event routed to %s alone, or fanned out to %s and %s (heavy), or to %s"
                                + " and its copy %s (light). Raw ONNX Runtime"
                                + " cost per row (batches of 32): %s %.3f µs, %s %.3f µs (**%.0fx**). Latency from each"
                                + " event's scheduled send to its prediction's arrival, after %d s of warm-up; a warm-up round"
                                + " of each variant first, then the variants in rotating order.%n%n",
                        rate,
                        seconds,
                        warmupSeconds,
                        repeats,
                        parallelism,
                        batchSize,
                        maxDelay,
                        light.name(),
                        light.name(),
                        heavy.name(),
                        light.name(),
                        lightCopy.name(),
                        light.name(),
                        perRow[0],
                        heavy.name(),
                        perRow[1],
                        perRow[1] / perRow[0],
                        warmupSeconds));
        md.append(
                "| predictions of | p50 ms (min / median / max) | p99 ms (min / median / max) |\n|---|---|---|\n");
        for (String key : p99.keySet()) {
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %s |%n",
                            key,
                            Spread.of(p50.get(key)).format("%.0f"),
                            Spread.of(p99.get(key)).format("%.0f")));
        }
        md.append(
                String.format(
                        Locale.ROOT,
                        "%n%s p99 beside %s / alone, ratio within each round (min / median /"
                                + " max): **%s**%n",
                        light.name(),
                        heavy.name(),
                        Spread.ofRatios(p99.get(beside), p99.get(alone)).format("%.2f")));
        md.append(
                String.format(
                        Locale.ROOT,
                        "%n%s p99 beside %s / beside %s (what the heavy model costs beyond any"
                                + " fan-out), within each round: **%s**%n",
                        light.name(),
                        heavy.name(),
                        lightCopy.name(),
                        Spread.ofRatios(p99.get(beside), p99.get(besideLight)).format("%.2f")));
        System.out.println();
        System.out.println(md);
        Path out =
                Path.of("bench/results")
                        .resolve(
                                String.format(
                                        Locale.ROOT,
                                        "models-%s-%dcores.md",
                                        LocalDate.now(),
                                        cores));
        Files.createDirectories(out.getParent());
        Files.writeString(out, md.toString());
        System.out.println("Wrote " + out);
        return 0;
    }

    /**
     * Microseconds per row of each model run alone on batches of 32 random rows, after a warm-up.
     */
    private static double[] rawMicrosPerRow(BenchModels.Workload... models) throws Exception {
        double[] micros = new double[models.length];
        Random random = new Random(7);
        float[] rows = new float[32 * 32];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = random.nextFloat();
        }
        for (int m = 0; m < models.length; m++) {
            try (LoadedModel model =
                    new ModelLoader(ModelLoaderConfig.defaults())
                            .load(models[m].dir().toString())) {
                for (int i = 0; i < 2_000; i++) {
                    model.run(FloatBuffer.wrap(rows), 32);
                }
                int batches = 20_000;
                long start = System.nanoTime();
                for (int i = 0; i < batches; i++) {
                    model.run(FloatBuffer.wrap(rows), 32);
                }
                micros[m] = (System.nanoTime() - start) / 1e3 / batches / 32;
            }
        }
        return micros;
    }

    /**
     * One fixed-rate run of a job serving {@code light}, and {@code beside} on every event too
     * where given.
     */
    private Map<String, Latency> run(BenchModels.Workload light, BenchModels.Workload beside)
            throws Exception {
        int run = runs.incrementAndGet();
        String topic = "events-" + run;
        String predictions = "pred-" + run;
        kafka.createTopics(4, topic, predictions, "dlq-" + run);
        List<String> models =
                beside == null ? List.of(light.name()) : List.of(light.name(), beside.name());
        Path plan = work.resolve("plan-" + run + ".yaml");
        Files.writeString(plan, "routes:\n  - to: [" + String.join(", ", models) + "]\n");

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, topic);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, predictions);
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, "dlq-" + run);
        options.set(PipelineOptions.GROUP_ID, "bench-" + run);
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(
                PipelineOptions.MODEL_URI,
                beside == null
                        ? List.of(light.dir().toString())
                        : List.of(light.dir().toString(), beside.dir().toString()));
        options.set(PipelineOptions.MODEL_SERVING_PLAN, plan.toString());
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(light.dir().getParent().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED,
                true); // benchmark models are made by the benchmark
        options.set(
                PipelineOptions.MODEL_CONTROL_TOPIC,
                ""); // what it serves is fixed: no control topic
        options.set(PipelineOptions.INFERENCE_MAX_BATCH_SIZE, batchSize);
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(maxDelay));
        options.set(PipelineOptions.INFERENCE_CONCURRENT_BATCHES, 1);
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ExecutionOptions.BUFFER_TIMEOUT, Duration.ofMillis(5));

        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
        StreamInferencePipeline.applyDefaults(env, options);
        StreamInferencePipeline.build(
                env,
                options,
                PipelineStages.forSpec(
                        options,
                        FeatureSpec.ofNumericFields(
                                "bench", 1, EventGenerator.fields(light.valuesPerRow())),
                        false));
        JobClient job = env.executeAsync("models-bench");
        long count = (long) (rate * (seconds + warmupSeconds));
        try {
            FlinkBench.awaitRunning(job);
            Map<String, CompletableFuture<KafkaLoad.Observed>> observed = new LinkedHashMap<>();
            for (String model : models) {
                observed.put(
                        model,
                        CompletableFuture.supplyAsync(
                                () -> {
                                    try {
                                        return KafkaLoad.consume(
                                                kafka.bootstrapServers(),
                                                predictions,
                                                count,
                                                Duration.ofMinutes(5),
                                                true,
                                                model);
                                    } catch (Exception e) {
                                        throw new IllegalStateException(e);
                                    }
                                }));
            }
            long startMillis =
                    KafkaLoad.produce(
                            kafka.bootstrapServers(), topic, 0, count, light.valuesPerRow(), rate);
            long from = startMillis + warmupSeconds * 1000L;
            Map<String, Latency> latencies = new LinkedHashMap<>();
            for (Map.Entry<String, CompletableFuture<KafkaLoad.Observed>> o : observed.entrySet()) {
                KafkaLoad.Observed seen = o.getValue().get(6, TimeUnit.MINUTES);
                latencies.put(
                        o.getKey(),
                        new Latency(seen.percentile(0.5, from), seen.percentile(0.99, from)));
            }
            return latencies;
        } finally {
            job.cancel().get(1, TimeUnit.MINUTES);
        }
    }
}
