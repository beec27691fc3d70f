package org.streaminference.model.control;

import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The order of the commands a job accepted, kept in its checkpointed state so that a command is
 * obeyed once and never after a newer one: the last sequence accepted for each model (and, apart,
 * for the serving plan), the ids of the commands accepted lately, and the time of the job's
 * configuration, before which no command is obeyed by a job started without state. Every inference
 * subtask sees the same commands in the same order, so all decide alike.
 *
 * <ul>
 *   <li>{@code REPLAYED}: a command accepted before, sent again;
 *   <li>{@code OUT_OF_ORDER}: a sequence not above the last accepted for its model or plan (an
 *       older command, or one overtaken by a newer);
 *   <li>{@code STALE}: issued before the job's configuration.
 * </ul>
 *
 * <p>Unsigned commands without a sequence (hand-written ones, where {@code model.allow-unsigned}
 * lets them in) are not ordered.
 */
@Internal
public final class CommandOrder {
    /** Ids of accepted commands remembered for REPLAYED; older replays are still OUT_OF_ORDER. */
    static final int REMEMBERED_IDS = 1024;

    /** Why a command is refused. */
    public record Refusal(String reason, String message) {}

    private final long notBefore;
    private final Map<String, Long> lastSequence;
    private final LinkedHashSet<String> acceptedIds;

    @JsonCreator
    CommandOrder(
            @JsonProperty("notBefore") long notBefore,
            @JsonProperty("lastSequence") Map<String, Long> lastSequence,
            @JsonProperty("acceptedIds") List<String> acceptedIds) {
        this.notBefore = notBefore;
        this.lastSequence = new LinkedHashMap<>(lastSequence == null ? Map.of() : lastSequence);
        this.acceptedIds = new LinkedHashSet<>(acceptedIds == null ? List.of() : acceptedIds);
    }

    /**
     * A job's order before its first command: commands issued before {@code configurationTime} are
     * STALE.
     */
    public static CommandOrder startingAt(long configurationTime) {
        return new CommandOrder(configurationTime, Map.of(), List.of());
    }

    /** Why {@code command} may not be obeyed now, or null where it may. */
    public Refusal check(ModelCommand command) {
        if (command.getId() != null && acceptedIds.contains(command.getId())) {
            return new Refusal(
                    "REPLAYED",
                    "command "
                            + command.getId()
                            + " was accepted before; a command is obeyed"
                            + " once");
        }
        if (command.getIssuedAt() != null && command.getIssuedAt() < notBefore) {
            return new Refusal(
                    "STALE",
                    "issued at "
                            + Instant.ofEpochMilli(command.getIssuedAt())
                            + ", before this"
                            + " job's configuration ("
                            + Instant.ofEpochMilli(notBefore)
                            + "): a job started without state"
                            + " serves its configuration and the commands issued after it (model.configuration-time)");
        }
        Long sequence = command.getSequence();
        Long last = lastSequence.get(scope(command));
        if (sequence != null && last != null && sequence <= last) {
            return new Refusal(
                    "OUT_OF_ORDER",
                    "sequence "
                            + sequence
                            + " is not above "
                            + last
                            + ", the last"
                            + " accepted for "
                            + describeScope(command)
                            + "; a newer command was obeyed already");
        }
        return null;
    }

    /**
     * Records {@code command} as obeyed: later commands of its model or plan must have a higher
     * sequence.
     */
    public void accept(ModelCommand command) {
        if (command.getSequence() != null) {
            lastSequence.merge(scope(command), command.getSequence(), Math::max);
        }
        if (command.getId() != null) {
            acceptedIds.remove(command.getId());
            acceptedIds.add(command.getId());
            if (acceptedIds.size() > REMEMBERED_IDS) {
                acceptedIds.remove(acceptedIds.iterator().next());
            }
        }
    }

    /**
     * The last sequence accepted for {@code model}, or for the plan where {@code model} is null;
     * null for none.
     */
    public Long lastSequence(String model) {
        return lastSequence.get(model == null ? "plan" : "model/" + model);
    }

    private static String scope(ModelCommand command) {
        return command.getCommand() == ModelCommandType.SET_PLAN
                ? "plan"
                : "model/" + command.getModel();
    }

    private static String describeScope(ModelCommand command) {
        return command.getCommand() == ModelCommandType.SET_PLAN
                ? "the serving plan"
                : "'" + command.getModel() + "'";
    }

    @JsonProperty("notBefore")
    long notBefore() {
        return notBefore;
    }

    @JsonProperty("lastSequence")
    Map<String, Long> lastSequences() {
        return lastSequence;
    }

    @JsonProperty("acceptedIds")
    List<String> acceptedIds() {
        return new ArrayList<>(acceptedIds);
    }

    public String toJson() {
        try {
            return ControlJson.MAPPER.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("the command order always serializes", e);
        }
    }

    public static CommandOrder fromJson(String json) throws IOException {
        return ControlJson.MAPPER.readValue(json, CommandOrder.class);
    }
}
