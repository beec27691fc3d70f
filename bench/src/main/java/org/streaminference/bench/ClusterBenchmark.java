package org.streaminference.bench;

import org.streaminference.schemas.Prediction;

import org.apache.flink.util.FileUtils;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;

/**
 * The job as a user runs it: the shaded jar on a standalone Flink cluster (its own JobManager and
 * TaskManager processes), submitted over REST, a Kafka broker in a process of its own, the Crayfish
 * peer's feed-forward network (784 floats in), at-least-once, result store off. Measures, side by
 * side in each round: a plain Kafka consumer reading the pre-loaded topic (the machine's ceiling),
 * the job draining the same events as Avro and as JSON at parallelism 1, and as Avro at parallelism
 * 2; then live rates with latency from each event's scheduled send time, the idle job's CPU, and
 * the exactly-once figure beside the at-least-once one. CPU per event is the TaskManager process's
 * own (not the broker's, not this process's); with {@code --profile} an async-profiler summary per
 * variant says where it goes.
 */
@Command(
        name = "cluster",
        mixinStandardHelpOptions = true,
        description = "The job on a standalone cluster with a broker in its own process.")
public final class ClusterBenchmark implements Callable<Integer> {
    private static final Path ROOT = Path.of("").toAbsolutePath();

    @Option(
            names = "--events",
            defaultValue = "200000",
            description = "Events pre-loaded per drain.")
    int events;

    @Option(names = "--rounds", defaultValue = "3", description = "Measured rounds of the drains.")
    int rounds;

    @Option(
            names = "--rates",
            split = ",",
            defaultValue = "1024,10000,20000,30000,40000,50000",
            description = "Live rates (events/s) at parallelism 1.")
    List<Integer> rates;

    @Option(names = "--live-seconds", defaultValue = "60", description = "Length of each live run.")
    int liveSeconds;

    @Option(
            names = "--warmup-seconds",
            defaultValue = "20",
            description =
                    "Events scheduled in the first seconds of a live run are left out of its latency and CPU"
                            + " figures (the JIT compiler's work on the job's new class loader).")
    int warmupSeconds;

    @Option(
            names = "--send-linger",
            defaultValue = "0",
            description =
                    "linger.ms of the live load's producer. 0 (the default) hands each event to the broker"
                            + " at once, as the tail runs at 1,024/s want; a client sending tens of"
                            + " thousands of events a second batches them (Kafka's own default is 5 ms),"
                            + " and the wait counts as latency either way.")
    int sendLingerMillis;

    @Option(
            names = "--idle-seconds",
            defaultValue = "20",
            description = "How long idle CPU is measured.")
    int idleSeconds;

    @Option(
            names = "--profile",
            description = "async-profiler on the TaskManager in the last round.")
    boolean profile;

    @Option(
            names = "--variants",
            split = ",",
            defaultValue = "drain,live,idle,exactly-once",
            description =
                    "What to measure: drain, live, idle, exactly-once, and load (the live load at each"
                            + " rate with no job, not in the default).")
    List<String> variants;

    @Option(
            names = "--shared",
            defaultValue = "../shared",
            description = "The team's shared folder.")
    Path shared;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    @Option(
            names = "--job-jar",
            description = "The shaded job jar to run (default: jobs/target's, as built).")
    Path jobJar;

    @Option(
            names = "--job-option",
            description =
                    "An extra job option for every job (key=value, repeatable), e.g. to compare one setting.")
    List<String> jobOptions = new ArrayList<>();

    @Option(
            names = "--cluster-option",
            description =
                    "An extra line of the cluster's config.yaml (key: value, repeatable), e.g. the"
                            + " TaskManager's JVM options.")
    List<String> extraClusterOptions = new ArrayList<>();

    @Option(names = "--label", defaultValue = "", description = "Added to the result file's name.")
    String label;

    private static final int WIDTH = 784;

    /** The live load's shortest sleep: the events due meanwhile go out together. */
    private static final long PACE_NANOS = 200_000;

    /** The tail target at 1,024 events/s: the windows count the share above it. */
    private static final long TAIL_TARGET_MILLIS = 10;

    /**
     * How long after a checkpoint's trigger a slow event counts as the checkpoint's: on this
     * machine the stall and its catch-up are over within about 150 ms once the job has run a few
     * minutes (bench/README.md).
     */
    private static final long CHECKPOINT_SHADOW_MILLIS = 250;

    private static final int PARTITIONS = 2;

    private Path work;

    private Process broker;
    private String bootstrap;
    private StandaloneFlink cluster;
    private String jar;
    private BenchModels.Workload model;
    private final ImageEvents images = new ImageEvents(WIDTH, 10_000);
    private int runs;
    private final List<String> report = new ArrayList<>();
    private final Map<String, ProcessProfiler.Summary> idleProfiles = new LinkedHashMap<>();

    /** The events each profile's span saw. */
    private final Map<String, Long> profileEvents = new LinkedHashMap<>();

    /** When the running live run's first event was scheduled (wall-clock ms). */
    private volatile long liveStart = Long.MAX_VALUE;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ClusterBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        work = Files.createTempDirectory("cluster-bench");
        model = BenchModels.crayfish(work.resolve("models"), shared.toAbsolutePath(), events);
        if (model == null) {
            System.err.println(
                    "the Crayfish peer model is not in " + shared + "/peer-models: nothing to run");
            return 2;
        }
        broker = startBroker();
        try {
            Path options = clusterOptions();
            cluster = StandaloneFlink.start(ROOT, work.resolve("cluster"), options);
            try {
                jar = cluster.upload(jobJar != null ? jobJar : jobJar());
                measure();
            } finally {
                cluster.close();
            }
        } finally {
            broker.getOutputStream().close();
            if (!broker.waitFor(30, TimeUnit.SECONDS)) {
                broker.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
            // the broker's log holds every event sent, tens of GB after a sweep of live rates: it
            // goes with the run; the latencies, sends, GC logs and profiles beside it stay
            FileUtils.deleteDirectory(work.resolve("kafka").toFile());
            System.out.println("the run's CSVs, logs and profiles are in " + work);
        }
        return 0;
    }

