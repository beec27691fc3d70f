package org.streaminference.bench;

import org.streaminference.embedded.DemoEvents;
import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.features.state.EntityFeatureState;
import org.streaminference.features.state.FeatureEngine;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferencePipeline;
import org.streaminference.model.DemoModels;
import org.streaminference.model.FeatureContract;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
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
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What feature enrichment costs: the job's pipeline (Kafka, validation, keyBy, features,
 * micro-batched inference of the demo model, Kafka sink) draining a pre-loaded topic with the demo
 * feature spec (27 values, profile join, sliding and tumbling windows, distinct counts, decayed
 * mean) against the same pipeline whose feature stage only copies the raw amount (keyed, no state).
 * Then the state that 100,000 active entities leave in RocksDB, from savepoints of the enriched
 * job.
 */
@Command(
        name = "feature-benchmark",
        mixinStandardHelpOptions = true,
        description = "Cost of feature enrichment per event and RocksDB state per entity.")
public final class FeatureBenchmark implements Callable<Integer> {
    private static final KeySelector<ValidatedEvent, String> ENTITY = v -> v.entityId;

    @Option(
            names = "--events",
            defaultValue = "1000000",
            description = "Events in the pre-loaded topic.")
    int events;

    @Option(names = "--entities", defaultValue = "100000", description = "Active entities.")
    int entities;

    @Option(
            names = "--dispatch-when-idle",
            defaultValue = "true",
            arity = "1",
            description = "inference.dispatch-when-idle of both variants.")
    boolean dispatchWhenIdle;

    @Option(
            names = "--linger",
            defaultValue = "0",
            description = "kafka.sink.linger (ms) of both variants (the job's default: 0).")
    long lingerMillis;

    @Option(names = "--parallelism", defaultValue = "2", description = "Job parallelism.")
    int parallelism;

    @Option(
            names = "--rounds",
            defaultValue = "3",
            description =
                    "Measured rounds of (no enrichment, enrichment), after one unmeasured warm-up round.")
    int rounds;

    private EmbeddedKafkaBroker kafka;
    private Path work;
    private int run;

    /**
     * CPU of the job's threads during the last drain's timed span, by kind of thread (nanoseconds).
     */
    private Map<String, Long> lastCpu;

