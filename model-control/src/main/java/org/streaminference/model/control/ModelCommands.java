package org.streaminference.model.control;

import org.streaminference.model.ManifestNames;
import org.streaminference.model.ModelManifest;
import org.streaminference.schemas.AnnouncedManifest;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.UntrustedText;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Making, checking, describing and reading {@link ModelCommand}s. On the control topic a command is
 * JSON with the schema's field names, keyed by model name:
 *
 * <pre>{@code
 * {"command":"PUBLISH","model":"churn","version":"3","location":"s3://models/churn/3","role":"CANARY","percent":10}
 * {"command":"PROMOTE","model":"churn"}
 * }</pre>
 *
 * <p>A PUBLISH may carry the version's manifest ({@code "manifest":
 * {"name":..,"version":..,"sha256":..}}, as the CLI sends it); the sha256 is then checked against
 * the manifest in the store.
 */
@PublicEvolving
public final class ModelCommands {
    private ModelCommands() {}

    public static ModelCommand publish(
            String model, String version, String location, ModelRole role, Integer percent) {
        return stamp(ModelCommandType.PUBLISH, model, version, location, role, percent);
    }

    public static ModelCommand setCanary(String model, String version, int percent) {
        return stamp(ModelCommandType.SET_CANARY, model, version, null, null, percent);
    }

    public static ModelCommand setShadow(String model, String version) {
        return stamp(ModelCommandType.SET_SHADOW, model, version, null, null, null);
    }

    public static ModelCommand promote(String model) {
        return stamp(ModelCommandType.PROMOTE, model, null, null, null, null);
    }

    public static ModelCommand rollback(String model) {
        return stamp(ModelCommandType.ROLLBACK, model, null, null, null, null);
    }

    /**
     * A rollback naming the version it goes back to (the deployment's previous one), as signed
     * rollbacks do.
     */
    public static ModelCommand rollback(String model, String toVersion) {
        return stamp(ModelCommandType.ROLLBACK, model, toVersion, null, null, null);
    }

    public static ModelCommand retire(String model, String version) {
        return stamp(ModelCommandType.RETIRE, model, version, null, null, null);
    }

    /** Replaces the serving plan: the models a job serves, its routes and its ensembles. */
    public static ModelCommand setPlan(ServingPlan plan) {
        ModelCommand command = stamp(ModelCommandType.SET_PLAN, null, null, null, null, null);
        command.setPlan(plan);
        return command;
    }

    private static ModelCommand stamp(
            ModelCommandType type,
            String model,
            String version,
            String location,
            ModelRole role,
            Integer percent) {
        return ModelCommand.newBuilder()
                .setCommand(type)
                .setModel(model)
                .setVersion(version)
                .setLocation(location)
                .setRole(role)
                .setPercent(percent)
                .setId(UUID.randomUUID().toString())
                .setIssuedAt(System.currentTimeMillis())
                .setIssuedBy(System.getProperty("user.name"))
                .setSequence(nextSequence())
                .build();
    }

    private static final AtomicLong LAST_SEQUENCE = new AtomicLong();

    /**
     * The issue time in milliseconds, or one above the last sequence this JVM gave if that is not
     * lower: commands need no counter kept anywhere to be ordered, and two made in the same
     * millisecond keep their order.
     */
    static long nextSequence() {
        long now = System.currentTimeMillis();
        return LAST_SEQUENCE.updateAndGet(last -> Math.max(last + 1, now));
    }

    /**
     * {@code command} (a PUBLISH) carrying the version's manifest: jobs then refuse the version
     * unless the store holds exactly this manifest's file (its sha256), so a store changed after
     * publishing cannot slip another in.
     */
    public static ModelCommand withManifest(ModelCommand command, ModelManifest announced) {
        return ModelCommand.newBuilder(command)
                .setManifest(
                        new AnnouncedManifest(
                                announced.name(), announced.version(), announced.sha256()))
                .build();
    }

