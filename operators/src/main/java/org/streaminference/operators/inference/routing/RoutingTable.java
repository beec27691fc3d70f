package org.streaminference.operators.inference.routing;

import org.streaminference.model.control.ServingPlans;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Route;
import org.streaminference.schemas.ServingPlan;

import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link ServingPlan} made ready for the record path: which targets (models and ensembles) an
 * event goes to, found with a few hash lookups per route. Routes are tried in order; the first that
 * matches decides.
 */
@Internal
public final class RoutingTable {
    private final ServingPlan plan;
    private final List<CompiledRoute> routes = new ArrayList<>();
    private final Map<String, Ensemble> ensembles = new HashMap<>();
    private final Set<String> models;

    private record CompiledRoute(
            Set<String> eventTypes, String field, Set<String> values, List<String> to) {
        boolean matches(InputEvent event) {
            if (!eventTypes.isEmpty() && !eventTypes.contains(event.getEventType())) {
                return false;
            }
            if (field == null) {
                return true;
            }
            String value = event.getCategoricalFields().get(field);
            return value != null && values.contains(value);
        }
    }

    public RoutingTable(ServingPlan plan) {
        this.plan = plan;
        for (Route route : plan.getRoutes()) {
            routes.add(
                    new CompiledRoute(
                            new HashSet<>(route.getEventTypes()),
                            route.getField(),
                            new HashSet<>(route.getValues()),
                            List.copyOf(route.getTo())));
        }
        plan.getEnsembles().forEach(e -> ensembles.put(e.getName(), e));
        this.models = ServingPlans.servedModels(plan);
    }

    public ServingPlan plan() {
        return plan;
    }

    /** The models and ensembles {@code event} goes to, or null when no route matches it. */
    public List<String> targets(InputEvent event) {
        for (CompiledRoute route : routes) {
            if (route.matches(event)) {
                return route.to();
            }
        }
        return null;
    }

    /** The ensemble named {@code target}, or null where it is a model. */
    public Ensemble ensemble(String target) {
        return ensembles.get(target);
    }

    /** The models the plan serves. */
    public Set<String> models() {
        return models;
    }
}