    private void measure() throws Exception {
        List<String> header = new ArrayList<>();
        header.add("# The job on a standalone cluster, " + LocalDate.now());
        header.add("");
        header.add(
                "Machine: "
                        + Runtime.getRuntime().availableProcessors()
                        + " cores, shared by the broker (own process), the JobManager and TaskManager processes and this"
                        + " benchmark (producer and consumer). The shaded job jar submitted over REST; Crayfish FFNN (784"
                        + " floats in), at-least-once unless stated, result store off, "
                        + events
                        + " events per drain on "
                        + PARTITIONS
                        + " partitions. Command: `bench/run.sh cluster "
                        + String.join(" ", commandLine())
                        + "`");
        header.add("");
        report.addAll(header);
        if (variants.contains("idle")) {
            idleWithoutJob();
        }
        if (variants.contains("drain")) {
            drains();
        }
        if (variants.contains("load")) {
            loadAlone();
        }
        if (variants.contains("live")) {
            live();
        }
        if (variants.contains("exactly-once")) {
            exactlyOnce();
        }
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        "cluster-"
                                + LocalDate.now()
                                + (label.isEmpty() ? "" : "-" + label)
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.write(file, report);
        System.out.println(String.join("\n", report));
        System.out.println("written to " + file);
    }

    private List<String> commandLine() {
        List<String> args = new ArrayList<>();
        args.add("--events " + events);
        args.add("--rounds " + rounds);
        args.add("--rates " + rates.toString().replaceAll("[\\[\\] ]", ""));
        args.add("--variants " + String.join(",", variants));
        args.add("--warmup-seconds " + warmupSeconds);
        args.add("--live-seconds " + liveSeconds);
        if (sendLingerMillis != 0) {
            args.add("--send-linger " + sendLingerMillis);
        }
        if (profile) {
            args.add("--profile");
        }
        for (String option : jobOptions) {
            args.add("--job-option " + option);
        }
        for (String option : extraClusterOptions) {
            args.add("--cluster-option '" + option + "'");
        }
        return args;
    }

    // ---------------------------------------------------------------------------------------------
    // drains
    // ---------------------------------------------------------------------------------------------

    private void drains() throws Exception {
        String avro = "drain-avro";
        String json = "drain-json";
        createTopics(avro, json);
        preload(avro, KafkaLoad.Encoding.avro);
        preload(json, KafkaLoad.Encoding.json);
        System.out.println("warm-up round (not measured)");
        plainConsumer(avro);
        drain(avro, KafkaLoad.Encoding.avro, 1, false);
        drain(json, KafkaLoad.Encoding.json, 1, false);
        drain(avro, KafkaLoad.Encoding.avro, 2, false);
        String[] names = {
            "plain Kafka consumer (records/s)", "job, Avro, p=1", "job, JSON, p=1", "job, Avro, p=2"
        };
        // by variant: whole rate, second-half rate, whole CPU/event, second-half CPU/event
        Map<String, List<List<Double>>> figures = new LinkedHashMap<>();
        Map<String, String> times = new LinkedHashMap<>();
        Map<String, ProcessProfiler.Summary> profiles = new LinkedHashMap<>();
        // by variant, per round: the second half's rate and cores
        Map<String, List<Half>> machine = new LinkedHashMap<>();
        for (String name : names) {
            machine.put(name, new ArrayList<>());
            figures.put(
                    name,
                    List.of(
                            new ArrayList<>(),
                            new ArrayList<>(),
                            new ArrayList<>(),
                            new ArrayList<>()));
        }
        for (int round = 1; round <= rounds; round++) {
            boolean profiled = profile && round == rounds;
            System.out.println("round " + round + (profiled ? " (profiled)" : ""));
            PlainRead plain = plainConsumer(avro);
            figures.get(names[0]).get(0).add(plain.rate());
            figures.get(names[0]).get(1).add(plain.half().rate());
            machine.get(names[0]).add(plain.half());
            Observed[] drains = {
                drain(avro, KafkaLoad.Encoding.avro, 1, profiled),
                drain(json, KafkaLoad.Encoding.json, 1, profiled),
                drain(avro, KafkaLoad.Encoding.avro, 2, profiled)
            };
            for (int i = 0; i < drains.length; i++) {
                List<List<Double>> f = figures.get(names[i + 1]);
                f.get(0).add(drains[i].rate());
                f.get(1).add(drains[i].steadyRate());
                f.get(2).add(drains[i].tmMicrosPerEvent());
                f.get(3).add(drains[i].steadyMicrosPerEvent());
                machine.get(names[i + 1])
                        .add(
                                new Half(
                                        drains[i].steadyRate(),
                                        drains[i].steadyCores(),
                                        drains[i].others()));
                times.put(names[i + 1], drains[i].taskTimes());
                if (drains[i].profile() != null) {
                    profiles.put(names[i + 1], drains[i].profile());
                    profileEvents.put(names[i + 1], drains[i].steadyCount());
                }
            }
        }
        report.add(
                "## Drains (a pre-loaded topic read as fast as possible; "
                        + rounds
                        + " rounds after a warm-up round; min / median / max of the rounds)");
        report.add("");
        report.add(
                "Whole: first to last prediction. Second half: from the middle prediction to the last, once the"
                        + " JIT compiler has done most of its work on the job's new class loader (a third of the"
                        + " TaskManager's CPU in the first seconds of each job).");
        report.add("");
        report.add(
                "| variant | events/s, whole | events/s, second half | TaskManager CPU µs/event, whole | µs/event, second half | task times, last round (ms/s, avg of subtasks) |");
        report.add("|---|---:|---:|---:|---:|---|");
        for (String name : names) {
            List<List<Double>> f = figures.get(name);
            report.add(
                    "| "
                            + name
                            + " | "
                            + Spread.of(f.get(0)).format("%,.0f")
                            + " | "
                            + Spread.of(f.get(1)).format("%,.0f")
                            + " | "
                            + (f.get(2).isEmpty() ? "-" : Spread.of(f.get(2)).format("%.1f"))
                            + " | "
                            + (f.get(3).isEmpty() ? "-" : Spread.of(f.get(3)).format("%.1f"))
                            + " | "
                            + times.getOrDefault(name, "")
                            + " |");
        }
        report.add("");
        report.add("Ratios within each round (min / median / max), whole drain; second half:");
        report.add("");
        ratio(
                "Avro drain p=1 / plain consumer",
                figures.get(names[1]),
                figures.get(names[0]),
                "≥ 0.50");
        ratio(
                "JSON drain / Avro drain, p=1",
                figures.get(names[2]),
                figures.get(names[1]),
                "≥ 0.50");
        ratio("Avro drain p=2 / p=1", figures.get(names[3]), figures.get(names[1]), "≥ 1.0");
        report.add("");
        addMachine(machine);
        addProfiles(profiles);
    }

