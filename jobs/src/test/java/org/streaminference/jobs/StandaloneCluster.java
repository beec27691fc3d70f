package org.streaminference.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
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
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real standalone Flink session cluster for the tests: a JobManager and a TaskManager process
 * started by {@code standalone-cluster.sh} from Maven artifacts with the project's flink-conf,
 * driven through its REST API as {@code flink run} and the web UI drive it.
 */
final class StandaloneCluster implements AutoCloseable {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final Path work;
    private final String rest;

    private StandaloneCluster(Path work, String rest) {
        this.work = work;
        this.rest = rest;
    }

    /**
     * Starts a cluster in {@code work} whose config.yaml ends with the lines of {@code
     * clusterOptions}.
     */
    static StandaloneCluster start(Path work, Path clusterOptions) throws Exception {
        int prometheus = freePort();
        String rest =
                script(
                        work,
                        "start",
                        work.toString(),
                        "--rest-port",
                        Integer.toString(freePort()),
                        "--rpc-port",
                        Integer.toString(freePort()),
                        "--prometheus-ports",
                        prometheus + "-" + (prometheus + 3),
                        "--conf",
                        clusterOptions.toString());
        return new StandaloneCluster(work, rest);
    }

    /** The shaded job jar, as the package phase built it. */
    static Path jobJar() throws Exception {
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        int start =
                pom.indexOf(
                        "<version>",
                        pom.indexOf("<artifactId>streaminference-parent</artifactId>"));
        String version =
                pom.substring(start + "<version>".length(), pom.indexOf("</version>", start));
        Path jar = ROOT.resolve("jobs/target/streaminference-jobs-" + version + "-job.jar");
        assertThat(jar).as("the shaded job jar (built in the package phase)").exists();
        return jar;
    }

    static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static String script(Path work, String... args) throws Exception {
        List<String> command =
                new ArrayList<>(List.of(ROOT.resolve("standalone-cluster.sh").toString()));
        command.addAll(List.of(args));
        Process p =
                new ProcessBuilder(command)
                        .redirectError(work.resolve("cluster-script.log").toFile())
                        .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue())
                .as(
                        "standalone-cluster.sh %s (log: %s)",
                        args[0], work.resolve("cluster-script.log"))
                .isZero();
        return out;
    }

    Path work() {
        return work;
    }

    JsonNode get(String path) throws Exception {
        return JSON.readTree(
                HTTP.send(
                                HttpRequest.newBuilder(URI.create(rest + path)).build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body());
    }

    private JsonNode post(String path, String json) throws Exception {
        return JSON.readTree(
                HTTP.send(
                                HttpRequest.newBuilder(URI.create(rest + path))
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(json))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body());
    }

    /** Uploads a jar ({@code POST /jars/upload}) and returns its id on the cluster. */
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
        assertThat(uploaded.path("status").asText()).as(uploaded.toString()).isEqualTo("success");
        return Path.of(uploaded.path("filename").asText()).getFileName().toString();
    }

    /**
     * Runs an uploaded jar ({@code POST /jars/:id/run}, what {@code flink run -p N} sends) and
     * returns the job's id. {@code parallelism} and {@code savepoint} may be null: not in the
     * request.
     */
    String run(String jarId, List<String> args, Integer parallelism, String savepoint)
            throws Exception {
        Map<String, Object> request = new HashMap<>(Map.of("programArgsList", args));
        if (parallelism != null) {
            request.put("parallelism", parallelism);
        }
        if (savepoint != null) {
            request.put("savepointPath", savepoint);
        }
        JsonNode started = post("/jars/" + jarId + "/run", JSON.writeValueAsString(request));
        assertThat(started.has("jobid")).as(started.toString()).isTrue();
        return started.path("jobid").asText();
    }

    /** Uploads and runs the jar, as {@code flink run} does. */
    String submit(Path jar, List<String> args, Integer parallelism, String savepoint)
            throws Exception {
        return run(upload(jar), args, parallelism, savepoint);
    }

    /** Whether the job and every one of its vertices are RUNNING. */
    boolean allRunning(String job) throws Exception {
        JsonNode status = get("/jobs/" + job);
        if (!"RUNNING".equals(status.path("state").asText())) {
            return false;
        }
        for (JsonNode v : status.path("vertices")) {
            if (!"RUNNING".equals(v.path("status").asText())) {
                return false;
            }
        }
        return status.path("vertices").size() > 0;
    }

    /** Cancels the job ({@code PATCH /jobs/:id?mode=cancel}) without waiting. */
    void cancel(String job) throws Exception {
        HTTP.send(
                HttpRequest.newBuilder(URI.create(rest + "/jobs/" + job + "?mode=cancel"))
                        .method("PATCH", HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.discarding());
    }

    /** Cancels the job and waits until it is CANCELED. */
    void cancelAndWait(String job) throws Exception {
        cancel(job);
        await().atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(200))
                .until(() -> "CANCELED".equals(get("/jobs/" + job).path("state").asText()));
    }

    /**
     * Stops the job with a savepoint ({@code POST /jobs/:id/stop}) and returns the savepoint's
     * location.
     */
    String stopWithSavepoint(String job) throws Exception {
        String body =
                JSON.writeValueAsString(
                        Map.of(
                                "drain",
                                false,
                                "targetDirectory",
                                work.resolve("savepoints").toUri().toString()));
        String requestId = post("/jobs/" + job + "/stop", body).path("request-id").asText();
        JsonNode[] result = new JsonNode[1];
        await().atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(300))
                .until(
                        () -> {
                            result[0] = get("/jobs/" + job + "/savepoints/" + requestId);
                            return "COMPLETED".equals(result[0].at("/status/id").asText());
                        });
        String location = result[0].at("/operation/location").asText();
        assertThat(location).as(result[0].toString()).isNotBlank();
        return location;
    }

    /** The process of the cluster's {@code index}th TaskManager (0: the one started with it). */
    ProcessHandle taskManager(int index) throws Exception {
        return process("taskmanager", index);
    }

    ProcessHandle jobManager() throws Exception {
        return process("jobmanager", 0);
    }

    private ProcessHandle process(String name, int index) throws Exception {
        long pid =
                Long.parseLong(Files.readAllLines(work.resolve(name + ".pids")).get(index).strip());
        return ProcessHandle.of(pid)
                .orElseThrow(() -> new AssertionError(name + " pid " + pid + " is not running"));
    }

    void startTaskManager() throws Exception {
        script(work, "start-taskmanager", work.toString());
    }

    @Override
    public void close() throws Exception {
        script(work, "stop", work.toString());
    }
}
