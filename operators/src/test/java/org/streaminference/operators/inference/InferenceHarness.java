package org.streaminference.operators.inference;

import org.streaminference.model.control.ControlMessages;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.outputs.InferenceSideOutputs;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InBandControl;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.tracing.TracingConfig;

import org.apache.flink.streaming.api.operators.BoundedMultiInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Flink's operator test harness for the inference operator with its control input: events on input
 * 1, model commands (broadcast in the job) on input 2. Built from the operator factory, so the
 * operator gets the harness's mailbox, whose mails the test runs with {@link #runMailsUntil}.
 */
final class InferenceHarness extends AbstractStreamOperatorTestHarness<Prediction> {

    InferenceHarness(ModelProvider provider, String initialModel, BatchingConfig options)
            throws Exception {
        this(provider, initialModel, options, ModelControlLimits.defaults());
    }

    InferenceHarness(
            ModelProvider provider,
            String initialModel,
            BatchingConfig options,
            ModelControlLimits limits)
            throws Exception {
        super(
                new MicroBatchInferenceOperatorFactory(
                        provider, initialModel, options, null, limits),
                1,
                1,
                0);
        this.limits = limits;
    }

    /**
     * The harness of a job that starts with {@code plan} (null: every event to the starting model).
     */
    InferenceHarness(
            ModelProvider provider,
            List<String> initialModels,
            ServingPlan plan,
            BatchingConfig options)
            throws Exception {
        super(
                new MicroBatchInferenceOperatorFactory(
                        provider,
                        initialModels,
                        plan == null
                                ? null
                                : new String(ServingPlans.toJson(plan), StandardCharsets.UTF_8),
                        options,
                        null,
                        ModelControlLimits.defaults(),
                        DriftConfig.DISABLED,
                        TracingConfig.DISABLED),
                1,
                1,
                0);
        this.limits = ModelControlLimits.defaults();
    }

    private final ModelControlLimits limits;

    @SuppressWarnings("unchecked")
    private TwoInputStreamOperator<EnrichedEvent, ControlMessage, Prediction> twoInput() {
        return (TwoInputStreamOperator<EnrichedEvent, ControlMessage, Prediction>) operator;
    }

    void processElement(EnrichedEvent event, long timestamp) throws Exception {
        twoInput().processElement1(new StreamRecord<>(event, timestamp));
    }

    void command(ModelCommand command) throws Exception {
        command(new String(ModelCommands.toJson(command), StandardCharsets.UTF_8));
    }

    /**
     * A control-topic record, decoded as the job's control source decodes it, and passed in the
     * events' stream as the job's features operator passes it on.
     */
    void command(String json) throws Exception {
        ((OneInputStreamOperator<EnrichedEvent, Prediction>) operator)
                .processElement(
                        new StreamRecord<>(
                                InBandControl.carrying(
                                        ControlMessages.decode(
                                                json.getBytes(StandardCharsets.UTF_8),
                                                limits.maxCommandBytes()))));
    }

    /**
     * As {@link #command(String)}, on the operator's second input (its form with a broadcast
     * control stream).
     */
    void commandOnSecondInput(String json) throws Exception {
        twoInput()
                .processElement2(
                        new StreamRecord<>(
                                ControlMessages.decode(
                                        json.getBytes(StandardCharsets.UTF_8),
                                        limits.maxCommandBytes())));
    }

    void endInput() throws Exception {
        ((BoundedMultiInput) operator).endInput(1);
    }

    /** Runs the task's mails (finished batches, loaded models) until {@code condition} holds. */
    void runMailsUntil(BooleanSupplier condition) throws Exception {
        while (!condition.getAsBoolean()) {
            Optional<Mail> mail = getTaskMailbox().tryTake(TaskMailbox.MIN_PRIORITY);
            if (mail.isPresent()) {
                mail.get().run();
            } else {
                LockSupport.parkNanos(1_000_000); // a loader or inference thread is still working
            }
        }
    }

    @SuppressWarnings("unchecked")
    List<Prediction> predictions() {
        List<Prediction> out = new ArrayList<>();
        for (Object o : getOutput()) {
            if (o instanceof StreamRecord<?> r) {
                out.add(((StreamRecord<Prediction>) r).getValue());
            }
        }
        return out;
    }

    List<Prediction> shadowPredictions() {
        List<Prediction> out = new ArrayList<>();
        var side = getSideOutput(InferenceSideOutputs.SHADOW_PREDICTIONS);
        if (side != null) {
            side.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    List<DeadLetter> deadLetters() {
        List<DeadLetter> out = new ArrayList<>();
        var side = getSideOutput(DeadLetters.TAG);
        if (side != null) {
            side.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    List<ModelEvent> modelEvents() {
        List<ModelEvent> out = new ArrayList<>();
        var side = getSideOutput(InferenceSideOutputs.MODEL_EVENTS);
        if (side != null) {
            side.forEach(r -> out.add(r.getValue()));
        }
        return out;
    }

    List<ModelEvent> modelEvents(ModelEventType type) {
        return modelEvents().stream().filter(e -> e.getType() == type).toList();
    }

    /** Commands answered so far: applied (DEPLOYED in answer to a command) or REJECTED. */
    long settledCommands() {
        return modelEvents().stream()
                .filter(
                        e ->
                                e.getType() == ModelEventType.REJECTED
                                        || (e.getType() == ModelEventType.DEPLOYED
                                                && e.getCommandId() != null))
                .count();
    }

    /** Sends a command and runs mails until the operator has applied or rejected it. */
    void commandAndWait(ModelCommand command) throws Exception {
        long before = settledCommands();
        command(command);
        runMailsUntil(() -> settledCommands() > before);
    }
}
