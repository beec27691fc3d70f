package org.streaminference.model.control;

import org.streaminference.model.ManifestNames;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.Route;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.UntrustedText;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

/**
 * Reading, checking and describing {@link ServingPlan}s: which models a job serves, the routes that
 * send each event to one or several of them, and the weighted ensembles. A plan comes from the
 * job's start configuration ({@code model.serving-plan}) and is replaced by SET_PLAN commands on
 * the control topic. In JSON (or YAML):
 *
 * <pre>{@code
 * {"routes": [{"eventTypes": ["purchase"], "to": ["fraud", "churn", "risk"]},
 *             {"field": "channel", "values": ["app"], "to": ["churn"]}],
 *  "ensembles": [{"name": "risk", "members": [{"model": "fraud", "weight": 3}, {"model": "churn", "weight": 1}]}]}
 * }</pre>
 */
@PublicEvolving
public final class ServingPlans {
    /** Limits that keep a hostile plan from costing the job more than a plan can be worth. */
    public static final int MAX_MODELS = 32;

    public static final int MAX_ROUTES = 256;
    public static final int MAX_ENSEMBLES = 32;
    public static final int MAX_MEMBERS = 16;
    public static final int MAX_VALUES = 1024;

    private ServingPlans() {}

    /**
     * The plan of a job that serves one model and sends it every event: what a job without a plan
     * serves.
     */
    public static ServingPlan single(String model) {
        return ServingPlan.newBuilder()
                .setModels(List.of(model))
                .setRoutes(List.of(Route.newBuilder().setTo(List.of(model)).build()))
                .setEnsembles(List.of())
                .build();
    }

    /**
     * Reads a plan from its JSON form; throws {@link InvalidCommandException} naming what is wrong.
     */
    public static ServingPlan fromJson(byte[] json) throws InvalidCommandException {
        JsonNode tree;
        try {
            tree = ControlJson.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new InvalidCommandException("not a serving plan: " + e.getMessage());
        }
        return fromTree(tree);
    }

    /**
     * Reads a plan from a parsed JSON (or YAML) tree, with the schema's defaults for absent fields.
     */
    public static ServingPlan fromTree(JsonNode tree) throws InvalidCommandException {
        if (tree == null || !tree.isObject()) {
            throw new InvalidCommandException(
                    "a serving plan is an object with 'routes', 'ensembles' and 'models'");
        }
        requireKnownFields(tree, ServingPlan.getClassSchema(), "the plan");
        for (JsonNode route : tree.path("routes")) {
            requireKnownFields(route, Route.getClassSchema(), "a route");
        }
        for (JsonNode ensemble : tree.path("ensembles")) {
            requireKnownFields(ensemble, Ensemble.getClassSchema(), "an ensemble");
            for (JsonNode member : ensemble.path("members")) {
                requireKnownFields(member, EnsembleMember.getClassSchema(), "an ensemble member");
            }
        }
        ServingPlan plan;
        try {
            plan = ControlJson.MAPPER.treeToValue(withDefaults(tree.deepCopy()), ServingPlan.class);
        } catch (JsonProcessingException e) {
            throw new InvalidCommandException("not a serving plan: " + e.getOriginalMessage());
        }
        plan = normalize(plan);
        validate(plan);
        return plan;
    }

    public static byte[] toJson(ServingPlan plan) {
        try {
            return ControlJson.MAPPER.writeValueAsBytes(plan);
        } catch (IOException e) {
            throw new IllegalStateException("a plan always serializes", e);
        }
    }

