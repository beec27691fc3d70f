package org.streaminference.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A standalone Flink session cluster (one JobManager and one TaskManager process) started by {@code
 * standalone-cluster.sh}, driven through its REST API as {@code flink run} drives it: the way a
 * user runs the job, with the TaskManager's CPU measurable apart from the benchmark's and the
 * broker's.
 */
final class StandaloneFlink implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final Path root;
    private final Path work;
    private final String rest;

    private StandaloneFlink(Path root, Path work, String rest) {
        this.root = root;
        this.work = work;
        this.rest = rest;
    }

    /** Starts a cluster in {@code work} whose config.yaml ends with {@code clusterOptions}. */
    static StandaloneFlink start(Path root, Path work, Path clusterOptions) throws Exception {
        Files.createDirectories(work);
        List<String> command =
                List.of(
                        root.resolve("standalone-cluster.sh").toString(),
                        "start",
                        work.toString(),
                        "--rest-port",
                        Integer.toString(freePort()),
                        "--rpc-port",
                        Integer.toString(freePort()),
                        "--conf",
                        clusterOptions.toString());
        Process p =
                new ProcessBuilder(command)
                        .redirectError(work.resolve("cluster-script.log").toFile())
                        .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(
                    "standalone-cluster.sh failed; see " + work.resolve("cluster-script.log"));
        }
        return new StandaloneFlink(root, work, out);
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** The TaskManager's process. */
    ProcessHandle taskManager() throws IOException {
        long pid =
                Long.parseLong(Files.readAllLines(work.resolve("taskmanager.pids")).get(0).strip());
        return ProcessHandle.of(pid)
                .orElseThrow(() -> new IllegalStateException("the TaskManager is not running"));
    }

    /** CPU the TaskManager process used so far, in nanoseconds. */
    long taskManagerCpuNanos() throws IOException {
        return taskManager().info().totalCpuDuration().orElseThrow().toNanos();
    }

    JsonNode get(String path) throws Exception {
        return JSON.readTree(
                HTTP.send(
                                HttpRequest.newBuilder(URI.create(rest + path)).build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body());
    }

    /** Uploads a jar ({@code POST /jars/upload}) and returns its id. */
    String upload(Path jar) throws Exception {
        String boundary = UUID.randomUUID().toString();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(
                ("--"
                                + boundary
                                + "\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\""
                                + jar.getFileName()
                                + "\"\r\nContent-Type: application/x-java-archive\r\n\r\n")
                        .getBytes(StandardCharsets.UTF_8));
        body.write(Files.readAllBytes(jar));
        body.write(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        JsonNode uploaded =
                JSON.readTree(
                        HTTP.send(
                                        HttpRequest.newBuilder(URI.create(rest + "/jars/upload"))
                                                .header(
                                                        "Content-Type",
                                                        "multipart/form-data; boundary=" + boundary)
                                                .POST(
                                                        HttpRequest.BodyPublishers.ofByteArray(
                                                                body.toByteArray()))
                                                .build(),
                                        HttpResponse.BodyHandlers.ofString())
                                .body());
        if (!"success".equals(uploaded.path("status").asText())) {
            throw new IllegalStateException("upload failed: " + uploaded);
        }
        return Path.of(uploaded.path("filename").asText()).getFileName().toString();
    }

    /** Runs an uploaded jar ({@code POST /jars/:id/run}) and returns the job's id. */
    String run(String jarId, List<String> args, int parallelism) throws Exception {
        Map<String, Object> request = new HashMap<>();
        request.put("programArgsList", args);
        request.put("parallelism", parallelism);
        JsonNode started =
                JSON.readTree(
                        HTTP.send(
                                        HttpRequest.newBuilder(
                                                        URI.create(
                                                                rest + "/jars/" + jarId + "/run"))
                                                .header("Content-Type", "application/json")
                                                .POST(
                                                        HttpRequest.BodyPublishers.ofString(
                                                                JSON.writeValueAsString(request)))
                                                .build(),
                                        HttpResponse.BodyHandlers.ofString())
                                .body());
        if (!started.has("jobid")) {
            throw new IllegalStateException("the job did not start: " + started);
        }
        return started.path("jobid").asText();
    }

    /** Waits until the job and all its vertices run. */
    void awaitRunning(String job, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode status = get("/jobs/" + job);
            String state = status.path("state").asText();
            if ("FAILED".equals(state) || "CANCELED".equals(state)) {
                throw new IllegalStateException("job " + job + " is " + state);
            }
            boolean all = "RUNNING".equals(state) && status.path("vertices").size() > 0;
            for (JsonNode v : status.path("vertices")) {
                all &= "RUNNING".equals(v.path("status").asText());
            }
            if (all) {
                return;
            }
            Thread.sleep(100); // polling the REST API for a state change
        }
        throw new IllegalStateException("job " + job + " not running after " + timeout);
    }

    /** Cancels the job and waits until it reached a terminal state. */
    void cancel(String job) throws Exception {
        HTTP.send(
                HttpRequest.newBuilder(URI.create(rest + "/jobs/" + job + "?mode=cancel"))
                        .method("PATCH", HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.discarding());
        awaitTerminal(job, Duration.ofMinutes(1));
    }

    /** Waits until the job finished, failed or was cancelled; returns its state. */
    String awaitTerminal(String job, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String state = get("/jobs/" + job).path("state").asText();
            if (List.of("FINISHED", "CANCELED", "FAILED").contains(state)) {
                return state;
            }
            Thread.sleep(100); // polling the REST API for a state change
        }
        throw new IllegalStateException("job " + job + " did not end in " + timeout);
    }

    /**
     * Per vertex (name), the busy, back-pressured and idle ms per second of its subtasks' average
     * now: where the job's tasks spend their time.
     */
    Map<String, String> taskTimes(String job) throws Exception {
        Map<String, String> times = new LinkedHashMap<>();
        for (JsonNode v : get("/jobs/" + job).path("vertices")) {
            JsonNode metrics =
                    get(
                            "/jobs/"
                                    + job
                                    + "/vertices/"
                                    + v.path("id").asText()
                                    + "/subtasks/metrics?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond,idleTimeMsPerSecond&agg=avg");
            List<String> parts = new ArrayList<>();
            for (JsonNode m : metrics) {
                parts.add(
                        m.path("id").asText().replace("TimeMsPerSecond", "")
                                + " "
                                + Math.round(m.path("avg").asDouble()));
            }
            times.put(v.path("name").asText(), String.join(", ", parts));
        }
        return times;
    }

    /**
     * The job's completed checkpoints triggered at or after {@code fromMillis}, in short, and when
     * each was triggered.
     */
    record Checkpoints(
            List<Long> triggers, long maxEndToEndMillis, long maxSyncMillis, String slowestSync) {
        String describe() {
            return triggers.isEmpty()
                    ? "none"
                    : String.format(
                            "%d; end to end ≤ %d ms; synchronous part ≤ %d ms (%s)",
                            triggers.size(), maxEndToEndMillis, maxSyncMillis, slowestSync);
        }
    }

    /**
     * What the job's recent checkpoints cost (the REST API keeps as many as the cluster's {@code
     * web.checkpoints.history}): how long each took end to end, and the longest synchronous part of
     * any subtask, the time that subtask's records waited.
     */
    Checkpoints checkpoints(String job, long fromMillis) throws Exception {
        long maxEndToEnd = 0;
        long maxSync = 0;
        String slowest = "";
        List<Long> triggers = new ArrayList<>();
        Map<String, String> names = new LinkedHashMap<>();
        for (JsonNode v : get("/jobs/" + job).path("vertices")) {
            names.put(v.path("id").asText(), v.path("name").asText());
        }
        for (JsonNode c : get("/jobs/" + job + "/checkpoints").path("history")) {
            if (!"COMPLETED".equals(c.path("status").asText())
                    || c.path("trigger_timestamp").asLong() < fromMillis) {
                continue;
            }
            triggers.add(c.path("trigger_timestamp").asLong());
            maxEndToEnd = Math.max(maxEndToEnd, c.path("end_to_end_duration").asLong());
            for (String vertex : names.keySet()) {
                JsonNode subtasks =
                        get(
                                "/jobs/"
                                        + job
                                        + "/checkpoints/details/"
                                        + c.path("id").asText()
                                        + "/subtasks/"
                                        + vertex);
                for (JsonNode st : subtasks.path("subtasks")) {
                    long sync = st.path("checkpoint").path("sync").asLong();
                    if (sync > maxSync) {
                        maxSync = sync;
                        slowest = names.get(vertex);
                    }
                }
            }
        }
        triggers.sort(null);
        return new Checkpoints(List.copyOf(triggers), maxEndToEnd, maxSync, slowest);
    }

    @Override
    public void close() throws Exception {
        new ProcessBuilder(
                        root.resolve("standalone-cluster.sh").toString(), "stop", work.toString())
                .inheritIO()
                .start()
                .waitFor(1, TimeUnit.MINUTES);
    }
}
