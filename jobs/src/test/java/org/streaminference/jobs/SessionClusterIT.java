package org.streaminference.jobs;

import org.streaminference.schemas.Prediction;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.util.FileUtils;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * A session cluster survives its jobs: the job jar is submitted again and again to one standalone
 * cluster, each job serves events (ONNX Runtime, Kafka, the PostgreSQL driver, every operator) and
 * is cancelled; afterwards no user-code class loader of the job is left in the TaskManager or the
 * JobManager, and the TaskManager's Metaspace is flat. This is Flink's own class-loader leak check
 * (a released class loader must become unreachable) made on the real processes: {@code jcmd
 * GC.class_histogram} collects the heap fully and counts the class loaders that remain. {@code
 * -Dsession.submissions=50} runs the fifty submissions; CI runs fewer, enough to see a
 * leak.
 */
class SessionClusterIT {
    private static final int SUBMISSIONS = Integer.getInteger("session.submissions", 3);
    private static final Pattern USER_CODE_LOADER =
            Pattern.compile(
                    "^\\s*\\d+:\\s+(\\d+)\\s+\\d+\\s+org\\.apache\\.flink\\.util\\.(ChildFirst|ParentFirst)"
                            + "ClassLoader\\b",
                    Pattern.MULTILINE);
    private static final Pattern METASPACE_USED = Pattern.compile("Metaspace\\s+used (\\d+)K");
    private static final Pattern PERF_COUNTER =
            Pattern.compile(
                    "^(java\\.cls\\.\\w+|java\\.threads\\.live)=(\\d+)$", Pattern.MULTILINE);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @Test
    void submissionsAndCancellationsLeaveNoClassLoaderBehindAndAnExplicitParallelismOfOneIsKept() {
        // a submission takes under a minute (its loaders go about 30 s after it ends): the timeout
        // grows with them
        assertTimeoutPreemptively(
                Duration.ofMinutes(4).plus(Duration.ofSeconds(90).multipliedBy(SUBMISSIONS)),
                this::submitAndCancel);
    }