    /**
     * Refuses a field the schema does not have: a misspelt condition (say {@code eventType}) would
     * otherwise be left out, and the route would match every event.
     */
    private static void requireKnownFields(JsonNode node, Schema schema, String what)
            throws InvalidCommandException {
        if (!node.isObject()) {
            return; // the mapper names the wrong shape
        }
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (schema.getField(name) == null) {
                List<String> known = schema.getFields().stream().map(Schema.Field::name).toList();
                throw new InvalidCommandException(
                        "unknown field '"
                                + UntrustedText.escape(name, 80)
                                + "' in "
                                + what
                                + " (its fields: "
                                + String.join(", ", known)
                                + ")");
            }
        }
    }

    /** Ensemble members without a weight weigh 1 (a primitive field would otherwise read as 0). */
    private static JsonNode withDefaults(ObjectNode plan) {
        for (JsonNode ensemble : plan.path("ensembles")) {
            for (JsonNode member : ensemble.path("members")) {
                if (member instanceof ObjectNode m && !m.has("weight")) {
                    m.put("weight", 1.0);
                }
            }
        }
        return plan;
    }

    /**
     * {@code plan} with empty lists where JSON left them out (a command read by Jackson has nulls
     * where the Avro schema has defaults, and Avro cannot write a null list).
     */
    public static ServingPlan normalize(ServingPlan plan) {
        ServingPlan p = ServingPlan.newBuilder(plan).build();
        p.setModels(orEmpty(p.getModels()));
        p.setRoutes(orEmpty(p.getRoutes()));
        p.setEnsembles(orEmpty(p.getEnsembles()));
        for (Route route : p.getRoutes()) {
            route.setEventTypes(orEmpty(route.getEventTypes()));
            route.setValues(orEmpty(route.getValues()));
            route.setTo(orEmpty(route.getTo()));
        }
        for (Ensemble ensemble : p.getEnsembles()) {
            ensemble.setMembers(orEmpty(ensemble.getMembers()));
        }
        return p;
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? new ArrayList<>() : list;
    }

    /** Checks names, references and limits; the message names the first problem. */
    public static void validate(ServingPlan plan) throws InvalidCommandException {
        require(plan.getRoutes().size() <= MAX_ROUTES, "at most " + MAX_ROUTES + " routes");
        require(
                plan.getEnsembles().size() <= MAX_ENSEMBLES,
                "at most " + MAX_ENSEMBLES + " ensembles");
        Set<String> ensembles = new HashSet<>();
        for (Ensemble ensemble : plan.getEnsembles()) {
            safe(ensemble.getName(), "an ensemble's 'name'");
            require(
                    ensembles.add(ensemble.getName()),
                    "two ensembles are named '" + ensemble.getName() + "'");
            List<EnsembleMember> members = ensemble.getMembers();
            require(
                    !members.isEmpty() && members.size() <= MAX_MEMBERS,
                    "ensemble '"
                            + ensemble.getName()
                            + "' needs 1 to "
                            + MAX_MEMBERS
                            + " members, has "
                            + members.size());
            Set<String> seen = new HashSet<>();
            for (EnsembleMember member : members) {
                safe(
                        member.getModel(),
                        "a member's 'model' in ensemble '" + ensemble.getName() + "'");
                if (member.getVersion() != null) {
                    safe(
                            member.getVersion(),
                            "a member's 'version' in ensemble '" + ensemble.getName() + "'");
                }
                require(
                        seen.add(member.getModel() + ":" + member.getVersion()),
                        "ensemble '"
                                + ensemble.getName()
                                + "' names "
                                + memberName(member)
                                + " twice");
                require(
                        Double.isFinite(member.getWeight()) && member.getWeight() > 0,
                        "the weight of "
                                + memberName(member)
                                + " in ensemble '"
                                + ensemble.getName()
                                + "' must be a finite number above 0, got "
                                + member.getWeight());
            }
        }
        for (Ensemble ensemble : plan.getEnsembles()) {
            for (EnsembleMember member : ensemble.getMembers()) {
                require(
                        !ensembles.contains(member.getModel()),
                        "ensemble '"
                                + ensemble.getName()
                                + "' names ensemble '"
                                + member.getModel()
                                + "' as a member: members are models");
            }
        }
        for (String model : plan.getModels()) {
            safe(model, "a name in 'models'");
            require(!ensembles.contains(model), "'" + model + "' is both a model and an ensemble");
        }
        for (Route route : plan.getRoutes()) {
            require(
                    !route.getTo().isEmpty(),
                    "a route needs 'to': the models or ensembles it sends events to");
            require(
                    new HashSet<>(route.getTo()).size() == route.getTo().size(),
                    "a route names a target twice: " + route.getTo());
            for (String target : route.getTo()) {
                safe(target, "a route's target");
            }
            require(
                    route.getEventTypes().size() <= MAX_VALUES
                            && route.getValues().size() <= MAX_VALUES,
                    "a route lists at most " + MAX_VALUES + " event types and values");
            require(
                    route.getField() == null
                            || (!route.getField().isBlank() && route.getField().length() <= 128),
                    "a route's 'field' is a field name of 1 to 128 characters");
            require(
                    (route.getField() == null) == route.getValues().isEmpty(),
                    "a route's 'field' and 'values' go together: the field must carry one of the values");
        }
        int models = servedModels(plan).size();
        require(
                models <= MAX_MODELS,
                "at most " + MAX_MODELS + " models, the plan names " + models);
    }

    /**
     * The models {@code plan} serves: those it lists, routes to and uses in ensembles, in that
     * order.
     */
    public static Set<String> servedModels(ServingPlan plan) {
        Set<String> ensembles = new HashSet<>();
        plan.getEnsembles().forEach(e -> ensembles.add(e.getName()));
        Set<String> models = new LinkedHashSet<>(plan.getModels());
        for (Route route : plan.getRoutes()) {
            for (String target : route.getTo()) {
                if (!ensembles.contains(target)) {
                    models.add(target);
                }
            }
        }
        plan.getEnsembles().forEach(e -> e.getMembers().forEach(m -> models.add(m.getModel())));
        return models;
    }

    /**
     * A one-line description, e.g. {@code purchase -> fraud, risk; * -> churn; risk = 3*fraud +
     * 1*churn}.
     */
    public static String describe(ServingPlan plan) {
        StringJoiner s = new StringJoiner("; ");
        for (Route route : plan.getRoutes()) {
            StringBuilder r = new StringBuilder();
            r.append(
                    route.getEventTypes().isEmpty()
                            ? "*"
                            : String.join("|", route.getEventTypes()));
            if (route.getField() != null) {
                r.append(" with ")
                        .append(route.getField())
                        .append(" in ")
                        .append(route.getValues());
            }
            s.add(r.append(" -> ").append(String.join(", ", route.getTo())));
        }
        for (Ensemble ensemble : plan.getEnsembles()) {
            StringJoiner members = new StringJoiner(" + ");
            ensemble.getMembers()
                    .forEach(m -> members.add(weight(m.getWeight()) + "*" + memberName(m)));
            s.add(ensemble.getName() + " = " + members);
        }
        Set<String> routed =
                servedModels(ServingPlan.newBuilder(plan).setModels(List.of()).build());
        for (String model : plan.getModels()) {
            if (!routed.contains(model)) {
                s.add(model + " (no route)");
            }
        }
        return s.toString();
    }

    /** {@code model} or {@code model:version}. */
    public static String memberName(EnsembleMember member) {
        return member.getVersion() == null
                ? member.getModel()
                : member.getModel() + ":" + member.getVersion();
    }

    private static String weight(double w) {
        return w == Math.rint(w) && Math.abs(w) < 1e15
                ? Long.toString((long) w)
                : Double.toString(w);
    }

    private static void safe(String name, String what) throws InvalidCommandException {
        require(
                name != null && ManifestNames.SAFE_NAME.matcher(name).matches(),
                what
                        + " must be "
                        + ManifestNames.SAFE_NAME_RULE
                        + ", got "
                        + (name == null ? "nothing" : "'" + UntrustedText.escape(name, 80) + "'"));
    }

    private static void require(boolean condition, String message) throws InvalidCommandException {
        if (!condition) {
            throw new InvalidCommandException(message);
        }
    }
}