    /**
     * Where the machine's cores went in each variant's second half: the job's share beside the
     * broker's, the benchmark's and the rest (the JobManager, the kernel), and per event.
     */
    private void addMachine(Map<String, List<Half>> machine) {
        report.add(
                "### The machine in the second half (cores of "
                        + Runtime.getRuntime().availableProcessors()
                        + "; min / median / max of the rounds)");
        report.add("");
        report.add(
                "All busy: every process and kernel thread, from `/proc/<pid>/stat`; steal: time the hypervisor gave"
                        + " other guests. Per event: the busy cores over the second half's rate, the whole"
                        + " machine's CPU each event (or record) cost.");
        report.add("");
        report.add(
                "| variant | TaskManager | broker | benchmark | all busy | steal | machine µs per event |");
        report.add("|---|---:|---:|---:|---:|---:|---:|");
        machine.forEach(
                (name, halves) ->
                        report.add(
                                String.join(
                                                " | ",
                                                "| " + name,
                                                spread(halves, Half::taskManager, "%.2f"),
                                                spread(halves, h -> h.others().broker(), "%.2f"),
                                                spread(halves, h -> h.others().bench(), "%.2f"),
                                                spread(halves, h -> h.others().machine(), "%.2f"),
                                                spread(halves, h -> h.others().steal(), "%.2f"),
                                                spread(
                                                        halves,
                                                        h -> h.others().machine() * 1e6 / h.rate(),
                                                        "%.1f"))
                                        + " |"));
        report.add("");
    }

    /** min / median / max of one figure over the rounds; "-" where the variant has none. */
    private static String spread(
            List<Half> halves, java.util.function.ToDoubleFunction<Half> figure, String format) {
        List<Double> values = halves.stream().map(figure::applyAsDouble).toList();
        return values.stream().anyMatch(v -> Double.isNaN(v))
                ? "-"
                : Spread.of(values).format(format);
    }

    private void ratio(String what, List<List<Double>> a, List<List<Double>> b, String target) {
        report.add(
                "- "
                        + what
                        + ": "
                        + Spread.ofRatios(a.get(0), b.get(0)).format("%.2f")
                        + "; "
                        + Spread.ofRatios(a.get(1), b.get(1)).format("%.2f")
                        + "  (target "
                        + target
                        + ")");
    }

    private void addProfiles(Map<String, ProcessProfiler.Summary> profiles) {
        if (profiles.isEmpty()) {
            return;
        }
        report.add(
                "### Where the TaskManager's CPU went (async-profiler, 1 ms CPU samples, measured span only)");
        report.add("");
        report.add(
                "| variant | samples | µs of CPU per event | by thread (share of samples) | frames with the most samples of their own |");
        report.add("|---|---:|---:|---|---|");
        profiles.forEach(
                (name, p) ->
                        report.add(
                                "| "
                                        + name
                                        + " | "
                                        + p.samples()
                                        + " | "
                                        + (profileEvents.containsKey(name)
                                                ? String.format(
                                                        "%.1f",
                                                        p.samples()
                                                                * 1000.0
                                                                / Math.max(
                                                                        profileEvents.get(name), 1))
                                                : "-")
                                        + " | "
                                        + p.describe(p.byThread())
                                        + " | "
                                        + p.describe(p.topSelf()).replace("|", "\\|")
                                        + " |"));
        report.add("");
    }

