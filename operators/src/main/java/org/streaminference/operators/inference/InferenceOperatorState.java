package org.streaminference.operators.inference;

import org.streaminference.model.control.CommandOrder;
import org.streaminference.model.control.ControlMessages;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.answers.PendingAnswer;
import org.streaminference.operators.inference.control.ServedModels;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ServingPlan;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.typeutils.TupleTypeInfo;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.state.StateInitializationContext;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The inference operator's state, and the one place that knows its layout: the answers not emitted
 * yet (operator list state), and in broadcast state the serving plan, each model's deployment, the
 * deployments of models the plan parked, the order of accepted commands and the commands not
 * applied yet, all in JSON. Savepoints of earlier releases (one model, records without their
 * target) are read into the same form here, so the operator never sees them.
 */
@Internal
final class InferenceOperatorState {
    /**
     * What the operator serves, in JSON: the serving plan under {@value #PLAN_KEY}, each model's
     * deployment under {@value #MODEL_KEY_PREFIX} and its name (savepoints of single-model
     * releases: one under {@value #DEPLOYMENT_KEY}).
     */
    static final MapStateDescriptor<String, String> DEPLOYMENT_STATE =
            new MapStateDescriptor<>("model-deployment", Types.STRING, Types.STRING);

    /**
     * Commands received and not applied yet (a version still loading), by arrival number, in their
     * JSON form (the form savepoints of earlier versions hold).
     */
    static final MapStateDescriptor<Long, String> PENDING_COMMANDS_STATE =
            new MapStateDescriptor<>("model-commands-pending", Types.LONG, Types.STRING);

    static final String DEPLOYMENT_KEY = "deployment";
    static final String PLAN_KEY = "plan";
    static final String MODEL_KEY_PREFIX = "model/";

    /**
     * The deployments of models the plan no longer serves, kept for a plan that serves them again.
     */
    static final String PARKED_KEY_PREFIX = "parked/";

    /**
     * The order of the accepted commands ({@link CommandOrder}): what makes a replayed command
     * refused.
     */
    static final String ORDER_KEY = "command-order";

    /** What a restore gives the operator to start from. */
    record Restored(
            List<Tuple3<EnrichedEvent, Long, String>> answers,
            ServingPlan plan,
            Map<String, ModelDeployment> deployments,
            Map<String, ModelDeployment> parked,
            CommandOrder order,
            List<ControlMessage> commands) {}

    /**
     * Records of single-model releases' savepoints (without a target); read at a restore, then left
     * empty.
     */
    private final ListState<Tuple2<EnrichedEvent, Long>> legacyPending;

    /**
     * Each answer not emitted yet: the event, its timestamp and the model or ensemble that owes the
     * answer.
     */
    private final ListState<Tuple3<EnrichedEvent, Long, String>> pending;

    private final BroadcastState<String, String> deployment;
    private final BroadcastState<Long, String> pendingCommands;

    InferenceOperatorState(StateInitializationContext context) throws Exception {
        legacyPending =
                context.getOperatorStateStore()
                        .getListState(
                                new ListStateDescriptor<>(
                                        "micro-batch-pending",
                                        new TupleTypeInfo<>(
                                                new AvroTypeInfo<>(EnrichedEvent.class),
                                                Types.LONG)));
        pending =
                context.getOperatorStateStore()
                        .getListState(
                                new ListStateDescriptor<>(
                                        "micro-batch-pending-answers",
                                        new TupleTypeInfo<>(
                                                new AvroTypeInfo<>(EnrichedEvent.class),
                                                Types.LONG,
                                                Types.STRING)));
        deployment = context.getOperatorStateStore().getBroadcastState(DEPLOYMENT_STATE);
        pendingCommands = context.getOperatorStateStore().getBroadcastState(PENDING_COMMANDS_STATE);
    }

    /**
     * Reads what a restore brought; a record of a single-model savepoint owes an answer to every
     * target of its route.
     */
    Restored read() throws Exception {
        List<Tuple3<EnrichedEvent, Long, String>> answers = new ArrayList<>();
        pending.get().forEach(answers::add);
        for (Tuple2<EnrichedEvent, Long> record : legacyPending.get()) {
            answers.add(Tuple3.of(record.f0, record.f1, null));
        }
        Map<String, ModelDeployment> deployments = new LinkedHashMap<>();
        Map<String, ModelDeployment> parked = new LinkedHashMap<>();
        for (Map.Entry<String, String> entry : deployment.entries()) {
            if (entry.getKey().startsWith(MODEL_KEY_PREFIX)
                    || entry.getKey().equals(DEPLOYMENT_KEY)) {
                ModelDeployment served = ModelDeployment.fromJson(entry.getValue());
                deployments.put(served.model(), served);
            } else if (entry.getKey().startsWith(PARKED_KEY_PREFIX)) {
                ModelDeployment kept = ModelDeployment.fromJson(entry.getValue());
                parked.put(kept.model(), kept);
            }
        }
        String order = deployment.get(ORDER_KEY);
        return new Restored(
                answers,
                plan(deployments),
                deployments,
                parked,
                order == null ? null : CommandOrder.fromJson(order),
                commands());
    }

    private ServingPlan plan(Map<String, ModelDeployment> deployments) throws Exception {
        String plan = deployment.get(PLAN_KEY);
        if (plan != null) {
            return ServingPlans.fromJson(plan.getBytes(StandardCharsets.UTF_8));
        }
        if (deployments.size() == 1) { // a single-model release's savepoint
            return ServingPlans.single(deployments.keySet().iterator().next());
        }
        throw new IllegalStateException(
                "The restored state holds "
                        + deployments.size()
                        + " model deployments and no serving plan");
    }

    private List<ControlMessage> commands() throws Exception {
        List<Map.Entry<Long, String>> entries = new ArrayList<>();
        pendingCommands.entries().forEach(entries::add);
        entries.sort(Map.Entry.comparingByKey());
        List<ControlMessage> commands = new ArrayList<>(entries.size());
        for (Map.Entry<Long, String> command : entries) {
            // decoded like a control record: savepoints of earlier versions hold commands not
            // parsed yet
            commands.add(
                    ControlMessages.decode(
                            command.getValue().getBytes(StandardCharsets.UTF_8),
                            Integer.MAX_VALUE));
        }
        return commands;
    }

    /**
     * Writes the answers still owed and what {@code models} serves, replacing what the last
     * snapshot wrote.
     */
    void write(Iterable<PendingAnswer> unanswered, ServedModels models) throws Exception {
        List<Tuple3<EnrichedEvent, Long, String>> owed = new ArrayList<>();
        for (PendingAnswer answer : unanswered) {
            owed.add(Tuple3.of(answer.event, answer.timestamp, answer.target));
        }
        pending.update(owed);
        legacyPending.clear();
        deployment.clear();
        deployment.put(
                PLAN_KEY, new String(ServingPlans.toJson(models.plan()), StandardCharsets.UTF_8));
        for (Map.Entry<String, ModelDeployment> served : models.deployments().entrySet()) {
            deployment.put(MODEL_KEY_PREFIX + served.getKey(), served.getValue().toJson());
        }
        for (Map.Entry<String, ModelDeployment> kept : models.parked().entrySet()) {
            deployment.put(PARKED_KEY_PREFIX + kept.getKey(), kept.getValue().toJson());
        }
        deployment.put(ORDER_KEY, models.order().toJson());
        pendingCommands.clear();
        long n = 0;
        for (ModelCommand command : models.pendingCommands()) {
            pendingCommands.put(
                    n++, new String(ModelCommands.toJson(command), StandardCharsets.UTF_8));
        }
    }
}