    private void submitAndCancel() throws Exception {
        assertThat(SUBMISSIONS)
                .as("a leak shows from the second submission on")
                .isGreaterThanOrEqualTo(2);
        Path jar = StandaloneCluster.jobJar();
        Path work = SERVICES.dir().resolve("session");
        Files.createDirectories(work);
        DefaultTopics.create(SERVICES.kafka(), 2, 2);
        Path models = SERVICES.dir().resolve("models");
        TrustedPublisher publisher = TrustedPublisher.create(SERVICES.dir().resolve("trusted.pub"));
        Path modelDir = publisher.signedDemoVersion(models, 1);
        // the cluster's default is 2: the requests ask for 1, which must win
        Path clusterOptions =
                Files.writeString(
                        work.resolve("cluster-options.yaml"),
                        String.join(
                                "\n",
                                "parallelism.default: 2",
                                "model.allowed-roots: " + models.toUri(),
                                "model.trusted-keys: " + publisher.trustedKeys(),
                                "validation.max-future-skew: 10 min",
                                ""));
        List<String> args =
                List.of(
                        "--kafka.bootstrap-servers", SERVICES.bootstrapServers(),
                        "--model.uri", modelDir.toUri().toString(),
                        "--result-store.jdbc-url", SERVICES.jdbcUrl());

        try (StandaloneCluster cluster = StandaloneCluster.start(work, clusterOptions)) {
            ProcessHandle taskManager = cluster.taskManager(0);
            ProcessHandle jobManager = cluster.jobManager();
            String jarId = cluster.upload(jar);
            Footprint idle = Footprint.of(taskManager);
            Footprint running = null;
            List<Footprint> after = new ArrayList<>();
            for (int i = 0; i < SUBMISSIONS; i++) {
                String job = cluster.run(jarId, args, 1, null);
                await().atMost(Duration.ofMinutes(2))
                        .pollInterval(Duration.ofMillis(200))
                        .until(() -> cluster.allRunning(job));
                JsonNode vertices = cluster.get("/jobs/" + job).path("vertices");
                for (JsonNode vertex : vertices) {
                    assertThat(vertex.path("parallelism").asInt())
                            .as(
                                    "submission %d, the request's parallelism 1"
                                            + " over the cluster's 2: %s",
                                    i, vertex.path("name").asText())
                            .isEqualTo(1);
                }
                // every part of the job at work: events decoded, features kept, ONNX Runtime run,
                // both sinks
                PipelineTestSupport.TestInput input =
                        PipelineTestSupport.input("events", 40, 8, 500 + i, "session" + i);
                PipelineTestSupport.produce(SERVICES.bootstrapServers(), input.records(), 0);
                Set<String> ids =
                        input.valid().stream()
                                .map(e -> e.getEventId().toString())
                                .collect(Collectors.toSet());
                await().atMost(Duration.ofMinutes(2))
                        .pollInterval(Duration.ofMillis(500))
                        .until(
                                () ->
                                        PipelineTestSupport.readCommitted(
                                                                SERVICES.bootstrapServers(),
                                                                "predictions",
                                                                Prediction::fromByteBuffer)
                                                        .stream()
                                                        .filter(
                                                                p ->
                                                                        ids.contains(
                                                                                p.getEventId()
                                                                                        .toString()))
                                                        .map(p -> p.getEventId().toString())
                                                        .distinct()
                                                        .count()
                                                == ids.size());
                if (running == null) {
                    running = Footprint.of(taskManager);
                }
                cluster.cancelAndWait(job);
                Footprint released =
                        awaitReleased(
                                cluster, taskManager, "TaskManager after submission " + (i + 1));
                after.add(released);
                System.out.printf(
                        "SESSION: submission %d of %d served %d events at parallelism 1 and was cancelled;"
                                + " TaskManager %s%n",
                        i + 1, SUBMISSIONS, ids.size(), released);
            }
            Footprint jobManagerAfter =
                    awaitReleased(cluster, jobManager, "JobManager after the last submission");
            Footprint first = after.get(0);
            Footprint last = after.get(after.size() - 1);
            long perJob = running.metaspaceKb - idle.metaspaceKb;
            System.out.printf(
                    "SESSION: TaskManager Metaspace idle %,d KB, one job running %,d KB (+%,d KB, %,d"
                            + " classes); after the first job %,d KB, after the last (%d) %,d KB; JobManager %s%n",
                    idle.metaspaceKb,
                    running.metaspaceKb,
                    perJob,
                    running.liveClasses - idle.liveClasses,
                    first.metaspaceKb,
                    SUBMISSIONS,
                    last.metaspaceKb,
                    jobManagerAfter);
            assertThat(last.liveClasses - first.liveClasses)
                    .as(
                            "classes still loaded after %d submissions, against the first (a job loads %d)",
                            SUBMISSIONS, running.liveClasses - idle.liveClasses)
                    .isLessThan((running.liveClasses - idle.liveClasses) / 4);
            // A thread the job starts inherits its context class loader and so is caught by the
            // loader check; this
            // one is for threads that hold no class of the job. The first submissions warm Flink's
            // own pools up (I/O,
            // Pekko dispatchers), so the count is held against the middle submission, not the
            // first.
            Footprint middle = after.get((after.size() - 1) / 2);
            assertThat(last.liveThreads - middle.liveThreads)
                    .as(
                            "threads left running by submissions %d to %d",
                            (after.size() - 1) / 2 + 2, SUBMISSIONS)
                    .isLessThanOrEqualTo(2);
            assertThat(last.metaspaceKb - first.metaspaceKb)
                    .as(
                            "Metaspace growth over %d submissions (a job takes %d KB)",
                            SUBMISSIONS, perJob)
                    .isLessThan(perJob / 4);
        }
    }