    /**
     * Records/s of a plain consumer over the topic, whole, and its second half's rate and cores.
     */
    private PlainRead plainConsumer(String topic) throws Exception {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer("plain-" + (++runs), false)) {
            consumer.subscribe(List.of(topic));
            long count = 0;
            long first = 0;
            long half = 0;
            long last = 0;
            CpuMark atHalf = null;
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (count < events && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    long now = System.nanoTime();
                    if (count == 0) {
                        first = now;
                    }
                    if (count == events / 2) {
                        half = now;
                        atHalf = cpuMark();
                    }
                    last = now;
                    count++;
                }
            }
            double rate = (count - 1) / Math.max((last - first) / 1e9, 1e-9);
            double steady = (count - events / 2) / Math.max((last - half) / 1e9, 1e-9);
            System.out.printf(
                    "  plain consumer: %,.0f records/s (second half %,.0f)%n", rate, steady);
            return new PlainRead(
                    rate, new Half(steady, Double.NaN, coresSince(atHalf, last - half)));
        }
    }

    /** A plain consumer's whole rate, and its second half. */
    private record PlainRead(double rate, Half half) {}

    /** A drain's second half: its rate, the TaskManager's cores (NaN: none), the others' cores. */
    private record Half(double rate, double taskManager, Cores others) {}

    /** Cores of the broker, this benchmark and the whole machine over a span, and steal. */
    private record Cores(double broker, double bench, double machine, double steal) {}

    /** The broker's, this benchmark's and the machine's CPU at one moment. */
    private record CpuMark(long brokerNanos, long benchNanos, MachineCpu.Sample machine) {}

    private CpuMark cpuMark() {
        return new CpuMark(
                cpuNanos(broker.toHandle()),
                cpuNanos(ProcessHandle.current()),
                MachineCpu.sample());
    }

    /** The cores used from {@code mark} to now over {@code spanNanos}; zeros without a mark. */
    private Cores coresSince(CpuMark mark, long spanNanos) {
        if (mark == null) {
            return new Cores(0, 0, 0, 0);
        }
        double span = Math.max(spanNanos, 1);
        long[] machine = MachineCpu.sample().since(mark.machine());
        return new Cores(
                (cpuNanos(broker.toHandle()) - mark.brokerNanos()) / span,
                (cpuNanos(ProcessHandle.current()) - mark.benchNanos()) / span,
                machine[0] / span,
                machine[1] / span);
    }

    private Observed drain(
            String topic, KafkaLoad.Encoding encoding, int parallelism, boolean profiled)
            throws Exception {
        String predictions = "predictions-" + (++runs);
        createTopics(predictions, "dead-letters-" + runs);
        List<String> args = jobArgs(topic, predictions, encoding, true, false);
        String job = cluster.run(jar, args, parallelism);
        Observed o =
                observe(job, predictions, events, Duration.ofMinutes(10), false, profiled, null);
        String state = cluster.awaitTerminal(job, Duration.ofMinutes(2));
        if (!"FINISHED".equals(state)) {
            throw new IllegalStateException("drain job " + job + " " + state);
        }
        System.out.printf(
                "  %s p=%d: %,.0f events/s (second half %,.0f), TaskManager %.1f µs/event (second half %.1f,"
                        + " %.2f cores); %s%n",
                encoding,
                parallelism,
                o.rate(),
                o.steadyRate(),
                o.tmMicrosPerEvent(),
                o.steadyMicrosPerEvent(),
                o.steadyCores(),
                o.taskTimes());
        return o;
    }

    // ---------------------------------------------------------------------------------------------
    // live
    // ---------------------------------------------------------------------------------------------

    private void idleWithoutJob() throws Exception {
        double cores = tmCores(idleSeconds);
        report.add(
                "TaskManager without a job: "
                        + String.format("%.3f", cores)
                        + " cores over "
                        + idleSeconds
                        + " s.");
        report.add("");
    }

    private void live() throws Exception {
        report.add(
                "## Live (events produced at a fixed rate once the job runs; latency from each event's scheduled send time to the prediction's arrival; first "
                        + warmupSeconds
                        + " s left out of latency, CPU and the profile; "
                        + liveSeconds
                        + " s each, one run each; the idle job: the first rate's job, warm, its input stopped)");
        report.add("");
        report.add(
                "| rate (events/s) | delivery | out events/s | p50 (ms) | p99 (ms) | max (ms) | TaskManager CPU µs/event | TaskManager cores | broker cores | benchmark cores | idle job (cores) |");
        report.add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        Map<String, ProcessProfiler.Summary> profiles = new LinkedHashMap<>();
        List<Live> runsByRate = new ArrayList<>();
        for (int rate : rates) {
            Live l =
                    liveRun(
                            rate,
                            false,
                            rate == rates.get(0) && variants.contains("idle"),
                            profile && (rate == rates.get(0) || rate == 20_000));
            report.add(l.row());
            runsByRate.add(l);
            if (l.observed().profile() != null) {
                profiles.put("live " + rate + "/s", l.observed().profile());
                profileEvents.put("live " + rate + "/s", l.observed().steadyCount());
            }
        }
        report.add("");
        report.add(
                "What stopped the TaskManager's threads in each measured span (from its GC log and the REST API's checkpoint history), and the slow events sent just after a checkpoint was triggered:");
        report.add("");
        for (Live l : runsByRate) {
            report.add("- " + String.format("%,d", l.rate()) + "/s: " + l.pauses());
        }
        report.add("");
        report.add(
                "Latency by 10 s window from the live start (event time), p50 / p99 in ms (share over 10 ms): how long each job takes to settle.");
        report.add("");
        for (Live l : runsByRate) {
            report.add(
                    "- "
                            + String.format("%,d", l.rate())
                            + "/s: "
                            + String.join("; ", l.windows()));
        }
        report.add("");
        profiles.putAll(idleProfiles);
        addProfiles(profiles);
    }

    /**
     * The live load alone, no job: whether this machine can send each rate at all, and what the
     * producer and the broker take of it, the part of a live run that is not the job's.
     */
    private void loadAlone() throws Exception {
        report.add(
                "## The live load alone (no job: the benchmark's producer and the broker; "
                        + liveSeconds
                        + " s per rate, CPU over the whole span)");
        report.add("");
        report.add(
                "| rate (events/s) | sent events/s | broker cores | benchmark cores | all busy (cores) | steal (cores) | the sends after the first "
                        + warmupSeconds
                        + " s |");
        report.add("|---:|---:|---:|---:|---:|---:|---|");
        for (int rate : rates) {
            String topic = "load-" + (++runs);
            createTopics(topic);
            CpuMark atStart = cpuMark();
            long start = System.nanoTime();
            long count = (long) rate * liveSeconds;
            Sends sends = produce(topic, 0, count, rate);
            long span = System.nanoTime() - start;
            Cores cores = coresSince(atStart, span);
            String row =
                    String.format(
                            "| %,d | %,.0f | %.2f | %.2f | %.2f | %.2f | %s |",
                            rate,
                            count / (span / 1e9),
                            cores.broker(),
                            cores.bench(),
                            cores.machine(),
                            cores.steal(),
                            sends.describe((long) warmupSeconds * rate));
            report.add(row);
            System.out.println("  load alone " + row);
        }
        report.add("");
    }

    private void exactlyOnce() throws Exception {
        report.add(
                "Exactly-once beside at-least-once at "
                        + rates.get(0)
                        + " events/s (checkpoints every 10 s, read_committed):");
        report.add("");
        report.add(
                "| rate (events/s) | delivery | out events/s | p50 (ms) | p99 (ms) | max (ms) | TaskManager CPU µs/event | TaskManager cores | broker cores | benchmark cores | idle job (cores) |");
        report.add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        report.add(liveRun(rates.get(0), false, false, false).row());
        report.add(liveRun(rates.get(0), true, false, false).row());
        report.add("");
    }

    private record Live(
            int rate,
            boolean exactlyOnce,
            Observed observed,
            double p50,
            double p99,
            double max,
            double idleCores,
            List<String> windows,
            String pauses) {
        String row() {
            return String.format(
                    "| %,d | %s | %,.0f | %.0f | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f | %s |",
                    rate,
                    exactlyOnce ? "exactly-once" : "at-least-once",
                    observed.rate(),
                    p50,
                    p99,
                    max,
                    observed.steadyMicrosPerEvent(),
                    observed.steadyCores(),
                    observed.others().broker(),
                    observed.others().bench(),
                    Double.isNaN(idleCores) ? "" : String.format("%.3f", idleCores));
        }
    }

    private Live liveRun(int rate, boolean exactlyOnce, boolean idle, boolean profiled)
            throws Exception {
        String topic = "live-" + (++runs);
        String predictions = "predictions-" + runs;
        createTopics(topic, predictions, "dead-letters-" + runs);
        String job =
                cluster.run(
                        jar,
                        jobArgs(topic, predictions, KafkaLoad.Encoding.avro, false, exactlyOnce),
                        1);
        cluster.awaitRunning(job, Duration.ofMinutes(2));
        // one event through first, so that the model is loaded and the first checkpoint is past
        produce(topic, 0, 1, 0);
        observe(job, predictions, 1, Duration.ofMinutes(2), false, false, null);
        long count = (long) rate * liveSeconds;
        Observed[] result = new Observed[1];
        liveStart = Long.MAX_VALUE;
        Thread consumer =
                new Thread(
                        () -> {
                            try {
                                result[0] =
                                        observe(
                                                job,
                                                predictions,
                                                count + 1,
                                                Duration.ofSeconds(liveSeconds + 120),
                                                true,
                                                profiled,
                                                () -> liveStart + warmupSeconds * 1000L);
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        });
        consumer.start();
        Sends sends = produce(topic, 1, count, rate);
        long start = sends.startWall();
        consumer.join();
        // the idle job's cost once it is warm: the same job, its input stopped
        double idleCores = Double.NaN;
        if (idle) {
            ProcessProfiler idleProfiler =
                    profile ? ProcessProfiler.start(cluster.taskManager().pid(), work) : null;
            idleCores = tmCores(idleSeconds);
            if (idleProfiler != null) {
                idleProfiles.put(
                        "idle job",
                        idleProfiler.stop(work.resolve("profile-idle-" + topic + ".collapsed")));
            }
        }
        long end = System.currentTimeMillis();
        long from = start + warmupSeconds * 1000L;
        StandaloneFlink.Checkpoints checkpoints = cluster.checkpoints(job, from);
        cluster.cancel(job);
        Observed o = result[0];
        if (o == null) {
            throw new IllegalStateException("the live run at " + rate + "/s did not finish");
        }
        String pauses =
                "GC pauses "
                        + GcPauses.between(gcLog(), from, end).describe()
                        + " (the broker's: "
                        + GcPauses.between(brokerGcLog(), from, end).describe()
                        + "); checkpoints "
                        + checkpoints.describe()
                        + "; "
                        + o.slowAfter(checkpoints.triggers(), from)
                        + "; "
                        + sends.describe((long) warmupSeconds * rate);
        Live l =
                new Live(
                        rate,
                        exactlyOnce,
                        o,
                        o.percentile(0.5, from),
                        o.percentile(0.99, from),
                        o.percentile(1.0, from),
                        idleCores,
                        o.windows(start, 10_000),
                        pauses);
        System.out.println("  live " + l.row());
        return l;
    }

    /** TaskManager cores over {@code seconds}, with nothing to do. */
    private double tmCores(int seconds) throws Exception {
        long cpu = cluster.taskManagerCpuNanos();
        long t = System.nanoTime();
        Thread.sleep(seconds * 1000L); // the measurement is the span itself: an idle process's CPU
        return (cluster.taskManagerCpuNanos() - cpu) / (double) (System.nanoTime() - t);
    }

    // ---------------------------------------------------------------------------------------------
    // Kafka and the job
    // ---------------------------------------------------------------------------------------------

    /**
     * What the benchmark's consumer saw of one run's predictions; {@code others}: the broker's,
     * this benchmark's and the machine's cores after the steady mark.
     */
    private record Observed(
            long count,
            long[] eventTimes,
            long[] latencies,
            long[] inferred,
            long[] sent,
            long first,
            long last,
            long tmCpuNanos,
            long steadyCount,
            long steadyFirst,
            long steadyCpuNanos,
            Cores others,
            String taskTimes,
            ProcessProfiler.Summary profile) {
        double rate() {
            return (count - 1) / Math.max((last - first) / 1e9, 1e-9);
        }

        double tmMicrosPerEvent() {
            return tmCpuNanos / 1e3 / Math.max(count - 1, 1);
        }

        double tmCores() {
            return tmCpuNanos / (double) Math.max(last - first, 1);
        }

        /**
         * Events per second after the steady mark (a drain's second half, a live run's warm-up).
         */
        double steadyRate() {
            return steadyCount / Math.max((last - steadyFirst) / 1e9, 1e-9);
        }

        double steadyMicrosPerEvent() {
            return steadyCpuNanos / 1e3 / Math.max(steadyCount, 1);
        }

        double steadyCores() {
            return steadyCpuNanos / (double) Math.max(last - steadyFirst, 1);
        }

        /**
         * p50 / p99 and the share over 10 ms in each window of {@code windowMillis} from {@code
         * startMillis} (by event time): how long the job takes to settle after it starts.
         */
        List<String> windows(long startMillis, long windowMillis) {
            List<String> cells = new ArrayList<>();
            long last = Arrays.stream(eventTimes).max().orElse(startMillis);
            for (long from = startMillis; from <= last; from += windowMillis) {
                long[] sorted = sortedLatencies(from, from + windowMillis);
                if (sorted.length == 0) {
                    continue;
                }
                long slow = Arrays.stream(sorted).filter(l -> l > TAIL_TARGET_MILLIS).count();
                cells.add(
                        String.format(
                                "%d-%d s: %d / %d (%.1f%%)",
                                (from - startMillis) / 1000,
                                (from - startMillis + windowMillis) / 1000,
                                quantile(sorted, 0.5),
                                quantile(sorted, 0.99),
                                100.0 * slow / sorted.length));
            }
            return cells;
        }

        /**
         * The share of events over the tail target from {@code fromMillis}, and how many of them
         * were sent in the {@link #CHECKPOINT_SHADOW_MILLIS} after a checkpoint was triggered.
         */
        String slowAfter(List<Long> triggers, long fromMillis) {
            long counted = 0;
            long slow = 0;
            long slowAfterTrigger = 0;
            for (int i = 0; i < latencies.length; i++) {
                if (eventTimes[i] < fromMillis) {
                    continue;
                }
                counted++;
                if (latencies[i] <= TAIL_TARGET_MILLIS) {
                    continue;
                }
                slow++;
                int at = Collections.binarySearch(triggers, eventTimes[i]);
                int before = at >= 0 ? at : -at - 2;
                if (before >= 0
                        && eventTimes[i] - triggers.get(before) < CHECKPOINT_SHADOW_MILLIS) {
                    slowAfterTrigger++;
                }
            }
            return String.format(
                    "events over %d ms %.2f%%, of them sent within %d ms after a checkpoint's trigger"
                            + " %.2f%% (%.0f%% of the slow); the slow events' median ms from their"
                            + " send time to inference / to the job's producer / to arrival: %s",
                    TAIL_TARGET_MILLIS,
                    100.0 * slow / Math.max(counted, 1),
                    CHECKPOINT_SHADOW_MILLIS,
                    100.0 * slowAfterTrigger / Math.max(counted, 1),
                    100.0 * slowAfterTrigger / Math.max(slow, 1),
                    slowSplit(fromMillis));
        }

        /**
         * Where the slow events' time went, by the prediction's inference time and its record's
         * timestamp (both from the TaskManager's clock, on this machine the benchmark's).
         */
        private String slowSplit(long fromMillis) {
            List<String> medians = new ArrayList<>();
            for (long[] part : List.of(inferred, sent, latencies)) {
                long[] sorted = sortedOfSlow(part, fromMillis);
                if (sorted.length == 0) {
                    return "-";
                }
                medians.add(Long.toString(quantile(sorted, 0.5)));
            }
            return String.join(" / ", medians);
        }

        /** {@code values} of the events from {@code fromMillis} over the tail target, sorted. */
        private long[] sortedOfSlow(long[] values, long fromMillis) {
            long[] sorted =
                    IntStream.range(0, latencies.length)
                            .filter(
                                    i ->
                                            eventTimes[i] >= fromMillis
                                                    && latencies[i] > TAIL_TARGET_MILLIS)
                            .mapToLong(i -> values[i])
                            .toArray();
            Arrays.sort(sorted);
            return sorted;
        }

        double percentile(double q, long fromMillis) {
            long[] sorted = sortedLatencies(fromMillis, Long.MAX_VALUE);
            return sorted.length == 0 ? Double.NaN : quantile(sorted, q);
        }

        /** The latencies of events whose time is in [fromMillis, toMillis), sorted. */
        private long[] sortedLatencies(long fromMillis, long toMillis) {
            long[] counted = new long[latencies.length];
            int n = 0;
            for (int i = 0; i < latencies.length; i++) {
                if (eventTimes[i] >= fromMillis && eventTimes[i] < toMillis) {
                    counted[n++] = latencies[i];
                }
            }
            long[] sorted = Arrays.copyOf(counted, n);
            Arrays.sort(sorted);
            return sorted;
        }

        private static long quantile(long[] sorted, double q) {
            return sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
        }
    }

    private Observed observe(
            String job,
            String topic,
            long expected,
            Duration timeout,
            boolean latencies,
            boolean profiled,
            java.util.function.LongSupplier steadyFromEventTime)
            throws Exception {
        try (KafkaConsumer<byte[], byte[]> consumer =
                consumer("clock-" + topic + "-" + expected, true)) {
            consumer.subscribe(List.of(topic));
            long[] lat = new long[latencies ? (int) expected : 0];
            long[] times = new long[lat.length];
            long[] inferred = new long[lat.length];
            long[] sent = new long[lat.length];
            int count = 0;
            long first = 0;
            long last = 0;
            long cpuAtFirst = 0;
            long steadyAt = -1; // the count at the steady mark
            long steadyFirst = 0;
            long cpuAtSteady = 0;
            CpuMark atSteady = null;
            String taskTimes = "";
            ProcessProfiler profiler = null;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (count < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long now = System.nanoTime();
                    long wall = System.currentTimeMillis();
                    long eventTime = Long.MIN_VALUE;
                    if (count < lat.length) {
                        Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
                        eventTime = p.getEventTime();
                        times[count] = eventTime;
                        lat[count] = wall - eventTime;
                        inferred[count] = p.getInferenceTime() - eventTime;
                        // the job's producer stamps the record when it is handed to it
                        sent[count] = r.timestamp() - eventTime;
                    }
                    if (count == 0) {
                        first = now;
                        cpuAtFirst = cluster.taskManagerCpuNanos();
                    }
                    if (steadyAt < 0
                            && (steadyFromEventTime == null
                                    ? count >= expected / 2
                                    : eventTime >= steadyFromEventTime.getAsLong())) {
                        steadyAt = count;
                        steadyFirst = now;
                        cpuAtSteady = cluster.taskManagerCpuNanos();
                        atSteady = cpuMark();
                        if (profiled) {
                            profiler = ProcessProfiler.start(cluster.taskManager().pid(), work);
                        }
                    }
                    last = now;
                    count++;
                    // task times only for drains: the REST API's metric query makes the
                    // TaskManager serialize all its metrics, a stall a live run's tail shows
                    // (p99 of the window it falls in 2-3x the others')
                    if (count == expected / 2 && expected > 1000 && !latencies) {
                        cluster.taskTimes(job); // the REST API fetches metrics when first asked
                    }
                    if (count == expected * 3 / 4 && expected > 1000 && !latencies) {
                        taskTimes = cluster.taskTimes(job).toString();
                    }
                }
            }
            long cpuAtEnd = cluster.taskManagerCpuNanos();
            Cores others = coresSince(atSteady, last - steadyFirst);
            long cpu = cpuAtEnd - cpuAtFirst;
            ProcessProfiler.Summary summary =
                    profiler == null
                            ? null
                            : profiler.stop(work.resolve("profile-" + topic + ".collapsed"));
            if (count < expected) {
                throw new IllegalStateException(
                        "only " + count + " of " + expected + " predictions arrived in " + topic);
            }
            if (latencies) {
                // each prediction's event time and latency, and when it was inferred and handed to
                // the job's producer (ms after its event time), in arrival order: to line the slow
                // ones up with the GC logs and the checkpoints, and to see where their time went
                writeColumns(
                        work.resolve("latencies-" + topic + ".csv"),
                        "event_time_ms,latency_ms,inferred_ms,sent_ms",
                        times,
                        lat,
                        inferred,
                        sent);
            }
            return new Observed(
                    count,
                    times,
                    lat,
                    inferred,
                    sent,
                    first,
                    last,
                    cpu,
                    steadyAt < 0 ? 0 : count - steadyAt,
                    steadyFirst,
                    cpuAtEnd - cpuAtSteady,
                    others,
                    taskTimes,
                    summary);
        }
    }

    /** Writes {@code columns} side by side as CSV rows under {@code header}. */
    private static void writeColumns(Path file, String header, long[]... columns)
            throws IOException {
        StringBuilder csv = new StringBuilder(header).append('\n');
        for (int row = 0; row < columns[0].length; row++) {
            for (int c = 0; c < columns.length; c++) {
                csv.append(c == 0 ? "" : ",").append(columns[c][row]);
            }
            csv.append('\n');
        }
        Files.writeString(file, csv);
    }

    private static long cpuNanos(ProcessHandle process) {
        return process.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    private KafkaConsumer<byte[], byte[]> consumer(String group, boolean readCommitted) {
        return new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        bootstrap,
                        ConsumerConfig.GROUP_ID_CONFIG,
                        group,
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                        "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        readCommitted ? "read_committed" : "read_uncommitted",
                        ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG,
                        5,
                        ConsumerConfig.MAX_POLL_RECORDS_CONFIG,
                        5000),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
    }

    private void preload(String topic, KafkaLoad.Encoding encoding) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = producer(20)) {
            long now = System.currentTimeMillis();
            for (long i = 0; i < events; i++) {
                producer.send(
                        new ProducerRecord<>(
                                topic,
                                images.entity(i).getBytes(StandardCharsets.UTF_8),
                                images.encode(encoding, i, now)));
            }
            producer.flush();
        }
        System.out.printf("loaded %,d %s events into %s%n", events, encoding, topic);
    }

    /**
     * One production's first scheduled time and, for a live one, how late each send was handed to
     * the producer and how long after its due time the broker acknowledged it (µs, by event).
     */
    private record Sends(long startWall, long[] late, long[] acked) {
        /**
         * The load generator's own stalls and the broker's from event {@code fromIndex} on: sends
         * handed to the producer over 5 ms after their due time (their events count as slow from
         * their due time), and sends acknowledged over the tail target after it.
         */
        String describe(long fromIndex) {
            long counted = 0;
            long handedLate = 0;
            long longest = 0;
            long ackedLate = 0;
            for (int i = (int) fromIndex; i < late.length; i++) {
                counted++;
                longest = Math.max(longest, late[i]);
                if (late[i] > 5_000) {
                    handedLate++;
                }
                if (acked[i] > TAIL_TARGET_MILLIS * 1_000) {
                    ackedLate++;
                }
            }
            return String.format(
                    "the benchmark's sends over 5 ms late %.2f%% (longest %.1f ms), acknowledged by"
                            + " the broker over %d ms after their due time %.2f%%",
                    100.0 * handedLate / Math.max(counted, 1),
                    longest / 1e3,
                    TAIL_TARGET_MILLIS,
                    100.0 * ackedLate / Math.max(counted, 1));
        }
    }

    /**
     * Produces {@code count} Avro events at {@code rate} (0: at once), each event's time the time
     * it was scheduled for (a producer held up counts the wait as latency).
     */
    private Sends produce(String topic, long firstIndex, long count, double rate) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = producer(rate > 0 ? sendLingerMillis : 20)) {
            long start = System.nanoTime();
            long startWall = System.currentTimeMillis();
            if (rate > 0) {
                liveStart = startWall;
            }
            // how late each live send was handed to the producer: the load generator's own stalls
            long[] late = new long[rate > 0 ? (int) count : 0];
            // and when the broker acknowledged it: a stall between send() and the broker's log
            long[] acked = new long[late.length];
            for (long i = 0; i < count; i++) {
                long eventTime = System.currentTimeMillis();
                Callback ack = null;
                if (rate > 0) {
                    long offset = (long) (i / rate * 1e9);
                    long due = start + offset;
                    // pacing to the rate, waking at most every PACE_NANOS: at tens of thousands of
                    // events a second a wake-up per event (a park shorter than the timer's slack)
                    // was a sixth of this process's CPU; a send up to PACE_NANOS late counts as
                    // latency
                    long now = System.nanoTime();
                    if (now < due) {
                        LockSupport.parkNanos(Math.max(due - now, PACE_NANOS));
                        while (System.nanoTime() < due) {
                            LockSupport.parkNanos(due - System.nanoTime());
                        }
                    }
                    eventTime = startWall + offset / 1_000_000;
                    late[(int) i] = (System.nanoTime() - due) / 1_000;
                    int at = (int) i;
                    ack = (metadata, e) -> acked[at] = (System.nanoTime() - due) / 1_000;
                }
                long index = firstIndex + i;
                producer.send(
                        new ProducerRecord<>(
                                topic,
                                images.entity(index).getBytes(StandardCharsets.UTF_8),
                                images.avro(index, eventTime)),
                        ack);
            }
            producer.flush();
            if (rate > 0) {
                long[] due = new long[late.length];
                Arrays.setAll(due, i -> startWall + (long) (i / rate * 1e3));
                writeColumns(
                        work.resolve("sends-" + topic + ".csv"),
                        "due_ms,late_us,acked_us",
                        due,
                        late,
                        acked);
            }
            return new Sends(startWall, late, acked);
        }
    }

    private KafkaProducer<byte[], byte[]> producer(int lingerMillis) {
        return new KafkaProducer<>(
                Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        bootstrap,
                        ProducerConfig.LINGER_MS_CONFIG,
                        lingerMillis,
                        ProducerConfig.BATCH_SIZE_CONFIG,
                        256 * 1024,
                        ProducerConfig.ACKS_CONFIG,
                        "1"),
                new ByteArraySerializer(),
                new ByteArraySerializer());
    }

    private List<String> jobArgs(
            String topic,
            String predictions,
            KafkaLoad.Encoding encoding,
            boolean bounded,
            boolean exactlyOnce)
            throws Exception {
        List<String> args =
                new ArrayList<>(
                        List.of(
                                "--kafka.bootstrap-servers",
                                bootstrap,
                                "--kafka.topic.events",
                                topic,
                                "--kafka.topic.predictions",
                                predictions,
                                "--kafka.topic.dead-letters",
                                predictions.replace("predictions-", "dead-letters-"),
                                "--kafka.group-id",
                                "job-" + predictions,
                                "--kafka.source.bounded",
                                Boolean.toString(bounded),
                                "--kafka.sink.delivery-guarantee",
                                exactlyOnce ? "exactly-once" : "at-least-once",
                                "--kafka.sink.transactional-id-prefix",
                                "bench-" + predictions,
                                "--execution.checkpointing.interval",
                                "10 s",
                                "--model.uri",
                                model.dir().toUri().toString(),
                                "--features.spec",
                                featureSpec().toUri().toString(),
                                "--result-store.enabled",
                                "false",
                                "--events.field.event-id",
                                "id",
                                "--events.field.entity-id",
                                "entity",
                                "--events.field.event-time",
                                "ts"));
        for (String option : jobOptions) {
            int eq = option.indexOf('=');
            args.addAll(List.of("--" + option.substring(0, eq), option.substring(eq + 1)));
        }
        if (encoding == KafkaLoad.Encoding.json) {
            args.addAll(List.of("--events.format", "JSON"));
        } else {
            args.addAll(
                    List.of(
                            "--events.format",
                            "AVRO",
                            "--events.avro.schema",
                            avroSchema().toUri().toString()));
        }
        return args;
    }

    private Path featureSpec() throws Exception {
        Path file = work.resolve("pixels.yaml");
        if (!Files.exists(file)) {
            Files.writeString(
                    file,
                    "name: bench\nversion: 1\nfeatures:\n  - name: pixels\n    kind: vector\n    field: pixels\n    width: "
                            + WIDTH
                            + "\n");
        }
        return file;
    }

    private Path avroSchema() throws Exception {
        Path file = work.resolve("image.avsc");
        if (!Files.exists(file)) {
            Files.writeString(file, KafkaLoad.IMAGE_SCHEMA.toString(true));
        }
        return file;
    }

    private Path gcLog() {
        return work.resolve("gc-taskmanager.log");
    }

    private Path brokerGcLog() {
        return work.resolve("gc-broker.log");
    }

    private Path clusterOptions() throws Exception {
        return Files.writeString(
                work.resolve("cluster-options.yaml"),
                String.join(
                        "\n",
                        "model.allowed-roots: " + work.resolve("models").toUri(),
                        "model.allow-unsigned: true",
                        "validation.max-future-skew: 10 min",
                        // the REST API's metrics a second old, so that a drain's task times are
                        // there
                        "metrics.fetcher.update-interval: 1000",
                        // every checkpoint of a live run in the REST API's history, not the last
                        // ten
                        "web.checkpoints.history: 500",
                        // empty values cannot be program arguments (ParameterTool drops them)
                        "model.trusted-keys: \"\"",
                        "model.control-topic: \"\"",
                        "features.reference-topic: \"\"",
                        "events.field.event-type: \"\"",
                        // the TaskManager's GC pauses, lined up with each live run's measured span
                        "env.java.opts.taskmanager: \"-Xlog:gc:file=" + gcLog() + ":time\"",
                        String.join("\n", extraClusterOptions),
                        ""));
    }

    private static Path jobJar() throws Exception {
        try (var files = Files.list(ROOT.resolve("jobs/target"))) {
            return files.filter(f -> f.getFileName().toString().endsWith("-job.jar"))
                    .findFirst()
                    .orElseThrow(
                            () -> new IllegalStateException("no shaded job jar in jobs/target"));
        }
    }

    private void createTopics(String... topics) throws Exception {
        try (var admin =
                org.apache.kafka.clients.admin.Admin.create(
                        Map.of("bootstrap.servers", bootstrap))) {
            List<org.apache.kafka.clients.admin.NewTopic> newTopics = new ArrayList<>();
            for (String t : topics) {
                newTopics.add(
                        new org.apache.kafka.clients.admin.NewTopic(t, PARTITIONS, (short) 1));
            }
            admin.createTopics(newTopics).all().get(1, TimeUnit.MINUTES);
            // KAFKA-15591: producing right after createTopics can lose records until every
            // partition answers
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec>
                    spec = new LinkedHashMap<>();
            for (String t : topics) {
                for (int p = 0; p < PARTITIONS; p++) {
                    spec.put(
                            new org.apache.kafka.common.TopicPartition(t, p),
                            org.apache.kafka.clients.admin.OffsetSpec.latest());
                }
            }
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (true) {
                try {
                    admin.listOffsets(spec).all().get(10, TimeUnit.SECONDS);
                    break;
                } catch (java.util.concurrent.ExecutionException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                }
            }
        }
    }

    private Process startBroker() throws Exception {
        String classpath = System.getProperty("java.class.path");
        Process p =
                new ProcessBuilder(
                                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                                // G1 as the JVM sizes it: Kafka's start scripts' flags (-Xms1g,
                                // MaxGCPauseMillis=20) gave this broker fewer, longer young pauses
                                // (mean 16 ms against 7) and the job's p99 17 ms against 15
                                // (bench/README.md)
                                "-Xmx1g",
                                "-Xlog:gc:file=" + brokerGcLog() + ":time",
                                "-cp",
                                classpath,
                                KafkaBrokerProcess.class.getName(),
                                work.resolve("kafka").toString(),
                                "0")
                        .redirectError(work.resolve("broker.log").toFile())
                        .start();
        BufferedReader lines =
                new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = lines.readLine()) != null && !line.startsWith("READY ")) {
            // the broker's own output before it serves
        }
        if (line == null) {
            throw new IllegalStateException(
                    "the broker did not start; see " + work.resolve("broker.log"));
        }
        bootstrap = line.substring("READY ".length()).strip();
        Thread drain =
                new Thread(
                        () -> {
                            try {
                                while (lines.readLine() != null) {
                                    // the broker's output after it serves: read so that it never
                                    // blocks
                                }
                            } catch (java.io.IOException e) {
                                // the broker ended
                            }
                        });
        drain.setDaemon(true);
        drain.start();
        System.out.println("broker (own process, pid " + p.pid() + ") at " + bootstrap);
        return p;
    }
}
