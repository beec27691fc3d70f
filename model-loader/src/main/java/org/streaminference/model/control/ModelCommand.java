package org.streaminference.model.control;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.PublicEvolving;
import org.streaminference.model.ModelManifest;

import java.io.IOException;
import java.io.Serializable;
import java.util.UUID;

/**
 * A command on the control topic: what one model name should serve. Commands are JSON, keyed by model name, so
 * that people and tools other than the {@code models} CLI can write and read them.
 *
 * <pre>{@code
 * {"command":"PUBLISH","model":"churn","version":"3","location":"s3://models/churn/3","role":"CANARY","percent":10}
 * {"command":"PROMOTE","model":"churn"}
 * }</pre>
 *
 * <p>A PUBLISH may carry the version's manifest ({@code "manifest": {...}}, as the CLI sends it); its sha256 is
 * then checked against the manifest in the store.
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelCommand(
        @JsonProperty("command") Type command,
        @JsonProperty("model") String model,
        @JsonProperty("version") String version,
        @JsonProperty("location") String location,
        @JsonProperty("role") Role role,
        @JsonProperty("percent") Integer percent,
        @JsonProperty("id") String id,
        @JsonProperty("issuedAt") Long issuedAt,
        @JsonProperty("issuedBy") String issuedBy,
        @JsonProperty("manifest") ModelManifest manifest)
        implements Serializable {

    private static final ObjectMapper JSON =
            new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** What a command does. */
    public enum Type {
        /** Registers a version (its manifest's location) and gives it a role: active (default), canary or shadow. */
        PUBLISH,
        /** Routes {@code percent} of entities to a registered version; percent 0 ends the canary. */
        SET_CANARY,
        /** Scores every record with a registered version too, on the shadow output; no version ends the shadow. */
        SET_SHADOW,
        /** Makes the canary the active version; the active version becomes the previous one. */
        PROMOTE,
        /** Makes the previous version active again. */
        ROLLBACK,
        /** Forgets a version that is not active; its session is closed once its in-flight records are answered. */
        RETIRE
    }

    /** The role a published version takes. */
    public enum Role {
        ACTIVE,
        CANARY,
        SHADOW
    }

    @JsonCreator
    public ModelCommand {}

    public static ModelCommand publish(String model, String version, String location, Role role, Integer percent) {
        return stamp(Type.PUBLISH, model, version, location, role, percent);
    }

    public static ModelCommand setCanary(String model, String version, int percent) {
        return stamp(Type.SET_CANARY, model, version, null, null, percent);
    }

    public static ModelCommand setShadow(String model, String version) {
        return stamp(Type.SET_SHADOW, model, version, null, null, null);
    }

    public static ModelCommand promote(String model) {
        return stamp(Type.PROMOTE, model, null, null, null, null);
    }

    public static ModelCommand rollback(String model) {
        return stamp(Type.ROLLBACK, model, null, null, null, null);
    }

    public static ModelCommand retire(String model, String version) {
        return stamp(Type.RETIRE, model, version, null, null, null);
    }

    private static ModelCommand stamp(Type type, String model, String version, String location, Role role,
            Integer percent) {
        return new ModelCommand(type, model, version, location, role, percent, UUID.randomUUID().toString(),
                System.currentTimeMillis(), System.getProperty("user.name"), null);
    }

    /**
     * This PUBLISH command carrying the version's manifest: jobs then refuse the version unless the store holds
     * exactly this manifest's file (its sha256), so a store changed after publishing cannot slip another file in.
     */
    public ModelCommand withManifest(ModelManifest announced) {
        return new ModelCommand(command, model, version, location, role, percent, id, issuedAt, issuedBy, announced);
    }

    /** Reads a command; throws {@link InvalidCommandException} for anything that is not a well-formed command. */
    public static ModelCommand fromJson(byte[] json) throws InvalidCommandException {
        ModelCommand command;
        try {
            command = JSON.readValue(json, ModelCommand.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new InvalidCommandException("not a model command: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidCommandException("not a model command: " + e.getMessage());
        }
        if (command == null) {
            throw new InvalidCommandException("not a model command: empty");
        }
        command.validate();
        return command;
    }

    public byte[] toJson() {
        try {
            return JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new IllegalStateException("a command always serializes", e);
        }
    }

    /** Checks the fields each command type needs. */
    public void validate() throws InvalidCommandException {
        if (command == null) {
            throw new InvalidCommandException("'command' is missing: one of PUBLISH, SET_CANARY, SET_SHADOW, PROMOTE,"
                    + " ROLLBACK, RETIRE");
        }
        require(model != null && !model.isBlank(), "'model' is missing");
        require(ModelManifest.SAFE_NAME.matcher(model).matches(), "'model' must be " + ModelManifest.SAFE_NAME_RULE);
        require(version == null || ModelManifest.SAFE_NAME.matcher(version).matches(),
                "'version' must be " + ModelManifest.SAFE_NAME_RULE);
        switch (command) {
            case PUBLISH -> {
                requireVersion();
                require(location != null && !location.isBlank(), "PUBLISH needs 'location' (the manifest's URI)");
                if (role == Role.CANARY) {
                    requirePercent(1);
                }
                require(manifest == null || (manifest.name().equals(model) && manifest.version().equals(version)),
                        "the announced manifest describes " + (manifest == null ? "" : manifest.id()) + ", not "
                                + model + ":" + version);
            }
            case SET_CANARY -> {
                requireVersion();
                requirePercent(0);
            }
            case RETIRE -> requireVersion();
            default -> { }
        }
    }

    private void requireVersion() throws InvalidCommandException {
        require(version != null && !version.isBlank(), command + " needs 'version'");
    }

    private void requirePercent(int min) throws InvalidCommandException {
        require(percent != null && percent >= min && percent <= 100,
                command + " needs 'percent' between " + min + " and 100, got " + percent);
    }

    private void require(boolean condition, String message) throws InvalidCommandException {
        if (!condition) {
            throw new InvalidCommandException(message);
        }
    }

    /** A short description for logs and events, e.g. {@code PUBLISH churn:3 as CANARY 10%}. */
    public String describe() {
        StringBuilder s = new StringBuilder().append(command).append(' ').append(model);
        if (version != null) {
            s.append(':').append(version);
        }
        if (role != null) {
            s.append(" as ").append(role);
        }
        if (percent != null) {
            s.append(' ').append(percent).append('%');
        }
        return s.toString();
    }
}
