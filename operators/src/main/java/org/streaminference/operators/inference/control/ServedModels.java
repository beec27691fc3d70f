package org.streaminference.operators.inference.control;

import org.streaminference.model.InferenceModel;
import org.streaminference.model.control.CommandOrder;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.routing.EnsembleCompatibility;
import org.streaminference.operators.inference.routing.RoutingTable;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.RejectedCommand;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.UntrustedText;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every model one inference subtask serves, and the serving plan that says which of them each event
 * reaches: one {@link ModelController} per model, so that a model's slow load holds back only that
 * model's commands. Every command is first checked against the order of those accepted before
 * ({@link CommandOrder}: REPLAYED, OUT_OF_ORDER, STALE). SET_PLAN commands take effect at once:
 * models the new plan names start with no version (their first PUBLISH brings one), or, if an
 * earlier plan served them, with the deployment they had then (loaded again, on the loader thread);
 * models it no longer names stop taking records, drain and are released, and their deployments are
 * kept for a plan that brings them back. A command for a model the plan does not name is answered
 * REJECTED with reason {@code UNKNOWN_MODEL}. Task thread only.
 */
@Internal
public final class ServedModels implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServedModels.class);

    private final ModelController.Host host;
    private final ModelControlLimits limits;
    private final ModelController.Reporter reporter;
    private final Counter deployments;
    private final Counter rejectedCommands;
    private final Map<String, ModelController> controllers = new LinkedHashMap<>();

    /** Controllers of models the plan dropped, until their last version is released. */
    private final List<ModelController> retired = new ArrayList<>();

    private RoutingTable routes;

    /** The order of the commands accepted so far; checkpointed. */
    private CommandOrder order;

    /**
     * The deployments of models an earlier plan served and the current one does not; checkpointed.
     */
    private final Map<String, ModelDeployment> parked = new LinkedHashMap<>();

    public ServedModels(
            ModelController.Host host,
            ModelControlLimits limits,
            ModelController.Reporter reporter,
            MetricGroup metrics) {
        this.host = host;
        this.limits = limits;
        this.reporter = reporter;
        this.deployments = metrics.counter("modelDeployments");
        this.rejectedCommands = metrics.counter("modelCommandsRejected");
        this.order = CommandOrder.startingAt(limits.configurationTime());
        metrics.gauge(
                "modelVersionsLoaded",
                () -> {
                    int n = 0;
                    for (ModelController c : controllers.values()) {
                        n += c.versions().count();
                    }
                    for (ModelController c : retired) {
                        n += c.versions().count();
                    }
                    return n;
                });
    }

    /**
     * Starts serving: after a restore, the plan and deployments of the checkpoint; otherwise {@code
     * plan} (or, where the job has none, a plan that sends every event to the one starting model)
     * with the {@code initial} versions, one per model; the plan's other models serve from their
     * first PUBLISH.
     *
     * @param initial the job's starting versions, loaded, by location; empty after a restore
     * @throws IllegalStateException when the starting versions are not one per model of the plan,
     *     or a restored active version cannot be loaded again
     */
    public void start(
            Map<String, ModelProvider.Handle> initial,
            ServingPlan plan,
            Map<String, ModelDeployment> restored)
            throws Exception {
        if (restored == null) {
            Map<String, Map.Entry<String, ModelProvider.Handle>> byModel = new LinkedHashMap<>();
            for (Map.Entry<String, ModelProvider.Handle> version : initial.entrySet()) {
                byModel.put(version.getValue().model().manifest().name(), version);
            }
            ServingPlan first =
                    plan == null && byModel.size() == 1
                            ? ServingPlans.single(byModel.keySet().iterator().next())
                            : plan;
            String problem =
                    byModel.size() < initial.size()
                            ? "the starting versions name a model twice"
                            : first == null
                                    ? "several starting models "
                                            + byModel.keySet()
                                            + " and no serving plan"
                                    : !ServingPlans.servedModels(first)
                                                    .containsAll(byModel.keySet())
                                            ? "the starting models "
                                                    + byModel.keySet()
                                                    + " are not all served by the plan, which serves "
                                                    + ServingPlans.servedModels(first)
                                            : null;
            if (problem != null) {
                for (ModelProvider.Handle handle : initial.values()) {
                    handle.close();
                }
                throw new IllegalStateException("Cannot start: " + problem);
            }
            routes = new RoutingTable(first);
            for (String served : routes.models()) {
                Map.Entry<String, ModelProvider.Handle> version = byModel.get(served);
                controller(served)
                        .start(
                                version == null ? null : version.getValue(),
                                version == null ? null : version.getKey(),
                                null);
            }
            String mismatch = ensembleProblem(first, null, Map.of());
            if (mismatch != null) {
                throw new IllegalStateException("Cannot start: " + mismatch);
            }
        } else {
            routes = new RoutingTable(plan);
            for (String served : routes.models()) {
                controller(served).start(null, null, restored.get(served));
            }
            String mismatch = ensembleProblem(plan, null, Map.of());
            if (mismatch != null) {
                // state an earlier release accepted: served as it was, each such event a dead
                // letter saying why
                LOG.warn(
                        "{}: the restored serving plan has an ensemble whose members cannot be combined: {}",
                        reporter.name(),
                        UntrustedText.escape(mismatch, 1000));
            }
        }
    }

    /**
     * Takes the command order and the deployments of models out of the plan from a checkpoint;
     * before {@link #start}. A checkpoint of an earlier release holds no order: every command after
     * it is accepted.
     */
    public void restoreControlState(
            CommandOrder restoredOrder, Map<String, ModelDeployment> restoredParked) {
        this.order = restoredOrder == null ? CommandOrder.startingAt(0) : restoredOrder;
        parked.putAll(restoredParked);
    }

    /** The order of the commands accepted so far, for a checkpoint. */
    public CommandOrder order() {
        return order;
    }

    /**
     * The deployments of models the plan no longer serves, kept for a plan that serves them again.
     */
    public Map<String, ModelDeployment> parked() {
        return new LinkedHashMap<>(parked);
    }

    private ModelController controller(String model) {
        return controllers.computeIfAbsent(
                model,
                m ->
                        new ModelController(
                                host,
                                m,
                                limits,
                                new ModelController.Reporter(
                                        reporter.job(),
                                        reporter.jobId(),
                                        reporter.subtask(),
                                        reporter.name() + " [" + m + "]"),
                                deployments,
                                rejectedCommands,
                                (changed, answering) ->
                                        ensembleProblem(routes.plan(), changed, answering)));
    }

    /**
     * Why {@code plan}'s ensembles cannot combine the versions that would answer for their members,
     * where {@code changed} would answer with {@code answering} and every other model with what it
     * serves now; null where they can. Members without a version yet are checked when one comes.
     */
    private String ensembleProblem(
            ServingPlan plan, String changed, Map<String, InferenceModel> answering) {
        for (Ensemble ensemble : plan.getEnsembles()) {
            List<EnsembleCompatibility.Member> members = new ArrayList<>();
            for (EnsembleMember member : ensemble.getMembers()) {
                ModelController controller = controllers.get(member.getModel());
                Map<String, InferenceModel> versions =
                        member.getModel().equals(changed)
                                ? answering
                                : controller == null ? Map.of() : controller.answering();
                versions.forEach(
                        (version, model) -> {
                            if (member.getVersion() == null
                                    || member.getVersion().equals(version)) {
                                members.add(
                                        new EnsembleCompatibility.Member(
                                                member.getModel() + ":" + version,
                                                model.answerContract()));
                            }
                        });
            }
            String problem = EnsembleCompatibility.problem(ensemble.getName(), members);
            if (problem != null) {
                return problem;
            }
        }
        return null;
    }

    /** The routes and ensembles served now. */
    public RoutingTable routes() {
        return routes;
    }

    /** The controller of {@code model}, or null where the plan does not serve it. */
    public ModelController model(String model) {
        return controllers.get(model);
    }

    /** The plan served now. */
    public ServingPlan plan() {
        return routes.plan();
    }

    /**
     * Each served model's deployment (or the one being brought back, for a model the plan serves
     * again); models without a version yet are left out.
     */
    public Map<String, ModelDeployment> deployments() {
        Map<String, ModelDeployment> all = new LinkedHashMap<>();
        controllers.forEach(
                (name, c) -> {
                    ModelDeployment deployment =
                            c.deployment() != null ? c.deployment() : c.reinstating();
                    if (deployment != null) {
                        all.put(name, deployment);
                    }
                });
        return all;
    }

    /**
     * Commands received and not applied yet, model by model, each model's in order: what a
     * checkpoint keeps.
     */
    public List<ModelCommand> pendingCommands() {
        List<ModelCommand> all = new ArrayList<>();
        controllers.values().forEach(c -> all.addAll(c.pendingCommands()));
        return all;
    }

    /** Goes on with the commands that waited at the checkpoint, before any new one. */
    public void resume(List<ControlMessage> restoredCommands) throws Exception {
        for (ControlMessage message : restoredCommands) {
            ModelCommand command = message.getCommand();
            ModelController controller =
                    command == null || command.getModel() == null
                            ? null
                            : controllers.get(command.getModel());
            if (controller != null && message.getRejection() == null) {
                controller.restore(command);
            } else if (message.getRejection() != null || command == null) {
                receive(message);
            } else {
                dispatch(message); // accepted before the checkpoint
            }
        }
        advance();
    }

    /**
     * Takes a record of the control input: answers one the source refused, refuses a command out of
     * order, and passes the others to their model (or applies a plan).
     */
    public void receive(ControlMessage message) throws Exception {
        ModelCommand command = message.getCommand();
        RejectedCommand rejection = message.getRejection();
        if (rejection != null || command == null) {
            rejected(
                    command,
                    command != null
                            ? ModelCommands.describe(command)
                            : rejection == null ? "" : rejection.getExcerpt(),
                    rejection == null ? "INVALID_COMMAND" : rejection.getReason(),
                    rejection == null ? "an empty control record" : rejection.getMessage());
            return;
        }
        CommandOrder.Refusal refusal = order.check(command);
        if (refusal != null) {
            rejected(command, ModelCommands.describe(command), refusal.reason(), refusal.message());
            return;
        }
        order.accept(command);
        dispatch(message);
    }

    private void dispatch(ControlMessage message) throws Exception {
        ModelCommand command = message.getCommand();
        if (command.getCommand() == ModelCommandType.SET_PLAN) {
            applyPlan(command);
        } else {
            ModelController controller = controllers.get(command.getModel());
            if (controller == null) {
                rejected(
                        command,
                        ModelCommands.describe(command),
                        "UNKNOWN_MODEL",
                        "this job does not serve '"
                                + command.getModel()
                                + "': it serves "
                                + routes.models()
                                + "; a SET_PLAN that names the"
                                + " model comes first");
            } else {
                controller.receive(message);
            }
        }
    }

    /**
     * Serves {@code command}'s plan from now on, unless its ensembles cannot combine what their
     * members serve.
     */
    private void applyPlan(ModelCommand command) throws Exception {
        String mismatch = ensembleProblem(command.getPlan(), null, Map.of());
        if (mismatch != null) {
            rejected(command, ModelCommands.describe(command), "ENSEMBLE_MISMATCH", mismatch);
            return;
        }
        RoutingTable next = new RoutingTable(command.getPlan());
        for (Iterator<Map.Entry<String, ModelController>> it = controllers.entrySet().iterator();
                it.hasNext(); ) {
            Map.Entry<String, ModelController> entry = it.next();
            if (!next.models().contains(entry.getKey())) {
                it.remove();
                ModelDeployment kept =
                        entry.getValue().deployment() != null
                                ? entry.getValue().deployment()
                                : entry.getValue().reinstating();
                if (kept != null) {
                    parked.put(entry.getKey(), kept);
                }
                entry.getValue().retire("'" + entry.getKey() + "' left the serving plan");
                retired.add(entry.getValue());
            }
        }
        for (String model : next.models()) {
            if (!controllers.containsKey(model)) {
                ModelController controller = controller(model);
                controller.start(null, null, null);
                ModelDeployment back = parked.remove(model);
                if (back != null) {
                    controller.reinstate(back);
                }
            }
        }
        routes = next;
        deployments.inc();
        String described = ServingPlans.describe(next.plan());
        LOG.info(
                "{} now routes {} (command {}, {})",
                reporter.name(),
                UntrustedText.escape(described, 1000),
                command.getId(),
                command.getSignedBy() == null
                        ? "unsigned"
                        : "signed by key " + command.getSignedBy());
        host.emit(event(ModelEventType.DEPLOYED, command, null, "serving plan: " + described));
        releaseDrained();
    }

    /** Applies what can be applied of every model's waiting commands. */
    public void advance() throws Exception {
        for (ModelController controller : controllers.values()) {
            controller.advance();
        }
    }

    /** Whether every command received has been answered. */
    public boolean isSettled() {
        return controllers.values().stream().allMatch(ModelController::isSettled);
    }

    /** Whether a load is running (its answer comes through the task's mailbox). */
    public boolean isLoading() {
        return controllers.values().stream().anyMatch(ModelController::isLoading);
    }

    /**
     * Releases the versions that left a deployment, or the plan, once their last record was
     * answered.
     */
    public void releaseDrained() throws Exception {
        for (ModelController controller : controllers.values()) {
            controller.releaseDrained();
        }
        for (Iterator<ModelController> it = retired.iterator(); it.hasNext(); ) {
            ModelController controller = it.next();
            controller.releaseDrained();
            if (controller.isReleased()) {
                it.remove();
                controller.close();
            }
        }
    }

    /** Cuts every partial batch now (at the end of the input). */
    public void flush() {
        controllers.values().forEach(c -> c.versions().flush());
        retired.forEach(c -> c.versions().flush());
    }

    /** What is served, for logs: each model's deployment and the routes. */
    public String describe() {
        List<String> models = new ArrayList<>();
        controllers.values().forEach(c -> models.add(c.describe()));
        return String.join(", ", models)
                + " (routes: "
                + ServingPlans.describe(routes.plan())
                + ")";
    }

    @Override
    public void close() throws Exception {
        Exception failure = null;
        List<ModelController> all = new ArrayList<>(controllers.values());
        all.addAll(retired);
        for (ModelController controller : all) {
            try {
                controller.close();
            } catch (Exception e) {
                failure = failure == null ? e : failure;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void rejected(ModelCommand command, String what, String reason, String message) {
        rejectedCommands.inc();
        LOG.warn(
                "{}: model command rejected ({}): {}. Command: {}",
                reporter.name(),
                reason,
                UntrustedText.escape(message, 500),
                UntrustedText.escape(what, 300));
        host.emit(event(ModelEventType.REJECTED, command, reason, message));
    }

    private ModelEvent event(
            ModelEventType type, ModelCommand command, String reason, String message) {
        return new ModelEvent(
                type,
                reporter.job(),
                reporter.jobId(),
                reporter.subtask(),
                command == null ? null : command.getModel(),
                command == null ? null : command.getVersion(),
                command == null ? null : command.getId(),
                command == null ? null : ModelCommands.describe(command),
                reason,
                message,
                null,
                null,
                List.of(),
                System.currentTimeMillis());
    }
}
