package org.streaminference.bench;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecParser;
import org.streaminference.features.spec.InvalidFeatureSpecException;
import org.streaminference.jobs.EventFormatOptions;
import org.streaminference.jobs.MonitoringOptions;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineSettings;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferencePipeline;
import org.streaminference.model.DemoModels;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.drift.Distribution;
import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.operators.inference.batching.OnnxInferenceFunction;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.sinks.ResultStoreSchema;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The end-to-end benchmark: the job's real pipeline (Kafka source, validation, keyed features on
 * RocksDB, inference, Kafka sink, optionally the PostgreSQL sink) on a MiniCluster, fed by a
 * producer and timed by a read_committed consumer, from produce time to the prediction's arrival.
 * Identity, naive map and micro-batched inference side by side in one run, with raw ONNX Runtime
 * beside them.
 */
@Command(
        name = "pipeline-benchmark",
        mixinStandardHelpOptions = true,
        description = "End-to-end throughput and latency of the whole pipeline on real Kafka.")
public final class PipelineBenchmark implements Callable<Integer> {
    @Mixin WorkloadOptions workload;

    @Option(
            names = "--parallelism",
            split = ",",
            defaultValue = "1,2",
            description = "Parallelisms to compare.")
    List<Integer> parallelisms;

    @Option(
            names = "--rates",
            split = ",",
            defaultValue = "128,512,1024,4096,16384",
            description = "Fixed input rates (events/s) for the latency runs.")
    List<Integer> rates;

    @Option(
            names = "--batch-sizes",
            split = ",",
            defaultValue = "8,32,128",
            description = "Batch sizes to sweep.")
    List<Integer> batchSizes;

    @Option(
            names = "--batch-size",
            defaultValue = "64",
            description = "Batch size of the other runs.")
    int batchSize;

    @Option(
            names = "--max-delay",
            defaultValue = "5",
            description = "Max batch delay (ms) of the other runs.")
    long maxDelay;

    @Option(
            names = "--delays",
            split = ",",
            defaultValue = "1,5,20",
            description = "Max batch delays (ms) to sweep.")
    List<Long> delays;

    @Option(
            names = "--seconds",
            defaultValue = "5",
            description = "Measured length of each fixed-rate run.")
    double seconds;

    /** The last saturation run's observation: its CPU figures go into the progress lines. */
    private KafkaLoad.Observed lastDrain;

    @Option(
            names = "--warmup-seconds",
            defaultValue = "2",
            description =
                    "Fixed-rate runs: events scheduled in the first seconds after the job runs are left out.")
    double warmupSeconds;

    @Option(
            names = "--repeats",
            defaultValue = "3",
            description = "Measured rounds of the saturation runs after the warm-up round.")
    int repeats;

    @Option(
            names = "--tracing-ratio",
            defaultValue = "0.01",
            description =
                    "Sample ratio of the tracing variant"
                            + " (spans sent over OTLP/HTTP to a receiver in this process).")
    double tracingRatio;

    @Option(
            names = "--events",
            defaultValue = "map",
            description =
                    "How events are written: map (the job's"
                            + " envelope, one numeric map entry per value) or avro (the user's own Avro schema, the values one"
                            + " array<float> read as a vector feature).")
    KafkaLoad.Encoding events;

    @Option(
            names = "--linger",
            defaultValue = "-1",
            description = "kafka.sink.linger (ms) of every variant; -1 for" + " the job's default.")
    long lingerMillis;

    @Option(
            names = "--saturation-only",
            description =
                    "Only the saturation rounds (every variant, repeated), not"
                            + " the batch, delay and rate sweeps.")
    boolean saturationOnly;

    private Path work;
    private OtlpReceiver otlp;
    private final AtomicInteger runs = new AtomicInteger();
    private final List<String[]> rows = new ArrayList<>();
    private final List<String> verdicts = new ArrayList<>();
    private final Map<String, Map<Integer, Double>> p99ByRate = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Double>> p50ByRate = new LinkedHashMap<>();
    private final Map<String, Map<Integer, Double>> p99ByBatch = new LinkedHashMap<>();
    private final Map<String, Map<String, Double>> throughputByVariant = new LinkedHashMap<>();
    private EmbeddedKafkaBroker kafka;
    private EmbeddedPostgres postgres;

