package org.streaminference.cli;

import org.streaminference.model.control.ModelDeployment;
import org.streaminference.schemas.DeploymentState;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code models list}: what every job serves, per model, as its inference subtasks last reported on
 * the model-events topic, with the last rejected command where one came after.
 */
@Command(
        name = "list",
        mixinStandardHelpOptions = true,
        description = "Show what each job serves, read back from the model-events topic.")
final class ListCommand implements Callable<Integer> {
    @CommandLine.Mixin ModelsCli.Connection connection;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(
            names = "--flink-rest",
            description =
                    "Flink's REST address (http://host:8081), to leave out"
                            + " jobs that no longer run; without it every job that ever reported is listed with its status unknown.")
    String flinkRest;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<ModelEvent> events;
        try (ControlTopic control = connection.open()) {
            events = control.readAllEvents();
        }
        // job id + model → subtask → latest deployment; and the last rejection per job id + model
        Map<String, TreeMap<Integer, ModelEvent>> deployed = new LinkedHashMap<>();
        Map<String, ModelEvent> rejected = new LinkedHashMap<>();
        Map<String, ModelEvent> drift = new LinkedHashMap<>();
        Map<String, ModelEvent> plans = new LinkedHashMap<>();
        for (ModelEvent e : events) {
            if (e.getModel() == null && e.getType() == ModelEventType.DEPLOYED) {
                plans.put(e.getJob() + " (" + e.getJobId() + ")", e); // a serving plan took effect
                continue;
            }
            String key = e.getJob() + " (" + e.getJobId() + ") " + e.getModel();
            if (e.getType() == ModelEventType.DEPLOYED) {
                deployed.computeIfAbsent(key, k -> new TreeMap<>()).put(e.getSubtask(), e);
                rejected.remove(key);
            } else if (e.getType() == ModelEventType.REJECTED) {
                rejected.put(key, e);
            } else if (e.getType() == ModelEventType.DRIFT) {
                drift.put(key, e);
            }
        }
        if (deployed.isEmpty()) {
            out.println("No job has reported on " + connection.eventsTopic() + " yet.");
            return 0;
        }
        Map<String, String> stateByJobId = new HashMap<>();
        for (TreeMap<Integer, ModelEvent> bySubtask : deployed.values()) {
            String jobId = bySubtask.firstEntry().getValue().getJobId();
            stateByJobId.computeIfAbsent(jobId, this::jobState);
        }
        plans.forEach((job, e) -> out.printf("%s  %s%n", job, e.getMessage()));
        deployed.forEach(
                (key, bySubtask) -> {
                    String state = stateByJobId.get(bySubtask.firstEntry().getValue().getJobId());
                    if (state != null
                            && !state.equals("RUNNING")
                            && !state.equals("RESTARTING")
                            && !state.equals("CREATED")
                            && !state.equals("INITIALIZING")) {
                        out.printf("%s  [job %s: serves nothing]%n", key, state);
                        return;
                    }
                    Map<String, List<Integer>> subtasksByDeployment = new LinkedHashMap<>();
                    long updated = 0;
                    for (ModelEvent e : bySubtask.values()) {
                        subtasksByDeployment
                                .computeIfAbsent(
                                        describe(e.getDeployment()), d -> new ArrayList<>())
                                .add(e.getSubtask());
                        updated = Math.max(updated, e.getTime());
                    }
                    out.printf(
                            "%s%s%n",
                            key,
                            state == null
                                    ? (flinkRest == null ? "" : "  [job status unknown]")
                                    : "  [job " + state + "]");
                    subtasksByDeployment.forEach(
                            (deployment, subtasks) ->
                                    out.printf("  %s  (subtasks %s)%n", deployment, subtasks));
                    out.printf("  last change %s%n", Instant.ofEpochMilli(updated));
                    ModelEvent lastRejection = rejected.get(key);
                    if (lastRejection != null) {
                        out.printf(
                                "  last command rejected: %s (%s) %s%n",
                                lastRejection.getCommand(),
                                lastRejection.getReason(),
                                lastRejection.getMessage());
                    }
                    ModelEvent lastDrift = drift.get(key);
                    if (lastDrift != null) {
                        out.printf(
                                "  last drift %s: %s%n",
                                Instant.ofEpochMilli(lastDrift.getTime()), lastDrift.getMessage());
                    }
                });
        return 0;
    }

    /** The job's state from Flink's REST API, or null where it cannot be asked. */
    private String jobState(String jobId) {
        if (flinkRest == null || jobId == null) {
            return null;
        }
        try {
            HttpResponse<String> response =
                    HttpClient.newBuilder()
                            .connectTimeout(Duration.ofSeconds(5))
                            .build()
                            .send(
                                    HttpRequest.newBuilder(
                                                    URI.create(
                                                            flinkRest.replaceAll("/+$", "")
                                                                    + "/jobs/"
                                                                    + jobId))
                                            .timeout(Duration.ofSeconds(10))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 404) {
                return "UNKNOWN TO THE CLUSTER";
            }
            String state = new ObjectMapper().readTree(response.body()).path("state").asText(null);
            return state;
        } catch (Exception e) {
            return null;
        }
    }

    private static String describe(DeploymentState state) {
        ModelDeployment d = ModelDeployment.fromState(state);
        return d.describe() + ", revision " + d.revision();
    }
}