    /**
     * Reads a command; throws {@link InvalidCommandException} for anything that is not a
     * well-formed command.
     */
    public static ModelCommand fromJson(byte[] json) throws InvalidCommandException {
        JsonNode tree;
        try {
            tree = ControlJson.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidCommandException("not a model command: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidCommandException("not a model command: " + e.getMessage());
        }
        return fromTree(tree);
    }

    /** Reads a command already parsed as JSON (by a reader that refused a key given twice). */
    static ModelCommand fromTree(JsonNode tree) throws InvalidCommandException {
        ModelCommand command;
        try {
            command =
                    tree == null || tree.isMissingNode()
                            ? null
                            : ControlJson.MAPPER.treeToValue(tree, ModelCommand.class);
            if (command != null && command.getPlan() != null) {
                command.setPlan(
                        ServingPlans.fromTree(
                                tree.get("plan"))); // the schema's defaults for absent fields
            }
        } catch (JsonProcessingException e) {
            throw new InvalidCommandException("not a model command: " + e.getOriginalMessage());
        }
        if (command == null) {
            throw new InvalidCommandException("not a model command: empty");
        }
        validate(command);
        return command;
    }

    public static byte[] toJson(ModelCommand command) {
        try {
            return ControlJson.MAPPER.writeValueAsBytes(command);
        } catch (IOException e) {
            throw new IllegalStateException("a command always serializes", e);
        }
    }

    /** Checks the fields each command type needs. */
    public static void validate(ModelCommand c) throws InvalidCommandException {
        if (c.getCommand() == null) {
            throw new InvalidCommandException(
                    "'command' is missing: one of PUBLISH, SET_CANARY, SET_SHADOW, PROMOTE,"
                            + " ROLLBACK, RETIRE, SET_PLAN");
        }
        if (c.getCommand() == ModelCommandType.SET_PLAN) {
            require(c.getSequence() == null || c.getSequence() > 0, "'sequence' must be positive");
            require(c.getPlan() != null, "SET_PLAN needs 'plan'");
            require(
                    c.getModel() == null && c.getVersion() == null,
                    "SET_PLAN names no 'model' or 'version':" + " the plan names its models");
            c.setPlan(ServingPlans.normalize(c.getPlan()));
            ServingPlans.validate(c.getPlan());
            return;
        }
        require(c.getPlan() == null, c.getCommand() + " takes no 'plan'");
        require(c.getSequence() == null || c.getSequence() > 0, "'sequence' must be positive");
        String model = c.getModel();
        String version = c.getVersion();
        require(model != null && !model.isBlank(), "'model' is missing");
        require(
                ManifestNames.SAFE_NAME.matcher(model).matches(),
                "'model' must be " + ManifestNames.SAFE_NAME_RULE);
        require(
                version == null || ManifestNames.SAFE_NAME.matcher(version).matches(),
                "'version' must be " + ManifestNames.SAFE_NAME_RULE);
        switch (c.getCommand()) {
            case PUBLISH -> {
                requireVersion(c);
                require(
                        c.getLocation() != null && !c.getLocation().isBlank(),
                        "PUBLISH needs 'location' (the manifest's URI)");
                if (c.getRole() == ModelRole.CANARY) {
                    requirePercent(c, 1);
                }
                AnnouncedManifest m = c.getManifest();
                require(
                        m == null || (model.equals(m.getName()) && version.equals(m.getVersion())),
                        "the announced manifest describes "
                                + (m == null ? "" : m.getName() + ":" + m.getVersion())
                                + ", not "
                                + model
                                + ":"
                                + version);
                require(
                        m == null
                                || (m.getSha256() != null && m.getSha256().matches("[0-9a-f]{64}")),
                        "the announced manifest's sha256 must be 64 lower-case hex digits");
            }
            case SET_CANARY -> {
                requireVersion(c);
                requirePercent(c, 0);
            }
            case RETIRE -> requireVersion(c);
            default -> {}
        }
    }

    private static void requireVersion(ModelCommand c) throws InvalidCommandException {
        require(
                c.getVersion() != null && !c.getVersion().isBlank(),
                c.getCommand() + " needs 'version'");
    }

    private static void requirePercent(ModelCommand c, int min) throws InvalidCommandException {
        Integer percent = c.getPercent();
        require(
                percent != null && percent >= min && percent <= 100,
                c.getCommand() + " needs 'percent' between " + min + " and 100, got " + percent);
    }

    private static void require(boolean condition, String message) throws InvalidCommandException {
        if (!condition) {
            throw new InvalidCommandException(message);
        }
    }

    /** A short description for logs and events, e.g. {@code PUBLISH churn:3 as CANARY 10%}. */
    public static String describe(ModelCommand c) {
        if (c.getCommand() == ModelCommandType.SET_PLAN) {
            return "SET_PLAN "
                    + (c.getPlan() == null
                            ? ""
                            : UntrustedText.escape(ServingPlans.describe(c.getPlan()), 400));
        }
        StringBuilder s =
                new StringBuilder().append(c.getCommand()).append(' ').append(c.getModel());
        if (c.getVersion() != null) {
            s.append(':').append(c.getVersion());
        }
        if (c.getRole() != null) {
            s.append(" as ").append(c.getRole());
        }
        if (c.getPercent() != null) {
            s.append(' ').append(c.getPercent()).append('%');
        }
        return s.toString();
    }
}
