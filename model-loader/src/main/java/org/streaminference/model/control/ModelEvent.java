package org.streaminference.model.control;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.io.Serializable;

/**
 * What a running job did with its models, written as JSON to the model-events topic by every inference subtask:
 * the {@code models list} command and dashboards read it back.
 *
 * @param job        the Flink job's name
 * @param jobId      the Flink job's id
 * @param subtask    the inference subtask that reports
 * @param commandId  the command this answers, if any
 * @param reason     for REJECTED: a {@code ModelLoadException.Reason} or {@code INVALID_COMMAND}
 * @param deployment for DEPLOYED: what the subtask serves from now on
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelEvent(
        @JsonProperty("type") Type type,
        @JsonProperty("job") String job,
        @JsonProperty("jobId") String jobId,
        @JsonProperty("subtask") int subtask,
        @JsonProperty("model") String model,
        @JsonProperty("version") String version,
        @JsonProperty("commandId") String commandId,
        @JsonProperty("command") String command,
        @JsonProperty("reason") String reason,
        @JsonProperty("message") String message,
        @JsonProperty("loadMillis") Long loadMillis,
        @JsonProperty("deployment") ModelDeployment deployment,
        @JsonProperty("time") long time)
        implements Serializable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What happened. */
    public enum Type {
        /** A version was loaded and verified in a subtask (before any record is routed to it). */
        LOADED,
        /** A deployment took effect in a subtask. */
        DEPLOYED,
        /** A command was refused; what was served before is still served. */
        REJECTED,
        /** A version left the deployment and its last in-flight record was answered; its session is released. */
        RELEASED
    }

    @JsonCreator
    public ModelEvent {}

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("a model event always serializes", e);
        }
    }

    public static ModelEvent fromJson(byte[] json) throws IOException {
        return JSON.readValue(json, ModelEvent.class);
    }
}
