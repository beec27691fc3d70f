package org.streaminference.bench;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferencePipeline;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * Hot swaps under load: the job's pipeline serving the heavy MLP on a MiniCluster at a steady input
 * rate, while a new version is published and rolled back several times through the control topic.
 * Measures, from the predictions' own timestamps, the longest pause between two consecutive
 * predictions while a version is loaded and switched in, next to the steady state's pauses, and the
 * end-to-end latency of the events that arrived during the swaps.
 */
@Command(
        name = "swap-benchmark",
        mixinStandardHelpOptions = true,
        description = "Pauses and latency while model versions are swapped under load.")
public final class SwapBenchmark implements Callable<Integer> {
    private static final int WIDTH = 256;

    @Option(
            names = "--rate",
            defaultValue = "1000",
            description = "Input events per second (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(
            names = "--seconds",
            defaultValue = "50",
            description = "Length of the run (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(
            names = "--warm-up",
            defaultValue = "25",
            description =
                    "Seconds at the rate before the measured run, not measured: JIT, RocksDB and Kafka clients"
                            + " start cold (default ${DEFAULT-VALUE}).")
    int warmUp;

    @Option(
            names = "--swaps",
            defaultValue = "4",
            description =
                    "Commands sent, alternately publishing version 2 and rolling back (default ${DEFAULT-VALUE}).")
    int swaps;

    @Option(
            names = "--parallelism",
            defaultValue = "2",
            description = "Job parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SwapBenchmark()).execute(args));
    }

