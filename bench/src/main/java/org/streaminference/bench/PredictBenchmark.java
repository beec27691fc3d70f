package org.streaminference.bench;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.gateway.PredictGateway;
import org.streaminference.gateway.PredictGatewayOptions;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.StreamInferenceJob;
import org.streaminference.query.ApiKeys;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.TopicOptions;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Synchronous predictions through the running job: the job (tiny MLP, 32 numeric fields) on a
 * MiniCluster with a real broker, the predict gateway beside it, and requests at fixed rates over
 * REST and gRPC, open loop (each request's latency counts from its scheduled send time, so a
 * stalled server cannot hide its queue), without and then with a stream of events at {@code
 * --stream-rate}; p50/p99/p99.9, the highest rate with p99 under {@code --target-p99-ms}, where the
 * time of an answer goes (Kafka, the job, the gateway, from each answer's own metadata), the
 * stream's own latency beside it, and {@code wrk} (closed loop, its own percentiles) where
 * installed.
 */
@Command(
        name = "predict-benchmark",
        mixinStandardHelpOptions = true,
        description =
                "Latency of synchronous predictions through the job, with and without a stream.")
public final class PredictBenchmark implements Callable<Integer> {
    private static final int WIDTH = 32;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(
            names = "--rates",
            split = ",",
            defaultValue = "50,100,200,400",
            description =
                    "Request rates per second, each measured in turn (default ${DEFAULT-VALUE}).")
    List<Double> rates;

    @Option(
            names = "--seconds",
            defaultValue = "10",
            description = "Measured seconds per rate (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(
            names = "--warm-up",
            defaultValue = "3",
            description = "Seconds at each rate before it is measured (default ${DEFAULT-VALUE}).")
    int warmUp;

    @Option(
            names = "--stream-rate",
            defaultValue = "5000",
            description =
                    "Events per second of the stream beside the requests (default ${DEFAULT-VALUE}).")
    double streamRate;

    @Option(
            names = "--target-p99-ms",
            defaultValue = "20",
            description = "The p99 the highest rate is found for (default ${DEFAULT-VALUE}).")
    double targetP99;

    @Option(
            names = "--parallelism",
            defaultValue = "2",
            description = "Job parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new PredictBenchmark()).execute(args));
    }

    /** One measured rate: latencies from the scheduled send, and the answers' time shares. */
    record Step(
            String protocol,
            boolean stream,
            double rate,
            double achieved,
            long sent,
            long errors,
            double p50,
            double p99,
            double p999,
            double jobShare,
            double kafkaShare,
            double gatewayShare,
            double requestLegShare,
            double replyLegShare,
            double streamP50,
            double streamP99) {}

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("predict-bench");
        BenchModels.Workload tiny = BenchModels.tiny(work, 0);
        Path spec = work.resolve("bench-spec.yaml");
        StringBuilder yaml = new StringBuilder("name: bench\nversion: 1\nfeatures:\n");
        for (String f : EventGenerator.fields(WIDTH)) {
            yaml.append("  - {name: ")
                    .append(f)
                    .append(", kind: numeric, field: ")
                    .append(f)
                    .append("}\n");
        }
        Files.writeString(spec, yaml);
        String key = ApiKeys.generate();
        Path keys = work.resolve("keys");
        Files.writeString(keys, ApiKeys.line("bench", key, Set.of(ApiKeys.PREDICT)) + "\n");
        System.out.printf(
                "Predict benchmark: %d cores; tiny MLP (32 fields), parallelism %d, rates %s/s, %d s each"
                        + " after %d s; stream %,.0f events/s%n",
                Runtime.getRuntime().availableProcessors(),
                parallelism,
                rates,
                seconds,
                warmUp,
                streamRate);
        List<Step> steps = new ArrayList<>();
        List<String> wrk = new ArrayList<>();
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0)) {
            kafka.createTopics(2, "events", "predictions", "predict-replies");
            // the broker's append time on requests: the gateway's metrics split the request leg
            // there
            try (Admin admin =
                    Admin.create(
                            Map.of(
                                    AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    kafka.bootstrapServers()))) {
                admin.createTopics(
                                List.of(
                                        new NewTopic("predict-requests", 2, (short) 1)
                                                .configs(
                                                        Map.of(
                                                                "message.timestamp.type",
                                                                "LogAppendTime"))))
                        .all()
                        .get(1, TimeUnit.MINUTES);
            }
            kafka.createTopics(1, "dead-letters", "model-control", "model-events");
            Configuration options = jobOptions(kafka, tiny, spec);
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
            StreamInferenceJob.prepare(env, options);
            JobClient job = env.executeAsync("predict-bench");
            try (PredictGateway gateway = PredictGateway.start(gatewayOptions(kafka, spec, keys));
                    StreamLatency streamLatency = new StreamLatency(kafka.bootstrapServers())) {
                HttpClient http =
                        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                String url = "http://127.0.0.1:" + gateway.port() + "/v1/models/tiny-mlp/predict";
                awaitFirstAnswer(http, url, key);
                System.out.printf(
                        "Gateway on HTTP %d, gRPC %d (its /metrics break the time down further)%n",
                        gateway.port(), gateway.grpcPort());
                for (boolean withStream : new boolean[] {false, true}) {
                    AtomicBoolean streaming = new AtomicBoolean(withStream);
                    Thread producer = null;
                    if (withStream) {
                        producer = streamProducer(kafka.bootstrapServers(), streaming);
                        producer.start();
                        Thread.sleep(5_000); // the stream at its rate before anything is measured
                    }
                    for (double rate : rates) {
                        steps.add(measure("rest", withStream, rate, streamLatency, url, key));
                        steps.add(
                                measure(
                                        "grpc",
                                        withStream,
                                        rate,
                                        streamLatency,
                                        "127.0.0.1:" + gateway.grpcPort(),
                                        key));
                    }
                    wrk.add(wrk(url, key, withStream));
                    streaming.set(false);
                    if (producer != null) {
                        producer.join();
                    }
                }
            } finally {
                job.cancel().get(1, TimeUnit.MINUTES);
            }
        }
        report(steps, wrk);
        return 0;
    }

    private Configuration jobOptions(
            EmbeddedKafkaBroker kafka, BenchModels.Workload model, Path spec) {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(model.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(model.dir().getParent().getParent().toUri().toString()));
        options.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // made by the benchmark
        options.set(PipelineOptions.FEATURES_SPEC, spec.toString());
        options.set(PipelineOptions.PREDICT_REQUESTS_TOPIC, "predict-requests");
        // the stream at least once, as the other latency benchmarks: exactly-once adds the
        // checkpoint interval to the stream's latency (never to a request's: replies are not
        // transactional)
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(2));
        return options;
    }

    private static Configuration gatewayOptions(EmbeddedKafkaBroker kafka, Path spec, Path keys) {
        Configuration config = new Configuration();
        config.set(TopicOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        config.set(TopicOptions.PREDICT_REQUESTS_TOPIC, "predict-requests");
        config.set(PredictGatewayOptions.PORT, 0);
        config.set(PredictGatewayOptions.GRPC_PORT, 0);
        config.set(PredictGatewayOptions.API_KEYS_FILE, keys.toString());
        config.set(PredictGatewayOptions.FEATURES_SPEC, spec.toString());
        config.set(PredictGatewayOptions.RATE_LIMIT, 1e6);
        config.set(PredictGatewayOptions.RATE_LIMIT_BURST, 1_000_000);
        config.set(PredictGatewayOptions.MAX_IN_FLIGHT, 20_000);
        config.set(PredictGatewayOptions.TIMEOUT, Duration.ofSeconds(10));
        return config;
    }

    /** The stream: events of 32 fields at the stream rate, until told to stop. */
    private Thread streamProducer(String bootstrap, AtomicBoolean running) {
        return new Thread(
                () -> {
                    long index = 0;
                    while (running.get()) {
                        long batch = (long) streamRate; // a second's worth at a time
                        try {
                            KafkaLoad.produce(bootstrap, "events", index, batch, WIDTH, streamRate);
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        index += batch;
                    }
                },
                "stream-load");
    }

    /**
     * One measured rate, by a load client in its own JVM ({@link PredictLoad}): the client's
     * threads, allocation and GC are not the server's, as for a real caller.
     */
    private Step measure(
            String protocol,
            boolean stream,
            double rate,
            StreamLatency streamLatency,
            String target,
            String key)
            throws Exception {
        streamLatency.reset(System.currentTimeMillis() + warmUp * 1000L);
        Process p =
                new ProcessBuilder(
                                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                                "-Xmx512m",
                                "-cp",
                                System.getProperty("java.class.path"),
                                PredictLoad.class.getName(),
                                protocol,
                                target,
                                key,
                                Double.toString(rate),
                                Integer.toString(seconds),
                                Integer.toString(warmUp))
                        .redirectError(ProcessBuilder.Redirect.INHERIT)
                        .start();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        p.getInputStream().transferTo(o);
        if (!p.waitFor(seconds + warmUp + 120L, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("the load client failed: " + o);
        }
        String output = o.toString(StandardCharsets.UTF_8);
        JsonNode r = JSON.readTree(output.substring(output.lastIndexOf("{\"sent\"")));
        double[] streamLat = streamLatency.percentiles();
        Step step =
                new Step(
                        protocol,
                        stream,
                        rate,
                        r.path("achieved").asDouble(),
                        r.path("sent").asLong(),
                        r.path("errors").asLong(),
                        r.path("p50").asDouble(),
                        r.path("p99").asDouble(),
                        r.path("p999").asDouble(),
                        r.path("job").asDouble(),
                        r.path("kafka").asDouble(),
                        r.path("gateway").asDouble(),
                        r.path("request_leg").asDouble(),
                        r.path("reply_leg").asDouble(),
                        stream ? streamLat[0] : Double.NaN,
                        stream ? streamLat[1] : Double.NaN);
        System.out.printf(
                Locale.ROOT,
                "  %-4s %-9s %6.0f/s: p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  errors %d  (job %.0f%%,"
                        + " kafka %.0f%% = request leg %.0f%% + reply leg %.0f%%, gateway %.0f%%)%s%n",
                protocol,
                stream ? "+stream" : "no stream",
                rate,
                step.p50,
                step.p99,
                step.p999,
                step.errors,
                100 * step.jobShare,
                100 * step.kafkaShare,
                100 * step.requestLegShare,
                100 * step.replyLegShare,
                100 * step.gatewayShare,
                stream
                        ? String.format(
                                Locale.ROOT,
                                "; stream p50 %.0f ms p99 %.0f ms",
                                step.streamP50,
                                step.streamP99)
                        : "");
        return step;
    }

    private static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static void awaitFirstAnswer(HttpClient http, String url, String key) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            CompletableFuture<double[]> done = new CompletableFuture<>();
            PredictLoad.rest(http, url, key, 0, done);
            try {
                done.get(15, TimeUnit.SECONDS);
                return;
            } catch (Exception e) {
                Thread.sleep(500);
            }
        }
        throw new IllegalStateException("the job never answered a request");
    }

    /** wrk's own closed-loop run (its latency counts from each actual send), where installed. */
    private String wrk(String url, String key, boolean stream) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/wrk"))) {
            return "wrk not installed (Debian package wrk)";
        }
        Path script = Files.createTempFile("predict", ".lua");
        Files.writeString(
                script,
                "wrk.method = \"POST\"\n"
                        + "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
                        + "wrk.headers[\"Authorization\"] = \"Bearer "
                        + key
                        + "\"\n"
                        + "wrk.body = '"
                        + PredictLoad.body(7)
                        + "'\n");
        Process p =
                new ProcessBuilder(
                                "wrk",
                                "-t2",
                                "-c32",
                                "-d" + seconds + "s",
                                "--latency",
                                "-s",
                                script.toString(),
                                url)
                        .redirectErrorStream(true)
                        .start();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        p.getInputStream().transferTo(o);
        p.waitFor(seconds + 60L, TimeUnit.SECONDS);
        String output = o.toString(StandardCharsets.UTF_8);
        String rps = find(output, "Requests/sec:\\s+([0-9.]+)");
        String line =
                String.format(
                        "wrk, 2 threads, 32 connections, %s: %s requests/s; p50 %s, p90 %s, p99 %s;"
                                + " non-2xx: %s",
                        stream ? "with the stream" : "no stream",
                        rps,
                        find(output, "^\\s*50%\\s+(\\S+)"),
                        find(output, "^\\s*90%\\s+(\\S+)"),
                        find(output, "^\\s*99%\\s+(\\S+)"),
                        find(output, "Non-2xx or 3xx responses:\\s+(\\d+)").isEmpty()
                                ? "0"
                                : find(output, "Non-2xx or 3xx responses:\\s+(\\d+)"));
        System.out.println("  " + line);
        return line;
    }

    private static String find(String text, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
        return m.find() ? m.group(1) : "";
    }

    private void report(List<Step> steps, List<String> wrk) throws Exception {
        StringBuilder md = new StringBuilder();
        md.append("# Synchronous predictions through the job (")
                .append(LocalDate.now())
                .append(", ")
                .append(Runtime.getRuntime().availableProcessors())
                .append(" cores)\n\n");
        md.append(
                        "Open loop: latency from each request's scheduled send time. Tiny MLP, 32 numeric fields,"
                                + " read-only requests, parallelism ")
                .append(parallelism)
                .append("; stream at ")
                .append(String.format(Locale.ROOT, "%,.0f", streamRate))
                .append(" events/s where shown. Shares: of the answers' own total time.\n\n");
        md.append(
                "| protocol | stream | rate/s | sent | errors | p50 ms | p99 ms | p99.9 ms | job | Kafka (request + reply leg) | gateway | stream p50 / p99 ms |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Step s : steps) {
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %s | %.0f | %d | %d | %.2f | %.2f | %.2f | %.0f%% | %.0f%% (%.0f%% + %.0f%%) | %.0f%% | %s |%n",
                            s.protocol,
                            s.stream ? "yes" : "no",
                            s.rate,
                            s.sent,
                            s.errors,
                            s.p50,
                            s.p99,
                            s.p999,
                            100 * s.jobShare,
                            100 * s.kafkaShare,
                            100 * s.requestLegShare,
                            100 * s.replyLegShare,
                            100 * s.gatewayShare,
                            s.stream
                                    ? String.format(
                                            Locale.ROOT, "%.0f / %.0f", s.streamP50, s.streamP99)
                                    : "-"));
        }
        md.append("\nHighest rate measured with p99 ≤ ").append(targetP99).append(" ms:\n\n");
        for (String protocol : List.of("rest", "grpc")) {
            for (boolean stream : new boolean[] {false, true}) {
                double best =
                        steps.stream()
                                .filter(
                                        s ->
                                                s.protocol.equals(protocol)
                                                        && s.stream == stream
                                                        && s.errors == 0
                                                        && s.p99 <= targetP99)
                                .mapToDouble(Step::rate)
                                .max()
                                .orElse(0);
                md.append(
                        String.format(
                                Locale.ROOT,
                                "- %s, %s: %s%n",
                                protocol,
                                stream ? "with the stream" : "no stream",
                                best == 0 ? "none of the rates" : String.format("%.0f/s", best)));
            }
        }
        md.append("\n");
        wrk.forEach(w -> md.append("- ").append(w).append('\n'));
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        "predict-"
                                + LocalDate.now()
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.writeString(file, md.toString());
        System.out.println();
        System.out.print(md);
        System.out.println("Written to " + file);
    }

    /**
     * The stream's own latency: each stream prediction's arrival here minus its event's scheduled
     * send time (the event time {@link KafkaLoad} gives it).
     */
    private static final class StreamLatency implements AutoCloseable {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final Thread reader;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Long> latencies = new ArrayList<>();
        private volatile long from = Long.MAX_VALUE;

        StreamLatency(String bootstrap) {
            consumer =
                    new KafkaConsumer<>(
                            Map.of(
                                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    bootstrap,
                                    ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                                    false),
                            new ByteArrayDeserializer(),
                            new ByteArrayDeserializer());
            List<TopicPartition> parts =
                    List.of(
                            new TopicPartition("predictions", 0),
                            new TopicPartition("predictions", 1));
            consumer.assign(parts);
            consumer.seekToEnd(parts);
            reader = new Thread(this::read, "stream-latency");
            reader.start();
        }

        private void read() {
            while (running.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    long now = System.currentTimeMillis();
                    try {
                        Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
                        if (p.getSource() != null
                                && p.getSource().getRequest() == null
                                && p.getEventTime() >= from) {
                            synchronized (latencies) {
                                latencies.add(now - p.getEventTime());
                            }
                        }
                    } catch (Exception e) {
                        // not a prediction
                    }
                }
            }
        }

        void reset(long fromMillis) {
            synchronized (latencies) {
                latencies.clear();
            }
            from = fromMillis;
        }

        double[] percentiles() {
            double[] sorted;
            synchronized (latencies) {
                sorted = latencies.stream().mapToDouble(Long::doubleValue).sorted().toArray();
            }
            return new double[] {percentile(sorted, 0.5), percentile(sorted, 0.99)};
        }

        @Override
        public void close() throws Exception {
            running.set(false);
            reader.join(5_000);
            consumer.close();
        }
    }
}