    /**
     * Waits until the process holds no user-code class loader after a full collection (a released
     * loader becomes unreachable, so the collection takes it) and no ONNX Runtime library (unloaded
     * with its loader), and returns the footprint then.
     */
    private static Footprint awaitReleased(
            StandaloneCluster cluster, ProcessHandle process, String what) {
        Footprint[] seen = new Footprint[1];
        try {
            await().atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofSeconds(1))
                    .until(
                            () -> {
                                seen[0] = Footprint.of(process);
                                return seen[0].userCodeLoaders == 0 && seen[0].nativeLibraries <= 0;
                            });
        } catch (ConditionTimeoutException e) {
            throw new AssertionError(
                    what
                            + ": user-code class loaders or their native libraries still there after"
                            + " full collections: "
                            + seen[0]
                            + "; what holds them is in "
                            + dumpFor(cluster, process),
                    e);
        }
        return seen[0];
    }

    /** What a JVM holds of loaded code, after a full collection. */
    private record Footprint(
            int userCodeLoaders,
            long metaspaceKb,
            long liveClasses,
            long liveThreads,
            long nativeLibraries) {
        static Footprint of(ProcessHandle process) throws Exception {
            String histogram = jcmd(process, "GC.class_histogram"); // collects the whole heap first
            int loaders = 0;
            Matcher m = USER_CODE_LOADER.matcher(histogram);
            while (m.find()) {
                loaders += Integer.parseInt(m.group(1));
            }
            Matcher metaspace = METASPACE_USED.matcher(jcmd(process, "GC.heap_info"));
            assertThat(metaspace.find()).as("jcmd GC.heap_info reports Metaspace").isTrue();
            long loaded = 0;
            long unloaded = 0;
            long threads = 0;
            Matcher counters = PERF_COUNTER.matcher(jcmd(process, "PerfCounter.print"));
            while (counters.find()) {
                switch (counters.group(1)) {
                    case "java.cls.loadedClasses", "java.cls.sharedLoadedClasses" ->
                            loaded += Long.parseLong(counters.group(2));
                    case "java.cls.unloadedClasses", "java.cls.sharedUnloadedClasses" ->
                            unloaded += Long.parseLong(counters.group(2));
                    case "java.threads.live" -> threads = Long.parseLong(counters.group(2));
                    default -> {}
                }
            }
            return new Footprint(
                    loaders,
                    Long.parseLong(metaspace.group(1)),
                    loaded - unloaded,
                    threads,
                    onnxRuntimeLibraries(process));
        }

        /**
         * ONNX Runtime's native libraries mapped into the process (each job's loader loads its
         * own); -1: unknown.
         */
        private static long onnxRuntimeLibraries(ProcessHandle process) throws Exception {
            Path maps = Path.of("/proc", Long.toString(process.pid()), "maps");
            if (!Files.isReadable(maps)) {
                return -1;
            }
            try (var lines = Files.lines(maps)) {
                return lines.map(l -> l.substring(l.lastIndexOf(' ') + 1))
                        .filter(l -> l.contains("onnxruntime"))
                        .distinct()
                        .count();
            }
        }

        @Override
        public String toString() {
            return String.format(
                    "%d user-code class loaders, Metaspace used %,d KB, %,d classes loaded, %d threads,"
                            + " %d ONNX Runtime libraries mapped",
                    userCodeLoaders, metaspaceKb, liveClasses, liveThreads, nativeLibraries);
        }
    }

    /**
     * Keeps the process's threads and heap, and the cluster's logs, in target/ for finding what
     * holds a loader.
     */
    private static Path dumpFor(StandaloneCluster cluster, ProcessHandle process) {
        Path dir = Path.of("target", "session-leak-" + process.pid()).toAbsolutePath();
        try {
            Files.createDirectories(dir);
            FileUtils.copy(
                    new org.apache.flink.core.fs.Path(cluster.work().resolve("log").toUri()),
                    new org.apache.flink.core.fs.Path(dir.resolve("log").toUri()),
                    false);
            Files.writeString(dir.resolve("threads.txt"), jcmd(process, "Thread.print"));
            jcmd(process, "GC.heap_dump " + dir.resolve("heap.hprof"));
        } catch (Exception | AssertionError e) {
            return Path.of(dir + " (incomplete: " + e + ")");
        }
        return dir;
    }

    private static String jcmd(ProcessHandle process, String command) throws Exception {
        List<String> line = new ArrayList<>(List.of("jcmd", Long.toString(process.pid())));
        line.addAll(List.of(command.split(" ")));
        Process p = new ProcessBuilder(line).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).as("jcmd %s", command).isTrue();
        assertThat(p.exitValue()).as("jcmd %d %s: %s", process.pid(), command, out).isZero();
        return out;
    }
}