    /** One command's window: from sending it to the last subtask's DEPLOYED event. */
    private record Swap(String command, long sentMillis, long deployedMillis) {}

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("swap-bench");
        List<BenchModels.Workload> versions = BenchModels.heavyVersions(work, 0);
        long total = (long) (rate * (warmUp + seconds));
        System.out.printf(
                "Swap benchmark: %d cores; heavy MLP 256-1024-1024-1, %d events at %.0f/s, parallelism %d,"
                        + " %d commands%n",
                Runtime.getRuntime().availableProcessors(), total, rate, parallelism, swaps);
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0)) {
            kafka.createTopics(4, "events", "predictions", "dead-letters");
            kafka.createTopics(1, "predictions-shadow", "model-control", "model-events");
            Configuration options = options(kafka, versions.get(0).dir());
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
            StreamInferencePipeline.applyDefaults(env, options);
            StreamInferencePipeline.build(
                    env,
                    options,
                    PipelineStages.forSpec(
                            options,
                            FeatureSpec.ofNumericFields("bench", 1, EventGenerator.fields(WIDTH)),
                            false));
            JobClient job = env.executeAsync("swap-bench");
            try (ModelEventReader events = new ModelEventReader(kafka.bootstrapServers());
                    KafkaProducer<String, String> control =
                            new KafkaProducer<>(
                                    Map.<String, Object>of(
                                            ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                            kafka.bootstrapServers()),
                                    new StringSerializer(),
                                    new StringSerializer())) {
                events.awaitAll(e -> e.getType() == ModelEventType.DEPLOYED, parallelism);

                CompletableFuture<long[][]> consumed =
                        CompletableFuture.supplyAsync(
                                () -> consume(kafka.bootstrapServers(), total));
                long start =
                        System.currentTimeMillis() + warmUp * 1000L; // the measured run starts here
                CompletableFuture<Void> produced =
                        CompletableFuture.runAsync(
                                () -> {
                                    try {
                                        KafkaLoad.produce(
                                                kafka.bootstrapServers(),
                                                "events",
                                                0,
                                                total,
                                                WIDTH,
                                                rate); // scheduled times
                                    } catch (Exception e) {
                                        throw new IllegalStateException(e);
                                    }
                                });
                List<Swap> swapList = new ArrayList<>();
                for (int k = 1; k <= swaps; k++) {
                    long due = start + (long) (seconds * 1000.0 * k / (swaps + 1));
                    LockSupport.parkNanos(
                            TimeUnit.MILLISECONDS.toNanos(
                                    due - System.currentTimeMillis())); // pacing
                    ModelCommand command =
                            k % 2 == 1
                                    ? ModelCommands.publish(
                                            "heavy-mlp",
                                            "2",
                                            versions.get(1).dir().toUri().toString(),
                                            null,
                                            null)
                                    : ModelCommands.rollback("heavy-mlp");
                    long sent = System.currentTimeMillis();
                    control.send(
                                    new ProducerRecord<>(
                                            "model-control",
                                            "heavy-mlp",
                                            new String(
                                                    ModelCommands.toJson(command),
                                                    StandardCharsets.UTF_8)))
                            .get(30, TimeUnit.SECONDS);
                    List<ModelEvent> answers =
                            events.awaitAll(
                                    e ->
                                            e.getType() == ModelEventType.DEPLOYED
                                                    && command.getId().equals(e.getCommandId()),
                                    parallelism);
                    long deployed =
                            answers.stream().mapToLong(ModelEvent::getTime).max().orElseThrow();
                    swapList.add(new Swap(ModelCommands.describe(command), sent, deployed));
                    System.out.printf(
                            "  %s: applied by every subtask %d ms after it was sent%n",
                            ModelCommands.describe(command), deployed - sent);
                }
                produced.get(10, TimeUnit.MINUTES);
                long[][] predictions = consumed.get(10, TimeUnit.MINUTES);
                List<Long> loads =
                        events.all().stream()
                                .filter(
                                        e ->
                                                e.getType() == ModelEventType.LOADED
                                                        && "2".equals(e.getVersion()))
                                .map(ModelEvent::getLoadMillis)
                                .toList();
                report(
                        predictions,
                        swapList,
                        loads,
                        total,
                        start,
                        Files.size(versions.get(1).dir().resolve("model.onnx")));
            } finally {
                job.cancel().get(1, TimeUnit.MINUTES);
            }
        }
        return 0;
    }

    private Configuration options(EmbeddedKafkaBroker kafka, Path v1) {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(v1.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(v1.getParent().getParent().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED,
                true); // benchmark models are made by the benchmark
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.INFERENCE_MAX_BATCH_SIZE, 64);
        options.set(PipelineOptions.INFERENCE_MAX_DELAY, Duration.ofMillis(5));
        options.set(PipelineOptions.INFERENCE_CONCURRENT_BATCHES, 1);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ExecutionOptions.BUFFER_TIMEOUT, Duration.ofMillis(5));
        return options;
    }

    /**
     * Per prediction: [inference time, produce time (the event time), arrival time], all epoch ms.
     */
    private static long[][] consume(String bootstrap, long expected) {
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        Map.of(
                                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ConsumerConfig.GROUP_ID_CONFIG,
                                "swap-bench-clock",
                                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                                "earliest",
                                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG,
                                5),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            consumer.subscribe(List.of("predictions"));
            long[][] out = new long[(int) expected][];
            int n = 0;
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (n < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long arrival = System.currentTimeMillis();
                    Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
                    if (n < out.length) {
                        out[n] = new long[] {p.getInferenceTime(), p.getEventTime(), arrival};
                    }
                    n++;
                }
            }
            if (n < expected) {
                throw new IllegalStateException(
                        "only " + n + " of " + expected + " predictions arrived");
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void report(
            long[][] predictions,
            List<Swap> swapList,
            List<Long> loads,
            long total,
            long start,
            long modelBytes)
            throws Exception {
        long warmUpEnd = start;
        long[] times = Arrays.stream(predictions).mapToLong(p -> p[0]).sorted().toArray();
        List<Long> steadyGaps = new ArrayList<>();
        List<Long> swapGaps = new ArrayList<>();
        long[] swapMax = new long[swapList.size()];
        for (int i = 1; i < times.length; i++) {
            long gap = times[i] - times[i - 1];
            int inSwap = window(swapList, times[i - 1], times[i]);
            if (inSwap >= 0) {
                swapGaps.add(gap);
                swapMax[inSwap] = Math.max(swapMax[inSwap], gap);
            } else if (times[i - 1] >= warmUpEnd) {
                steadyGaps.add(gap);
            }
        }
        List<Long> steadyLatency = new ArrayList<>();
        List<Long> swapLatency = new ArrayList<>();
        for (long[] p : predictions) {
            if (p[1] < warmUpEnd) {
                continue;
            }
            boolean during = window(swapList, p[1], p[1]) >= 0;
            (during ? swapLatency : steadyLatency).add(p[2] - p[1]);
        }
        steadyGaps.sort(null);
        swapGaps.sort(null);
        steadyLatency.sort(null);
        swapLatency.sort(null);

        StringBuilder md = new StringBuilder();
        md.append(
                String.format(
                        Locale.ROOT,
                        "# Model swaps under load, %s, %d cores%n%n",
                        LocalDate.now(),
                        Runtime.getRuntime().availableProcessors()));
        md.append(
                String.format(
                        Locale.ROOT,
                        "`bench/run.sh swap --rate %.0f --seconds %d --swaps %d --parallelism %d` (after a warm-up):"
                                + " the job's pipeline (Kafka, validation, keyed features on RocksDB, micro-batched inference,"
                                + " Kafka sink, at-least-once) serving the heavy MLP 256-1024-1024-1 (%d-byte weights file) on a"
                                + " MiniCluster; every other command publishes version 2 (a full load: fetch, sha256, session, warm-up"
                                + " on the loader thread), the others roll back to version 1 (a routing change; version 2 is then"
                                + " released). Pauses are between consecutive predictions by the time the operator made them,"
                                + " across all subtasks; pauses and latencies count from %d s after the start, when the JIT has"
                                + " warmed up. %d predictions for %d events.%n%n",
                        rate,
                        seconds,
                        swaps,
                        parallelism,
                        modelBytes,
                        warmUp,
                        predictions.length,
                        total));
        md.append(
                "| command | applied after (ms) | longest pause in its window (ms) |\n|---|---:|---:|\n");
        for (int k = 0; k < swapList.size(); k++) {
            Swap s = swapList.get(k);
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %d | %d |%n",
                            s.command(),
                            s.deployedMillis() - s.sentMillis(),
                            swapMax[k]));
        }
        md.append(
                String.format(
                        Locale.ROOT,
                        "%nVersion 2 load time per subtask (fetch, verify, open, warm up): %s ms%n%n",
                        loads));
        md.append(
                "| | pause p50 (ms) | pause p99 (ms) | pause max (ms) | latency p50 (ms) | latency p99 (ms) |"
                        + " latency max (ms) |\n|---|---:|---:|---:|---:|---:|---:|\n");
        md.append(row("steady state", steadyGaps, steadyLatency));
        md.append(row("during swaps", swapGaps, swapLatency));
        long worst = swapGaps.isEmpty() ? 0 : swapGaps.get(swapGaps.size() - 1);
        long steadyP99 = pct(steadyGaps, 0.99);
        md.append(
                String.format(
                        Locale.ROOT,
                        "%nLongest pause during a swap: %d ms, %.1fx the steady state's p99 pause"
                                + " (%d ms).%n",
                        worst,
                        worst / (double) Math.max(1, steadyP99),
                        steadyP99));
        md.append(
                        "\nPer second of the measured run (by produce time; commands marked where they were sent):\n\n```\n")
                .append(timeline(predictions, swapList, start))
                .append("```\n");
        System.out.println();
        System.out.println(md);
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        "swap-"
                                + LocalDate.now()
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.writeString(file, md.toString());
        System.out.println("Wrote " + file);
    }

    /**
     * Per second of the run: predictions made, and the p99 latency of the events produced in it.
     */
    private static String timeline(long[][] predictions, List<Swap> swapList, long start) {
        StringBuilder out = new StringBuilder();
        Map<Long, List<Long>> bySecond = new TreeMap<>();
        for (long[] p : predictions) {
            bySecond.computeIfAbsent(Math.floorDiv(p[1] - start, 1000L), k -> new ArrayList<>())
                    .add(p[2] - p[1]);
        }
        bySecond.forEach(
                (second, latencies) -> {
                    if (second < -3) {
                        return;
                    }
                    latencies.sort(null);
                    String marks =
                            swapList.stream()
                                    .filter(
                                            s ->
                                                    Math.floorDiv(s.sentMillis() - start, 1000L)
                                                            == second)
                                    .map(Swap::command)
                                    .reduce("", (a, b) -> a + " <- " + b);
                    out.append(
                            String.format(
                                    Locale.ROOT,
                                    "[%3ds] %5d events, latency p50 %5d ms, p99 %5d ms%s%n",
                                    second,
                                    latencies.size(),
                                    pct(latencies, 0.5),
                                    pct(latencies, 0.99),
                                    marks));
                });
        return out.toString();
    }

    /** The swap whose window [sent, deployed] overlaps [from, to], or -1. */
    private static int window(List<Swap> swaps, long from, long to) {
        for (int k = 0; k < swaps.size(); k++) {
            if (to >= swaps.get(k).sentMillis() && from <= swaps.get(k).deployedMillis()) {
                return k;
            }
        }
        return -1;
    }

    private static String row(String label, List<Long> gaps, List<Long> latency) {
        return String.format(
                Locale.ROOT,
                "| %s | %d | %d | %d | %d | %d | %d |%n",
                label,
                pct(gaps, 0.5),
                pct(gaps, 0.99),
                pct(gaps, 1.0),
                pct(latency, 0.5),
                pct(latency, 0.99),
                pct(latency, 1.0));
    }

    private static long pct(List<Long> sorted, double q) {
        if (sorted.isEmpty()) {
            return -1;
        }
        return sorted.get((int) Math.min(sorted.size() - 1, Math.floor(q * sorted.size())));
    }

    /** The model-events topic, read as it grows. */
    private static final class ModelEventReader implements AutoCloseable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final List<ModelEvent> seen = new ArrayList<>();

        ModelEventReader(String bootstrap) {
            consumer =
                    new KafkaConsumer<>(
                            Map.of(
                                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                                    ConsumerConfig.GROUP_ID_CONFIG, "swap-bench-events",
                                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                            new ByteArrayDeserializer(),
                            new ByteArrayDeserializer());
            consumer.subscribe(List.of("model-events"));
        }

        /**
         * Waits until {@code subtasks} distinct subtasks reported a matching event; returns those
         * events.
         */
        List<ModelEvent> awaitAll(Predicate<ModelEvent> match, int subtasks) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (System.nanoTime() < deadline) {
                Map<Integer, ModelEvent> bySubtask = new HashMap<>();
                seen.stream().filter(match).forEach(e -> bySubtask.putIfAbsent(e.getSubtask(), e));
                if (bySubtask.size() >= subtasks) {
                    return new ArrayList<>(bySubtask.values());
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    seen.add(ModelEvents.fromJson(r.value()));
                }
            }
            throw new IllegalStateException(
                    "the job did not answer within 2 minutes; events so far: " + seen);
        }

        List<ModelEvent> all() {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                try {
                    seen.add(ModelEvents.fromJson(r.value()));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
            return seen;
        }

        @Override
        public void close() {
            consumer.close();
        }
    }
}