    public static void main(String[] args) {
        System.exit(new CommandLine(new FeatureBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        work = Files.createTempDirectory("feature-bench");
        FeatureSpec spec = FeatureSpecs.demo();
        System.out.printf(
                "Feature benchmark: %d cores; %,d events over %,d entities; spec %s (%d values);"
                        + " parallelism %d; RocksDB%n",
                Runtime.getRuntime().availableProcessors(),
                events,
                entities,
                spec.id(),
                spec.width(),
                parallelism);
        Path model = DemoModels.write(work.resolve("models"), 1);
        List<InputEvent> input = generate();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(work.resolve("kafka"), 0)) {
            kafka = broker;
            kafka.createTopics(parallelism, "events", "entity-profiles");
            long produced = System.nanoTime();
            produce(input);
            System.out.printf(
                    "Produced %,d events and %,d profiles in %.1f s%n",
                    events, entities, (System.nanoTime() - produced) / 1e9);

            List<Double> plain = new ArrayList<>();
            List<Double> enriched = new ArrayList<>();
            List<Map<String, Long>> plainCpu = new ArrayList<>();
            List<Map<String, Long>> enrichedCpu = new ArrayList<>();
            long[] savepoints = null;
            for (int round = 0; round <= rounds; round++) {
                System.out.println(
                        round == 0
                                ? "warm-up round (not measured)"
                                : "round " + round + " of " + rounds);
                double p = drain("no enrichment", model, spec, false, null);
                Map<String, Long> pCpu = lastCpu;
                boolean last = round == rounds;
                long[] sizes = new long[2];
                double e =
                        drain(
                                "demo spec",
                                model,
                                spec,
                                true,
                                last ? work.resolve("savepoints") : null,
                                sizes);
                if (round > 0) {
                    plain.add(p);
                    enriched.add(e);
                    plainCpu.add(pCpu);
                    enrichedCpu.add(lastCpu);
                }
                if (last) {
                    savepoints = sizes;
                }
            }
            double[] stateBytes = encodedStateSizes(spec, input);
            String report =
                    report(spec, plain, enriched, plainCpu, enrichedCpu, savepoints, stateBytes);
            System.out.println();
            System.out.println(report);
            Path out =
                    Path.of(
                            "bench/results/features-"
                                    + LocalDate.now()
                                    + "-"
                                    + Runtime.getRuntime().availableProcessors()
                                    + "cores.md");
            Files.createDirectories(out.getParent());
            Files.writeString(out, report);
            System.out.println("Written to " + out);
        }
        return 0;
    }

    private List<InputEvent> generate() {
        DemoEvents demo = new DemoEvents(42, entities, "fb");
        List<InputEvent> list = new ArrayList<>(events);
        long t0 = 1_760_000_000_000L;
        long span = 3 * 3_600_000L; // three hours of event time: every window has several buckets
        for (int i = 0; i < events; i++) {
            list.add(demo.next(t0 + span * i / events));
        }
        return list;
    }

    private void produce(List<InputEvent> input) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                kafka.bootstrapServers(),
                                ProducerConfig.LINGER_MS_CONFIG,
                                20,
                                ProducerConfig.BATCH_SIZE_CONFIG,
                                256 * 1024,
                                ProducerConfig.ACKS_CONFIG,
                                "1"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            for (int e = 0; e < entities; e++) {
                String id = DemoEvents.entityId(e);
                EntityProfile profile =
                        EntityProfile.newBuilder()
                                .setEntityId(id)
                                .setNumericFields(Map.of("tier", (double) (e % 4)))
                                .setCategoricalFields(
                                        Map.of("segment", e % 3 == 0 ? "business" : "retail"))
                                .build();
                producer.send(
                        new ProducerRecord<>(
                                "entity-profiles",
                                id.getBytes(StandardCharsets.UTF_8),
                                bytes(profile.toByteBuffer())));
            }
            for (InputEvent e : input) {
                producer.send(
                        new ProducerRecord<>(
                                "events",
                                e.getEntityId().getBytes(StandardCharsets.UTF_8),
                                bytes(e.toByteBuffer())));
            }
            producer.flush();
        }
    }

    private double drain(
            String name, Path model, FeatureSpec spec, boolean enrich, Path savepointDir)
            throws Exception {
        return drain(name, model, spec, enrich, savepointDir, new long[2]);
    }

    /**
     * Seconds from the first to the last prediction in Kafka (cluster start and model load
     * excluded); savepoint sizes into {@code sizes}.
     */
    private double drain(
            String name,
            Path model,
            FeatureSpec spec,
            boolean enrich,
            Path savepointDir,
            long[] sizes)
            throws Exception {
        String topic = "predictions-" + (++run);
        kafka.createTopics(parallelism, topic);
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.GROUP_ID, "feature-bench-" + run);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, topic);
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, topic + "-dead-letters");
        options.set(PipelineOptions.MODEL_URI, List.of(model.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(model.getParent().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED,
                true); // benchmark models are made by the benchmark
        options.set(PipelineOptions.MODEL_CONTROL_TOPIC, "");
        options.set(PipelineOptions.INFERENCE_DISPATCH_WHEN_IDLE, dispatchWhenIdle);
        options.set(PipelineOptions.SINK_LINGER, Duration.ofMillis(lingerMillis));
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.SINK_DELIVERY_GUARANTEE, DeliveryGuarantee.AT_LEAST_ONCE);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(10));
        // state in files (not inlined into the metadata), so a savepoint's size is the state's
        options.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        options.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                work.resolve("checkpoints").toUri().toString());
        options.set(CheckpointingOptions.FS_SMALL_FILE_THRESHOLD, MemorySize.ZERO);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
        StreamInferencePipeline.applyDefaults(env, options);
        PipelineStages stages =
                enrich
                        ? PipelineStages.forSpec(options, spec, spec.usesProfile())
                        : PipelineStages.microBatched(
                                options,
                                spec.eventFields(),
                                Duration.ofMillis(spec.maxOutOfOrdernessMillis()),
                                valid ->
                                        rawAmountOnly(
                                                valid,
                                                spec.width(),
                                                spec.eventFields().numeric().indexOf("amount")),
                                new FeatureContract(spec.id(), FeatureLayout.floats(spec.width())),
                                null);
        StreamInferencePipeline.build(env, options, stages);
        JobClient job = env.executeAsync("feature-bench-" + run);
        try {
            KafkaLoad.Observed drained =
                    KafkaLoad.consume(
                            kafka.bootstrapServers(), topic, events, Duration.ofMinutes(20), false);
            lastCpu = drained.jobCpu();
            double seconds = events / drained.throughput();
            System.out.printf(
                    "%-14s %6.1f s  %,9.0f events/s  job CPU %.1f µs/event %s%n",
                    name,
                    seconds,
                    events / seconds,
                    lastCpu.get("total") / 1e3 / events,
                    perEvent(lastCpu));
            if (savepointDir != null) {
                sizes[0] =
                        directorySize(
                                Path.of(
                                        URI(
                                                job.triggerSavepoint(
                                                                savepointDir
                                                                        .resolve("native")
                                                                        .toUri()
                                                                        .toString(),
                                                                SavepointFormatType.NATIVE)
                                                        .get(5, TimeUnit.MINUTES))));
                sizes[1] =
                        directorySize(
                                Path.of(
                                        URI(
                                                job.triggerSavepoint(
                                                                savepointDir
                                                                        .resolve("canonical")
                                                                        .toUri()
                                                                        .toString(),
                                                                SavepointFormatType.CANONICAL)
                                                        .get(5, TimeUnit.MINUTES))));
            }
            return seconds;
        } finally {
            job.cancel().get(1, TimeUnit.MINUTES);
        }
    }

    private static java.net.URI URI(String location) {
        return location.startsWith("file:")
                ? java.net.URI.create(location)
                : Path.of(location).toUri();
    }

    /**
     * The pipeline without enrichment: keyed like the real one, but the vector is the raw amount,
     * no state.
     */
    private static SingleOutputStreamOperator<EnrichedEvent> rawAmountOnly(
            DataStream<ValidatedEvent> valid, int width, int amount) {
        return valid.keyBy(ENTITY)
                .map(
                        v -> {
                            List<Double> vector = new ArrayList<>(width);
                            vector.add(v.numeric[amount]);
                            while (vector.size() < width) {
                                vector.add(0.0);
                            }
                            return new EnrichedEvent(
                                    new InputEvent(
                                            v.eventId,
                                            v.entityId,
                                            v.eventTime,
                                            v.eventType,
                                            Map.of(),
                                            Map.of(),
                                            Map.of()),
                                    v.source,
                                    vector,
                                    List.of(),
                                    List.of(),
                                    List.of(),
                                    null);
                        })
                .returns(EnrichedEvent.class)
                .name("features")
                .uid("features");
    }

    /**
     * The job's feature engine alone over the same events, as the feature function uses it (decode
     * the entity's bytes, count the event, encode), without Flink or RocksDB: mean and max bytes of
     * an entity's state after the run, and the engine's CPU time per event (best of three passes).
     */
    private double[] encodedStateSizes(FeatureSpec spec, List<InputEvent> input)
            throws IOException {
        FeatureEngine engine = new FeatureEngine(spec);
        Map<String, byte[]> states = new HashMap<>();
        double bestMicros = Double.MAX_VALUE;
        for (int pass = 0; pass < 3; pass++) {
            states.clear();
            long start = System.nanoTime();
            for (InputEvent e : input) {
                byte[] bytes = states.get(e.getEntityId());
                EntityFeatureState s = bytes == null ? engine.newState() : engine.decode(bytes);
                engine.update(s, ValidatedEvent.of(e, spec.eventFields()), e.getEventTime());
                states.put(e.getEntityId(), engine.encode(s));
            }
            bestMicros = Math.min(bestMicros, (System.nanoTime() - start) / 1e3 / input.size());
        }
        long total = 0;
        long max = 0;
        for (byte[] s : states.values()) {
            total += s.length;
            max = Math.max(max, s.length);
        }
        return new double[] {(double) total / states.size(), max, states.size(), bestMicros};
    }

    private String perEvent(Map<String, Long> cpu) {
        StringBuilder s = new StringBuilder("(");
        cpu.forEach(
                (kind, nanos) -> {
                    if (!kind.equals("total")) {
                        s.append(s.length() > 1 ? ", " : "")
                                .append(kind)
                                .append(' ')
                                .append(String.format(Locale.ROOT, "%.1f", nanos / 1e3 / events));
                    }
                });
        return s.append(')').toString();
    }

    private String report(
            FeatureSpec spec,
            List<Double> plain,
            List<Double> enriched,
            List<Map<String, Long>> plainCpu,
            List<Map<String, Long>> enrichedCpu,
            long[] savepoints,
            double[] stateBytes) {
        StringBuilder s = new StringBuilder();
        s.append(
                String.format(
                        Locale.ROOT,
                        "# Feature enrichment: cost per event and state per entity (%s, %d cores)%n%n",
                        LocalDate.now(),
                        Runtime.getRuntime().availableProcessors()));
        s.append(
                String.format(
                        Locale.ROOT,
                        "`bench/run.sh features --events %d --entities %d --parallelism %d"
                                + " --rounds %d`: the job's pipeline (Kafka → validation → keyBy → features → micro-batched demo"
                                + " model → Kafka, at-least-once, RocksDB) draining %,d pre-loaded events of %,d entities over three"
                                + " hours of event time, timed from the first to the last prediction (cluster start and model load"
                                + " excluded); one unmeasured warm-up round of both variants, then the measured rounds, each running"
                                + " both in the same order. One run on a shared machine: compare the ratios, not the absolute"
                                + " times.%n%n",
                        events,
                        entities,
                        parallelism,
                        rounds,
                        events,
                        entities));
        s.append("| round | no enrichment (raw amount, keyed, stateless) | demo spec (")
                .append(spec.width())
                .append(" values, profile join) | enriched / plain |\n|---|---|---|---|\n");
        for (int i = 0; i < plain.size(); i++) {
            s.append(
                    String.format(
                            Locale.ROOT,
                            "| %d | %.1f s (%,.0f ev/s) | %.1f s (%,.0f ev/s) | %.2f |%n",
                            i + 1,
                            plain.get(i),
                            events / plain.get(i),
                            enriched.get(i),
                            events / enriched.get(i),
                            enriched.get(i) / plain.get(i)));
        }
        Spread ratio = Spread.ofRatios(enriched, plain);
        double p = Spread.of(plain).median();
        double e = Spread.of(enriched).median();
        s.append(
                String.format(
                        Locale.ROOT,
                        "%nEnrichment makes each event cost **%s×** (min / median / max over the"
                                + " rounds, each ratio within its round) the pipeline without it: %.1f µs more per event per"
                                + " subtask at the medians (%d subtasks sharing the cores).%n%n",
                        ratio.format("%.2f"),
                        (e - p) / events * 1e6 * parallelism,
                        parallelism));
        s.append(
                "CPU of the job's own threads (tasks, Kafka fetchers and producers, inference threads; not the"
                        + " in-process broker, the benchmark's consumer, the JIT compiler or GC) from the first to the last"
                        + " prediction, in µs per event:\n\n| round | no enrichment | demo spec | enriched / plain |\n"
                        + "|---|---:|---:|---:|\n");
        List<Double> plainMicros = new ArrayList<>();
        List<Double> enrichedMicros = new ArrayList<>();
        for (int i = 0; i < plainCpu.size(); i++) {
            plainMicros.add(plainCpu.get(i).get("total") / 1e3 / events);
            enrichedMicros.add(enrichedCpu.get(i).get("total") / 1e3 / events);
            s.append(
                    String.format(
                            Locale.ROOT,
                            "| %d | %.1f %s | %.1f %s | %.2f |%n",
                            i + 1,
                            plainMicros.get(i),
                            perEvent(plainCpu.get(i)),
                            enrichedMicros.get(i),
                            perEvent(enrichedCpu.get(i)),
                            enrichedMicros.get(i) / plainMicros.get(i)));
        }
        s.append(
                String.format(
                        Locale.ROOT,
                        "%nBy the job's CPU, enrichment makes each event cost **%s×** (min /"
                                + " median / max over the rounds) the pipeline without it.%n%n",
                        Spread.ofRatios(enrichedMicros, plainMicros).format("%.2f")));
        s.append(
                String.format(
                        Locale.ROOT,
                        "Of that, the feature engine alone (decode the entity's state, count the"
                                + " event, compute %d values, encode; no Flink, no RocksDB) takes %.1f µs per event on one core: the"
                                + " rest is keyed state access in RocksDB, the profile join and moving the records.%n%n",
                        spec.width(),
                        stateBytes[3]));
        s.append(
                String.format(
                        Locale.ROOT,
                        "State of %,d active entities after the run (features + profiles +"
                                + " timers):%n%n| measure | total | per entity |%n|---|---|---|%n",
                        entities));
        s.append(
                String.format(
                        Locale.ROOT,
                        "| native savepoint (RocksDB SST files, compressed) | %,.1f MB | %,.0f B |%n",
                        savepoints[0] / 1e6,
                        (double) savepoints[0] / entities));
        s.append(
                String.format(
                        Locale.ROOT,
                        "| canonical savepoint (serialized keys and values) | %,.1f MB | %,.0f B |%n",
                        savepoints[1] / 1e6,
                        (double) savepoints[1] / entities));
        s.append(
                String.format(
                        Locale.ROOT,
                        "| encoded feature state alone (mean; max %.0f B) | %,.1f MB | %,.0f B |%n",
                        stateBytes[1],
                        stateBytes[0] * stateBytes[2] / 1e6,
                        stateBytes[0]));
        return s.toString();
    }

    private static long directorySize(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile)
                    .mapToLong(
                            f -> {
                                try {
                                    return Files.size(f);
                                } catch (IOException ex) {
                                    return 0;
                                }
                            })
                    .sum();
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] b = new byte[buffer.remaining()];
        buffer.get(b);
        return b;
    }
}
