package org.streaminference.model.control;

import org.streaminference.model.ModelLocations;
import org.streaminference.schemas.DeploymentState;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelRole;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.util.Preconditions;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What one model name serves: the active version, the previous one (kept loaded for an instant
 * rollback), an optional canary that takes a percentage of entities, and an optional shadow that
 * scores every record on the side. At most these four versions are loaded per model. Commands turn
 * one deployment into the next without loading anything; the operator loads the versions a new
 * deployment needs before it routes a record to it.
 *
 * <p>Made by {@link #initial}, by {@link #apply} from a command, or with {@link #builder} (a
 * restore, a test).
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public final class ModelDeployment implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * Registered versions remembered per model; the oldest ones without a role are forgotten beyond
     * this.
     */
    public static final int MAX_REGISTERED = 64;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String model;
    private final String active;
    private final String previous;
    private final String canary;
    private final int canaryPercent;
    private final String shadow;
    private final Map<String, String> locations;
    private final long revision;

    @JsonCreator
    private ModelDeployment(
            @JsonProperty("model") String model,
            @JsonProperty("active") String active,
            @JsonProperty("previous") String previous,
            @JsonProperty("canary") String canary,
            @JsonProperty("canaryPercent") int canaryPercent,
            @JsonProperty("shadow") String shadow,
            @JsonProperty("locations") Map<String, String> locations,
            @JsonProperty("revision") long revision) {
        this.model = Preconditions.checkNotNull(model, "model");
        this.active = Preconditions.checkNotNull(active, "active");
        Preconditions.checkArgument(
                canaryPercent >= 0 && canaryPercent <= 100,
                "canaryPercent must be between 0 and 100, got %s",
                canaryPercent);
        Preconditions.checkArgument(
                (canary == null) == (canaryPercent == 0),
                "a canary takes a share of entities above 0, and a share needs a canary");
        this.previous = previous;
        this.canary = canary;
        this.canaryPercent = canaryPercent;
        this.shadow = shadow;
        this.locations =
                locations == null
                        ? Map.of()
                        : Collections.unmodifiableMap(new LinkedHashMap<>(locations));
        this.revision = revision;
    }

    /** A model serving one version. */
    public static ModelDeployment initial(String model, String version, String location) {
        return builder(model, version).location(version, location).build();
    }

    /** A deployment of {@code model} serving {@code active}, to be completed. */
    public static Builder builder(String model, String active) {
        return new Builder(model, active);
    }

    /** The model's name. */
    @JsonProperty("model")
    public String model() {
        return model;
    }

    /** The version that answers for every entity outside the canary's share. */
    @JsonProperty("active")
    public String active() {
        return active;
    }

    /** The version active before, kept loaded for an instant rollback; null for none. */
    @JsonProperty("previous")
    public String previous() {
        return previous;
    }

    /** The version that answers for {@link #canaryPercent()} of entities; null for none. */
    @JsonProperty("canary")
    public String canary() {
        return canary;
    }

    @JsonProperty("canaryPercent")
    public int canaryPercent() {
        return canaryPercent;
    }

    /** The version that scores every record on the side; null for none. */
    @JsonProperty("shadow")
    public String shadow() {
        return shadow;
    }

    /**
     * Manifest location of every registered version, oldest first (bounded, see {@link
     * #MAX_REGISTERED}).
     */
    @JsonProperty("locations")
    public Map<String, String> locations() {
        return locations;
    }

    /** Number of commands applied, for logs and the CLI. */
    @JsonProperty("revision")
    public long revision() {
        return revision;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelDeployment d
                && model.equals(d.model)
                && active.equals(d.active)
                && Objects.equals(previous, d.previous)
                && Objects.equals(canary, d.canary)
                && canaryPercent == d.canaryPercent
                && Objects.equals(shadow, d.shadow)
                && locations.equals(d.locations)
                && revision == d.revision;
    }

    @Override
    public int hashCode() {
        return Objects.hash(
                model, active, previous, canary, canaryPercent, shadow, locations, revision);
    }

    @Override
    public String toString() {
        return describe() + ", revision " + revision + ", locations " + locations;
    }

    /**
     * The deployment after {@code command}; throws {@link InvalidCommandException} when the command
     * cannot apply (an unknown version, no canary to promote, retiring the active version, ...).
     */
    public ModelDeployment apply(ModelCommand command) throws InvalidCommandException {
        ModelCommands.validate(command);
        if (!command.getModel().equals(model)) {
            throw new InvalidCommandException(
                    "command for model '" + command.getModel() + "' sent to '" + model + "'");
        }
        String version = command.getVersion();
        Transition next = new Transition(this);
        switch (command.getCommand()) {
            case PUBLISH -> {
                String known = locations.get(version);
                if (known != null && !ModelLocations.same(known, command.getLocation())) {
                    throw new InvalidCommandException(
                            model
                                    + ":"
                                    + version
                                    + " is already registered at "
                                    + known
                                    + "; versions are immutable, publish a new version instead");
                }
                next.locations.put(version, known != null ? known : command.getLocation());
                ModelRole role = command.getRole() == null ? ModelRole.ACTIVE : command.getRole();
                switch (role) {
                    case ACTIVE -> next.activate(version);
                    case CANARY -> next.canary(version, command.getPercent());
                    case SHADOW -> next.shadow(version);
                }
            }
            case SET_CANARY -> {
                if (command.getPercent() == 0) {
                    next.canary = null;
                    next.canaryPercent = 0;
                } else {
                    next.canary(requireRegistered(version), command.getPercent());
                }
            }
            case SET_SHADOW -> {
                if (version == null) {
                    next.shadow = null;
                } else {
                    next.shadow(requireRegistered(version));
                }
            }
            case PROMOTE -> {
                if (canary == null) {
                    throw new InvalidCommandException(model + " has no canary to promote");
                }
                next.activate(canary);
            }
            case ROLLBACK -> {
                if (previous == null) {
                    throw new InvalidCommandException(
                            model + " has no previous version to roll back to");
                }
                if (version != null && !version.equals(previous)) {
                    throw new InvalidCommandException(
                            "ROLLBACK names "
                                    + model
                                    + ":"
                                    + version
                                    + ", but the"
                                    + " previous version is "
                                    + previous
                                    + "; only the previous version can be rolled back to");
                }
                next.active = previous;
                next.previous = null;
                if (previous.equals(next.shadow)) {
                    next.shadow = null;
                }
                if (previous.equals(next.canary)) {
                    next.canary = null;
                    next.canaryPercent = 0;
                }
            }
            case RETIRE -> {
                requireRegistered(version);
                if (version.equals(active)) {
                    throw new InvalidCommandException(
                            model
                                    + ":"
                                    + version
                                    + " is active; roll back or publish"
                                    + " another version before retiring it");
                }
                next.locations.remove(version);
                if (version.equals(next.previous)) {
                    next.previous = null;
                }
                if (version.equals(next.canary)) {
                    next.canary = null;
                    next.canaryPercent = 0;
                }
                if (version.equals(next.shadow)) {
                    next.shadow = null;
                }
            }
        }
        return next.build();
    }

    private String requireRegistered(String version) throws InvalidCommandException {
        if (!locations.containsKey(version)) {
            throw new InvalidCommandException(
                    model
                            + ":"
                            + version
                            + " is not registered; publish it first"
                            + " (registered: "
                            + locations.keySet()
                            + ")");
        }
        return version;
    }

    /** The versions this deployment needs loaded: active, previous, canary and shadow. */
    @JsonIgnore
    public Set<String> servedVersions() {
        Set<String> versions = new LinkedHashSet<>();
        versions.add(active);
        for (String v : new String[] {previous, canary, shadow}) {
            if (v != null) {
                versions.add(v);
            }
        }
        return versions;
    }

    public String location(String version) {
        return locations.get(version);
    }

    /** This deployment as model events carry it. */
    public DeploymentState toState() {
        return new DeploymentState(
                model,
                active,
                previous,
                canary,
                canaryPercent,
                shadow,
                new HashMap<>(locations),
                revision);
    }

    /** The deployment a model event carries. */
    public static ModelDeployment fromState(DeploymentState state) {
        return builder(state.getModel(), state.getActive())
                .previous(state.getPrevious())
                .canary(state.getCanary(), state.getCanaryPercent())
                .shadow(state.getShadow())
                .locations(state.getLocations())
                .revision(state.getRevision())
                .build();
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("a deployment always serializes", e);
        }
    }

    public static ModelDeployment fromJson(String json) {
        try {
            return JSON.readValue(json.getBytes(StandardCharsets.UTF_8), ModelDeployment.class);
        } catch (IOException e) {
            throw new IllegalStateException("unreadable model deployment in state: " + json, e);
        }
    }

    /** E.g. {@code churn: active 3, previous 2, canary 4 (10%), shadow 5}. */
    public String describe() {
        StringBuilder s = new StringBuilder(model).append(": active ").append(active);
        if (previous != null) {
            s.append(", previous ").append(previous);
        }
        if (canary != null) {
            s.append(", canary ").append(canary).append(" (").append(canaryPercent).append("%)");
        }
        if (shadow != null) {
            s.append(", shadow ").append(shadow);
        }
        return s.toString();
    }

    /** Builds a {@link ModelDeployment} field by field; {@link #build()} checks it. */
    @PublicEvolving
    public static final class Builder {
        private final String model;
        private final String active;
        private String previous;
        private String canary;
        private int canaryPercent;
        private String shadow;
        private final LinkedHashMap<String, String> locations = new LinkedHashMap<>();
        private long revision;

        private Builder(String model, String active) {
            this.model = model;
            this.active = active;
        }

        public Builder previous(String version) {
            this.previous = version;
            return this;
        }

        /** {@code version} answers for {@code percent} of entities; null and 0 for no canary. */
        public Builder canary(String version, int percent) {
            this.canary = version;
            this.canaryPercent = percent;
            return this;
        }

        public Builder shadow(String version) {
            this.shadow = version;
            return this;
        }

        /** Registers {@code version}'s manifest location. */
        public Builder location(String version, String location) {
            locations.put(version, location);
            return this;
        }

        public Builder locations(Map<String, String> byVersion) {
            locations.putAll(byVersion);
            return this;
        }

        public Builder revision(long revision) {
            this.revision = revision;
            return this;
        }

        /**
         * @throws IllegalArgumentException or NullPointerException naming what is wrong
         */
        public ModelDeployment build() {
            return new ModelDeployment(
                    model, active, previous, canary, canaryPercent, shadow, locations, revision);
        }
    }

    /** One command's change to a deployment: the rules of each command, applied to a copy. */
    private static final class Transition {
        final String model;
        String active;
        String previous;
        String canary;
        int canaryPercent;
        String shadow;
        final LinkedHashMap<String, String> locations;
        final long revision;

        Transition(ModelDeployment d) {
            model = d.model;
            active = d.active;
            previous = d.previous;
            canary = d.canary;
            canaryPercent = d.canaryPercent;
            shadow = d.shadow;
            locations = new LinkedHashMap<>(d.locations);
            revision = d.revision + 1;
        }

        void activate(String version) {
            if (!version.equals(active)) {
                previous = active;
                active = version;
            }
            if (version.equals(canary)) {
                canary = null;
                canaryPercent = 0;
            }
            if (version.equals(shadow)) {
                shadow = null;
            }
        }

        void canary(String version, int percent) throws InvalidCommandException {
            if (version.equals(active)) {
                throw new InvalidCommandException(model + ":" + version + " is already active");
            }
            canary = version;
            canaryPercent = percent;
        }

        void shadow(String version) throws InvalidCommandException {
            if (version.equals(active)) {
                throw new InvalidCommandException(
                        model
                                + ":"
                                + version
                                + " is active; a shadow scores another"
                                + " version next to it");
            }
            shadow = version;
        }

        ModelDeployment build() {
            Set<String> roles = new LinkedHashSet<>();
            for (String v : new String[] {active, previous, canary, shadow}) {
                if (v != null) {
                    roles.add(v);
                }
            }
            for (Iterator<String> it = locations.keySet().iterator();
                    it.hasNext() && locations.size() > MAX_REGISTERED; ) {
                if (!roles.contains(it.next())) {
                    it.remove();
                }
            }
            return new ModelDeployment(
                    model, active, previous, canary, canaryPercent, shadow, locations, revision);
        }
    }
}