    public static void main(String[] args) {
        System.exit(new CommandLine(new PipelineBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        work = Files.createTempDirectory("pipeline-bench");
        System.out.printf(
                "Pipeline benchmark: %d cores; real Kafka (in-process KRaft), Flink MiniCluster, RocksDB%n",
                Runtime.getRuntime().availableProcessors());
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0);
                EmbeddedPostgres db =
                        EmbeddedPostgres.builder()
                                .setDataDirectory(work.resolve("pg"))
                                .setCleanDataDirectory(true)
                                .start();
                OtlpReceiver receiver = OtlpReceiver.start()) {
            otlp = receiver;
            kafka = broker;
            postgres = db;
            for (BenchModels.Workload w : workload.workloads(work, 200_000, 30_000, 30_000)) {
                benchmark(w);
            }
        }
        String table = table();
        System.out.println();
        System.out.println(table);
        verdicts.forEach(System.out::println);
        write(table);
        return 0;
    }

    private enum Inference {
        IDENTITY,
        NAIVE,
        BATCHED
    }

    /**
     * Latency percentiles of a fixed-rate run, from each event's scheduled send time, after the
     * warm-up.
     */
    private record Latency(double p50, double p99) {}

    private void benchmark(BenchModels.Workload w) throws Exception {
        System.out.printf("%n== %s%n", w.name());
        String saturated = "sat-" + w.name();
        kafka.createTopics(4, saturated);
        KafkaLoad.produce(
                kafka.bootstrapServers(), saturated, 0, w.records(), w.valuesPerRow(), 0, events);

        // every variant once unmeasured (JIT, RocksDB, Kafka clients), then the measured rounds,
        // each running every
        // variant in the same order: ratios are taken within a round
        List<String> keys = new ArrayList<>();
        for (int p : parallelisms) {
            for (Inference inference : Inference.values()) {
                keys.add(inference + "/" + p);
                if (p == 1 && inference == Inference.BATCHED) {
                    keys.add("BATCHED+TRACE/1"); // next to the same variant without tracing: the
                    // ratio is a pair's
                    keys.add("BATCHED+DRIFT/1");
                }
            }
        }
        keys.add("BATCHED+PG/1");
        keys.add("RAW");
        Map<String, List<Double>> sat = new LinkedHashMap<>();
        for (int round = 0; round <= repeats; round++) {
            System.out.printf(
                    "  %s%n", round == 0 ? "warm-up round" : "round " + round + " of " + repeats);
            for (String key : keys) {
                if (round == 0 && (key.endsWith("/2") || key.startsWith("BATCHED+PG"))) {
                    // the tracing variant is warmed up: its SDK and exporter are code no other
                    // variant runs
                    continue; // the same code as a variant warmed up already
                }
                lastDrain = null;
                double t = measure(w, saturated, key);
                System.out.printf(
                        Locale.ROOT,
                        "    %-30s %,12.0f ev/s%s%n",
                        key,
                        t,
                        lastDrain == null
                                ? ""
                                : String.format(
                                        Locale.ROOT,
                                        "  (%.2f cores busy; the job's threads %.1f µs of CPU per event)",
                                        lastDrain.cores(),
                                        lastDrain.jobMicrosPerEvent()));
                if (round > 0) {
                    sat.computeIfAbsent(key, k -> new ArrayList<>()).add(t);
                }
            }
        }
        row(w, "raw ONNX Runtime (1 thread)", "-", 1, batchSize, Spread.of(sat.get("RAW")), null);
        for (int p : parallelisms) {
            for (Inference inference : Inference.values()) {
                row(
                        w,
                        label(inference) + ", saturation",
                        "at-least-once",
                        p,
                        inference == Inference.BATCHED ? batchSize : 1,
                        Spread.of(sat.get(inference + "/" + p)),
                        null);
            }
        }
        row(
                w,
                "micro-batched + PostgreSQL sink, saturation",
                "at-least-once",
                1,
                batchSize,
                Spread.of(sat.get("BATCHED+PG/1")),
                null);
        row(
                w,
                String.format(
                        Locale.ROOT,
                        "micro-batched, tracing at %.0f%%, saturation",
                        100 * tracingRatio),
                "at-least-once",
                1,
                batchSize,
                Spread.of(sat.get("BATCHED+TRACE/1")),
                null);
        row(
                w,
                "micro-batched, drift watched on every feature, saturation",
                "at-least-once",
                1,
                batchSize,
                Spread.of(sat.get("BATCHED+DRIFT/1")),
                null);
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: drift watched on all %d features / no baseline = %s",
                        w.name(),
                        w.valuesPerRow(),
                        percent(
                                Spread.ofRatios(
                                        sat.get("BATCHED+DRIFT/1"), sat.get("BATCHED/1")))));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: tracing on at %.0f%% / off = %s (%,d OTLP export requests, %,d bytes"
                                + " received)",
                        w.name(),
                        100 * tracingRatio,
                        percent(Spread.ofRatios(sat.get("BATCHED+TRACE/1"), sat.get("BATCHED/1"))),
                        otlp.requests(),
                        otlp.bytes()));
        Map<String, Double> medians = new LinkedHashMap<>();
        sat.forEach((k, v) -> medians.put(k, Spread.of(v).median()));
        throughputByVariant.put(w.name(), medians);

        if (saturationOnly) {
            verdicts.add(
                    String.format(
                            Locale.ROOT,
                            "%s: micro-batched / identity pipeline = %s",
                            w.name(),
                            percent(Spread.ofRatios(sat.get("BATCHED/1"), sat.get("IDENTITY/1")))));
            return;
        }
        double batchedMedian = medians.get("BATCHED/1");
        Map<Integer, Double> byBatch = new LinkedHashMap<>();
        double batchRate = Math.min(4096, batchedMedian / 2);
        for (int b : batchSizes) {
            double t = saturation(w, saturated, Inference.BATCHED, 1, b, false);
            row(
                    w,
                    "micro-batched, saturation (1 run)",
                    "at-least-once",
                    1,
                    b,
                    Spread.of(List.of(t)),
                    null);
            Latency l = fixedRate(w, 1, b, batchRate, DeliveryGuarantee.AT_LEAST_ONCE, maxDelay);
            row(
                    w,
                    String.format(Locale.ROOT, "micro-batched at %.0f/s", batchRate),
                    "at-least-once",
                    1,
                    b,
                    Spread.of(List.of(batchRate)),
                    l);
            byBatch.put(b, l.p99());
        }
        p99ByBatch.put(w.name(), byBatch);
        for (long d : delays) {
            Latency l = fixedRate(w, 1, batchSize, batchRate, DeliveryGuarantee.AT_LEAST_ONCE, d);
            row(
                    w,
                    String.format(
                            Locale.ROOT, "micro-batched at %.0f/s, max delay %d ms", batchRate, d),
                    "at-least-once",
                    1,
                    batchSize,
                    Spread.of(List.of(batchRate)),
                    l);
        }

        Map<Integer, Double> p99 = new LinkedHashMap<>();
        Map<Integer, Double> p50 = new LinkedHashMap<>();
        List<Integer> latencyRates = new ArrayList<>();
        for (int r : rates) {
            if (r < batchedMedian * 0.8) {
                latencyRates.add(r);
            }
        }
        int half = (int) (batchedMedian / 2);
        if (!latencyRates.contains(half)) {
            latencyRates.add(half);
        }
        latencyRates.sort(Integer::compare);
        double halfP99 = 0;
        for (int r : latencyRates) {
            Latency l = fixedRate(w, 1, batchSize, r, DeliveryGuarantee.AT_LEAST_ONCE, maxDelay);
            p50.put(r, l.p50());
            p99.put(r, l.p99());
            row(
                    w,
                    "micro-batched at " + r + "/s" + (r == half ? " (half of saturation)" : ""),
                    "at-least-once",
                    1,
                    batchSize,
                    Spread.of(List.of((double) r)),
                    l);
            if (r == half) {
                halfP99 = l.p99();
            }
        }
        p99ByRate.put(w.name(), p99);
        p50ByRate.put(w.name(), p50);
        for (int r :
                latencyRates) { // exactly-once at each rate: output is visible at each checkpoint
            // (every 1 s)
            Latency eo = fixedRate(w, 1, batchSize, r, DeliveryGuarantee.EXACTLY_ONCE, maxDelay);
            row(
                    w,
                    "micro-batched at " + r + "/s, checkpoint every 1 s",
                    "exactly-once",
                    1,
                    batchSize,
                    Spread.of(List.of((double) r)),
                    eo);
        }

        String batched = "BATCHED/1";
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: micro-batched / identity pipeline = %s%s",
                        w.name(),
                        percent(Spread.ofRatios(sat.get(batched), sat.get("IDENTITY/1"))),
                        w.name().equals("tiny-mlp")
                                ? target(
                                        Spread.ofRatios(sat.get(batched), sat.get("IDENTITY/1"))
                                                        .median()
                                                >= 0.6,
                                        ">= 60%")
                                : ""));
        Spread overNaive = Spread.ofRatios(sat.get(batched), sat.get("NAIVE/1"));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: micro-batched / naive map pipeline = %sx%s",
                        w.name(),
                        overNaive.format("%.2f"),
                        w.name().equals("tiny-mlp")
                                ? target(overNaive.median() >= 5, ">= 5x")
                                : ""));
        Spread overRaw = Spread.ofRatios(sat.get(batched), sat.get("RAW"));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: micro-batched pipeline / raw ONNX Runtime (batch %d, 1 thread)"
                                + " = %s%s",
                        w.name(),
                        batchSize,
                        percent(overRaw),
                        w.name().equals("heavy-mlp")
                                ? target(overRaw.median() >= 0.85, ">= 85%")
                                : ""));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: PostgreSQL sink on / off = %s",
                        w.name(),
                        percent(Spread.ofRatios(sat.get("BATCHED+PG/1"), sat.get(batched)))));
        verdicts.add(
                String.format(
                        Locale.ROOT,
                        "%s: p99 at half of saturation (%d/s), at-least-once = %.0f ms%s",
                        w.name(),
                        half,
                        halfP99,
                        target(
                                halfP99 <= maxDelay + 50,
                                "<= max delay + 50 ms = " + (maxDelay + 50) + " ms")));
        if (parallelisms.contains(1) && parallelisms.contains(2)) {
            Spread scaling = Spread.ofRatios(sat.get("BATCHED/2"), sat.get(batched));
            verdicts.add(
                    String.format(
                            Locale.ROOT,
                            "%s: parallelism 2 / parallelism 1 = %sx%s",
                            w.name(),
                            scaling.format("%.2f"),
                            target(scaling.median() >= 1.6, ">= 1.6x")));
        }
    }

    /**
     * One saturation measurement: {@code INFERENCE/parallelism}, {@code BATCHED+PG/1} or {@code
     * RAW}.
     */
    private double measure(BenchModels.Workload w, String topic, String key) throws Exception {
        if (key.equals("RAW")) {
            return RawOnnxBench.rowsPerSecond(w, batchSize, 1, w.records());
        }
        boolean postgresSink = key.startsWith("BATCHED+PG");
        boolean tracing = key.startsWith("BATCHED+TRACE");
        boolean drift = key.startsWith("BATCHED+DRIFT");
        String[] parts = key.split("/");
        Inference inference =
                Inference.valueOf(postgresSink || tracing || drift ? "BATCHED" : parts[0]);
        return saturation(
                w,
                topic,
                inference,
                Integer.parseInt(parts[1]),
                inference == Inference.BATCHED ? batchSize : 1,
                postgresSink,
                tracing,
                drift);
    }

    private static String percent(Spread ratio) {
        return String.format(
                Locale.ROOT,
                "%.0f%% / %.0f%% / %.0f%%",
                100 * ratio.min(),
                100 * ratio.median(),
                100 * ratio.max());
    }

    private static String target(boolean met, String target) {
        return "  [target " + target + ": " + (met ? "MET" : "NOT MET") + "]";
    }

    private static String label(Inference inference) {
        return switch (inference) {
            case IDENTITY -> "identity (no inference)";
            case NAIVE -> "naive per-record map";
            case BATCHED -> "micro-batched operator";
        };
    }

    private Configuration options(
            BenchModels.Workload w,
            String events,
            int batch,
            DeliveryGuarantee guarantee,
            boolean postgresSink) {
        int run = runs.incrementAndGet();
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, events);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, "pred-" + run);
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, "dlq-" + run);
        options.set(PipelineOptions.GROUP_ID, "bench-" + run);
        options.set(PipelineOptions.SINK_TRANSACTIONAL_ID_PREFIX, "bench-" + run);
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, guarantee);
        options.set(PipelineOptions.MODEL_URI, List.of(w.dir().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(w.dir().getParent().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED,
                true); // benchmark models are made by the benchmark
        options.set(
                PipelineOptions.MODEL_CONTROL_TOPIC,
                ""); // one version throughout: no control topic
        options.set(PipelineOptions.INFERENCE_MAX_BATCH_SIZE, batch);
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(maxDelay));
        options.set(PipelineOptions.INFERENCE_CONCURRENT_BATCHES, 1);
        options.set(PipelineOptions.RESULT_STORE_ENABLED, postgresSink);
        options.set(
                PipelineOptions.RESULT_STORE_JDBC_URL, postgres.getJdbcUrl("postgres", "postgres"));
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        // Flink flushes network buffers every 100 ms by default: at low rates that is the latency
        // of each shuffle
        options.set(
                ExecutionOptions.BUFFER_TIMEOUT,
                Duration.ofMillis(1)); // as the shipped config.yaml
        if (lingerMillis >= 0) {
            options.set(PipelineOptions.SINK_LINGER, Duration.ofMillis(lingerMillis));
        }
        if (this.events == KafkaLoad.Encoding.avro) {
            options.set(EventFormatOptions.FORMAT, EventFormatOptions.Format.AVRO);
            options.set(EventFormatOptions.AVRO_SCHEMA, List.of(imageSchema().toString()));
            options.set(EventFormatOptions.EVENT_ID_FIELD, "id");
            options.set(EventFormatOptions.ENTITY_ID_FIELD, "entity");
            options.set(EventFormatOptions.EVENT_TIME_FIELD, "ts");
            options.set(EventFormatOptions.EVENT_TYPE_FIELD, "");
        }
        return options;
    }

    /** The events' schema file of {@code --events avro}, written once. */
    private Path imageSchema() {
        try {
            Path file = work.resolve("image.avsc");
            if (!Files.exists(file)) {
                Files.writeString(file, KafkaLoad.IMAGE_SCHEMA.toString(true));
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The feature spec of the workload: each value a numeric field, or the pixels as one vector
     * feature.
     */
    private FeatureSpec spec(BenchModels.Workload w) {
        if (events == KafkaLoad.Encoding.map) {
            return FeatureSpec.ofNumericFields("bench", 1, EventGenerator.fields(w.valuesPerRow()));
        }
        try {
            return FeatureSpecParser.parse(
                    "name: bench\nversion: 1\nfeatures:\n  - name: "
                            + KafkaLoad.PIXELS
                            + "\n    kind: vector\n    field: "
                            + KafkaLoad.PIXELS
                            + "\n    width: "
                            + w.valuesPerRow()
                            + "\n",
                    "pixels as one vector");
        } catch (InvalidFeatureSpecException e) {
            throw new IllegalStateException(e);
        }
    }

    private PipelineStages stages(
            BenchModels.Workload w, Configuration options, Inference inference) {
        PipelineStages stages = PipelineStages.forSpec(options, spec(w), false);
        return switch (inference) {
            case BATCHED -> stages;
            case NAIVE ->
                    stages.withInference(
                            enriched ->
                                    enriched.process(
                                                    new OnnxInferenceFunction(
                                                            w.dir().toString(),
                                                            ModelLoaderConfig.defaults()))
                                            .name("inference")
                                            .uid("inference"));
            case IDENTITY -> stages.withInference(PipelineBenchmark::identity);
        };
    }

    private static SingleOutputStreamOperator<Prediction> identity(
            DataStream<EnrichedEvent> enriched) {
        return enriched.map(FlinkBench::identity)
                .returns(new AvroTypeInfo<>(Prediction.class))
                .name("inference")
                .uid("inference");
    }

    private JobClient start(
            BenchModels.Workload w, Configuration options, Inference inference, int parallelism)
            throws Exception {
        kafka.createTopics(
                4,
                options.get(PipelineOptions.PREDICTIONS_TOPIC),
                options.get(PipelineOptions.DEAD_LETTERS_TOPIC));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
        StreamInferencePipeline.applyDefaults(env, options);
        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            ResultStoreSchema.migrate(PipelineSettings.resultStore(options));
        }
        StreamInferencePipeline.build(env, options, stages(w, options, inference));
        return env.executeAsync("pipeline-bench");
    }

    /**
     * Events per second through the whole pipeline over the pre-loaded topic, timed at the
     * consumer.
     */
    private double saturation(
            BenchModels.Workload w,
            String topic,
            Inference inference,
            int parallelism,
            int batch,
            boolean postgresSink)
            throws Exception {
        return saturation(w, topic, inference, parallelism, batch, postgresSink, false, false);
    }

    /**
     * @param drift serve a copy of the version with a training baseline of every feature, so that
     *     the job sketches every value it serves (the most drift monitoring can cost for this
     *     width)
     */
    private double saturation(
            BenchModels.Workload w,
            String topic,
            Inference inference,
            int parallelism,
            int batch,
            boolean postgresSink,
            boolean tracing,
            boolean drift)
            throws Exception {
        Configuration options =
                options(w, topic, batch, DeliveryGuarantee.AT_LEAST_ONCE, postgresSink);
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        if (tracing) {
            options.set(MonitoringOptions.TRACING_SAMPLE_RATIO, tracingRatio);
            options.set(MonitoringOptions.TRACING_OTLP_ENDPOINT, otlp.endpoint());
        }
        if (drift) {
            options.set(PipelineOptions.MODEL_URI, List.of(withBaseline(w).toString()));
        }
        JobClient job = start(w, options, inference, parallelism);
        KafkaLoad.Observed o =
                KafkaLoad.consume(
                        kafka.bootstrapServers(),
                        options.get(PipelineOptions.PREDICTIONS_TOPIC),
                        w.records(),
                        Duration.ofMinutes(10),
                        false);
        job.getJobExecutionResult().get(5, TimeUnit.MINUTES);
        lastDrain = o;
        return o.throughput();
    }

    /** A copy of the workload's version with a baseline of every feature, made once. */
    private Path withBaseline(BenchModels.Workload w) throws Exception {
        Path copy = w.dir().resolveSibling(w.dir().getFileName() + "-with-baseline");
        if (Files.isDirectory(copy)) {
            return copy;
        }
        Files.createDirectories(copy);
        try (var files = Files.list(w.dir())) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        Map<String, Distribution> features = new LinkedHashMap<>();
        List<String> names = spec(w).valueNames();
        for (int c = 0; c < names.size(); c++) {
            double[] values = new double[5_000];
            for (int row = 0; row < values.length; row++) {
                values[row] = EventGenerator.value(row, c);
            }
            features.put(names.get(c), Distribution.of(values, 10));
        }
        DemoModels.attachBaseline(copy, new DriftBaseline(5_000, features, null));
        return copy;
    }

    /**
     * Latencies at a fixed input rate, from each event's scheduled send time to its prediction's
     * arrival. Events are produced once the job runs; those scheduled in the first {@code
     * --warmup-seconds} are left out.
     */
    private Latency fixedRate(
            BenchModels.Workload w,
            int parallelism,
            int batch,
            double rate,
            DeliveryGuarantee guarantee,
            long delay)
            throws Exception {
        String topic = "rate-" + runs.get() + "-" + w.name();
        kafka.createTopics(4, topic);
        Configuration options = options(w, topic, batch, guarantee, false);
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(delay));
        JobClient job = start(w, options, Inference.BATCHED, parallelism);
        long count = Math.max(200, (long) (rate * (seconds + warmupSeconds)));
        try {
            FlinkBench.awaitRunning(job);
            CompletableFuture<KafkaLoad.Observed> observed =
                    CompletableFuture.supplyAsync(
                            () -> {
                                try {
                                    return KafkaLoad.consume(
                                            kafka.bootstrapServers(),
                                            options.get(PipelineOptions.PREDICTIONS_TOPIC),
                                            count,
                                            Duration.ofMinutes(5),
                                            true);
                                } catch (Exception e) {
                                    throw new RuntimeException(e);
                                }
                            });
            long startMillis =
                    KafkaLoad.produce(
                            kafka.bootstrapServers(),
                            topic,
                            0,
                            count,
                            w.valuesPerRow(),
                            rate,
                            events);
            KafkaLoad.Observed o = observed.get(6, TimeUnit.MINUTES);
            long from = startMillis + (long) (warmupSeconds * 1000);
            return new Latency(o.percentile(0.5, from), o.percentile(0.99, from));
        } finally {
            job.cancel().get(1, TimeUnit.MINUTES);
        }
    }

    private void row(
            BenchModels.Workload w,
            String variant,
            String delivery,
            int parallelism,
            int batch,
            Spread eventsPerSecond,
            Latency latency) {
        String[] row = {
            w.name(),
            variant,
            delivery,
            Integer.toString(parallelism),
            Integer.toString(batch),
            eventsPerSecond.n() == 1
                    ? String.format(Locale.ROOT, "%,.0f", eventsPerSecond.median())
                    : eventsPerSecond.format("%,.0f"),
            latency == null ? "" : String.format(Locale.ROOT, "%.0f", latency.p50()),
            latency == null ? "" : String.format(Locale.ROOT, "%.0f", latency.p99())
        };
        rows.add(row);
        System.out.printf(
                Locale.ROOT,
                "  %-55s %-14s p=%s batch %4s: %12s ev/s  p50 %4s ms  p99 %4s ms%n",
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7]);
    }

    private String table() {
        StringBuilder sb =
                new StringBuilder(
                        "| model | variant | delivery | parallelism | batch | events/s (min / median / max of the rounds) |"
                                + " p50 (ms) | p99 (ms) |\n"
                                + "|---|---|---|---:|---:|---:|---:|---:|\n");
        for (String[] r : rows) {
            sb.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        return sb.toString();
    }

    private void write(String table) throws Exception {
        Files.createDirectories(workload.out);
        String stem =
                "pipeline-"
                        + LocalDate.now()
                        + "-"
                        + Runtime.getRuntime().availableProcessors()
                        + "cores";
        Files.writeString(
                workload.out.resolve(stem + ".md"),
                "# End-to-end pipeline benchmark, "
                        + LocalDate.now()
                        + "\n\n"
                        + Runtime.getRuntime().availableProcessors()
                        + " cores. Real Kafka (in-process KRaft broker), the job's"
                        + " pipeline on a Flink MiniCluster with RocksDB state, max batch delay "
                        + maxDelay
                        + " ms unless"
                        + " stated, network buffer timeout 1 ms. Broker, producer, consumer and job share the machine. Throughput:"
                        + " a pre-loaded topic drained as fast as possible, timed at a read_committed consumer from the first to"
                        + " the last prediction (cluster start and model load excluded); every variant ran once unmeasured,"
                        + " then in "
                        + repeats
                        + " measured rounds, each running every variant in the same order (min / median"
                        + " / max; ratios taken within a round; rows marked 1 run were measured once). Latency: from each"
                        + " event's scheduled send time (not its actual one) to the prediction's arrival at that consumer;"
                        + " events produced once the job runs, those scheduled in the first "
                        + warmupSeconds
                        + " s left out."
                        + " Command: `bench/run.sh pipeline --models "
                        + workload.modelList()
                        + " --repeats "
                        + repeats
                        + " --scale "
                        + workload.scale
                        + (saturationOnly ? " --saturation-only" : "")
                        + " --events "
                        + events
                        + "`\n\n"
                        + table
                        + "\n"
                        + String.join("\n\n", verdicts)
                        + "\n\n"
                        + "![throughput]("
                        + stem
                        + "-throughput.png)\n![latency by rate]("
                        + stem
                        + "-latency-by-rate.png)\n"
                        + "![latency by batch]("
                        + stem
                        + "-latency-by-batch.png)\n");
        BitmapEncoder.saveBitmap(
                throughputChart(),
                workload.out.resolve(stem + "-throughput.png").toString(),
                BitmapEncoder.BitmapFormat.PNG);
        if (saturationOnly) {
            System.out.println(
                    "Wrote " + workload.out.resolve(stem + ".md") + " and its throughput chart");
            return; // no latency runs, no latency charts
        }
        BitmapEncoder.saveBitmap(
                lineChart(
                        "p50 and p99 latency against input rate (at-least-once, parallelism 1)",
                        "input rate (events/s)",
                        p50ByRate,
                        p99ByRate,
                        true),
                workload.out.resolve(stem + "-latency-by-rate.png").toString(),
                BitmapEncoder.BitmapFormat.PNG);
        BitmapEncoder.saveBitmap(
                lineChart(
                        "p99 latency against max batch size",
                        "max batch size",
                        null,
                        p99ByBatch,
                        false),
                workload.out.resolve(stem + "-latency-by-batch.png").toString(),
                BitmapEncoder.BitmapFormat.PNG);
        System.out.println("Wrote " + workload.out.resolve(stem + ".md") + " and its charts");
    }

    private CategoryChart throughputChart() {
        CategoryChart chart =
                new CategoryChartBuilder()
                        .width(1100)
                        .height(600)
                        .title(
                                "Pipeline throughput at saturation (medians), relative to the identity pipeline at parallelism 1")
                        .xAxisTitle("model")
                        .yAxisTitle("throughput / identity pipeline (p=1)")
                        .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setYAxisDecimalPattern("0.00");
        List<String> names = new ArrayList<>(throughputByVariant.keySet());
        List<String> variants =
                new ArrayList<>(throughputByVariant.values().iterator().next().keySet());
        for (String variant : variants) {
            if (variant.equals("RAW")) {
                continue; // not a pipeline
            }
            List<Double> values = new ArrayList<>();
            for (String model : names) {
                Map<String, Double> measured = throughputByVariant.get(model);
                values.add(measured.getOrDefault(variant, 0.0) / measured.get("IDENTITY/1"));
            }
            String[] parts = variant.split("/");
            String label =
                    switch (parts[0]) {
                        case "BATCHED+PG" -> label(Inference.BATCHED) + " + PostgreSQL";
                        case "BATCHED+TRACE" -> label(Inference.BATCHED) + ", tracing on";
                        case "BATCHED+DRIFT" ->
                                label(Inference.BATCHED) + ", drift on every feature";
                        default -> label(Inference.valueOf(parts[0]));
                    };
            chart.addSeries(label + ", p=" + parts[1], names, values);
        }
        return chart;
    }

    private static XYChart lineChart(
            String title,
            String xTitle,
            Map<String, Map<Integer, Double>> p50,
            Map<String, Map<Integer, Double>> p99,
            boolean logX) {
        XYChart chart =
                new XYChartBuilder()
                        .width(1100)
                        .height(600)
                        .title(title)
                        .xAxisTitle(xTitle)
                        .yAxisTitle("latency (ms)")
                        .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLogarithmic(logX);
        add(chart, p99, " p99");
        if (p50 != null) {
            add(chart, p50, " p50");
        }
        return chart;
    }

    private static void add(
            XYChart chart, Map<String, Map<Integer, Double>> series, String suffix) {
        for (Map.Entry<String, Map<Integer, Double>> e : series.entrySet()) {
            if (e.getValue().isEmpty()) {
                continue;
            }
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            e.getValue()
                    .forEach(
                            (k, v) -> {
                                x.add(k.doubleValue());
                                y.add(Math.max(v, 0.1));
                            });
            chart.addSeries(e.getKey() + suffix, x, y);
        }
    }
}
