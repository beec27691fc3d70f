package org.streaminference.operators.inference;

import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.answers.AnswerPlanner;
import org.streaminference.operators.inference.answers.InferenceRequest;
import org.streaminference.operators.inference.answers.PendingAnswer;
import org.streaminference.operators.inference.control.ModelController;
import org.streaminference.operators.inference.control.ServedModels;
import org.streaminference.operators.inference.outputs.AnswerEmitter;
import org.streaminference.operators.inference.outputs.DriftReporter;
import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.operators.inference.queue.UnorderedInferenceQueue;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.UserCodeRelease;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedMultiInput;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;

/**
 * The micro-batched inference operator: the glue between Flink and its parts. Records wait in an
 * {@link InferenceQueue} (ordered or unordered, with the watermarks between them) until their
 * answer may go out; {@link ServedModels} decides which models and versions serve them and applies
 * the model commands, which come in the events' stream (records whose {@code control} is set,
 * passed on by the features operator so that this one has one input and is chained to it) or, in
 * the two-input form, on the second input; {@link AnswerPlanner} turns an event into the answers it
 * owes, {@link AnswerEmitter} sends them out. Batches run on inference threads of each version's
 * own, and a finished batch hands all its answers to the task thread with one mailbox mail (Flink's
 * async I/O operator needs one per record, which dominates the cost of a small model).
 *
 * <p>Every answer not emitted yet is in operator state at a checkpoint and is run again after a
 * restore, so nothing is lost and nothing emitted twice; what is served and the commands not
 * applied yet are in broadcast state ({@link InferenceOperatorState}). The queue is bounded by the
 * capacity: when it is full, processElement yields to the mailbox, which back-pressures the input.
 */
@Internal
final class MicroBatchInferenceOperator extends AbstractStreamOperator<Prediction>
        implements OneInputStreamOperator<EnrichedEvent, Prediction>,
                TwoInputStreamOperator<EnrichedEvent, ControlMessage, Prediction>,
                BoundedOneInput,
                BoundedMultiInput {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatchInferenceOperator.class);

    private final InferenceOperatorConfig config;
    private final transient MailboxExecutor mailbox;

    private transient InferenceOperatorState state;

    /** What the restore brought, until open() has taken it; null for a start without state. */
    private transient InferenceOperatorState.Restored restored;

    private transient ServedModels models;
    private transient InferenceQueue<PendingAnswer> queue;

    /** Shadow requests: emitted as they finish, never held back (they carry no watermark duty). */
    private transient InferenceQueue<InferenceRequest> shadows;

    private transient AnswerPlanner planner;
    private transient InferenceQueue.Emitter<PendingAnswer> answers;
    private transient InferenceQueue.Emitter<InferenceRequest> shadowAnswers;
    private transient TaskModelHost host;
    private transient DriftReporter drift;
    private transient RecordTracing tracing;

    MicroBatchInferenceOperator(
            StreamOperatorParameters<Prediction> parameters,
            InferenceOperatorConfig config,
            MailboxExecutor mailbox) {
        super(parameters);
        this.config = config;
        this.mailbox = mailbox;
    }

    // ---------------------------------------------------------------------------------------------------------
    // state and lifecycle
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        state = new InferenceOperatorState(context);
        restored = context.isRestored() ? state.read() : null;
    }

    @Override
    public void open() throws Exception {
        super.open();
        queue = InferenceQueue.create(config.batching().ordered());
        shadows = new UnorderedInferenceQueue<>();
        tracing =
                RecordTracing.open(
                        config.tracing(),
                        "inference",
                        getRuntimeContext().getUserCodeClassLoader());
        // once per job and TaskManager: what ONNX Runtime and the JDBC driver leave in the JVM goes
        // with the job
        getRuntimeContext()
                .registerUserCodeClassLoaderReleaseHookIfAbsent(
                        UserCodeRelease.HOOK_NAME, UserCodeRelease::releaseThisJob);
        drift = new DriftReporter(config.drift(), output, subtask());
        drift.start(getProcessingTimeService());
        AnswerEmitter emitter =
                new AnswerEmitter(output, config.servedFeatureSpec(), drift, getMetricGroup());
        Counter unknownModel = getMetricGroup().counter("answersUnknownModel");
        answers = emitter.answers();
        shadowAnswers = emitter.shadows();
        host =
                new TaskModelHost(
                        config.modelProvider(),
                        getRuntimeContext(),
                        getMetricGroup(),
                        mailbox,
                        getProcessingTimeService(),
                        output,
                        config.batching(),
                        tracing,
                        drift,
                        this::post);
        models =
                new ServedModels(
                        host,
                        config.controlLimits(),
                        new ModelController.Reporter(
                                getRuntimeContext().getJobInfo().getJobName(),
                                getRuntimeContext().getJobInfo().getJobId().toHexString(),
                                subtask(),
                                subtaskName()),
                        getMetricGroup());
        planner = new AnswerPlanner(models, shadows, unknownModel);
        if (restored == null) {
            models.start(
                    host.openAll(config.initialLocations()),
                    config.initialPlan() == null
                            ? null
                            : ServingPlans.fromJson(
                                    config.initialPlan().getBytes(StandardCharsets.UTF_8)),
                    null);
        } else {
            models.restoreControlState(restored.order(), restored.parked());
            models.start(Map.of(), restored.plan(), restored.deployments());
        }
        LOG.info(
                "{} serves {} in batches of up to {} records or {} ms, {} at once; {} answers and {} commands"
                        + " restored",
                subtaskName(),
                models.describe(),
                config.batching().maxBatchSize(),
                config.batching().maxDelayMillis(),
                config.batching().concurrentBatches(),
                restored == null ? 0 : restored.answers().size(),
                restored == null ? 0 : restored.commands().size());
        if (restored != null) {
            for (Tuple3<EnrichedEvent, Long, String> answer : restored.answers()) {
                if (answer.f2 == null) { // a single-model savepoint's: every target of its route
                    add(answer.f0, answer.f1);
                } else {
                    queueAnswer(planner.answer(answer.f0, answer.f1, answer.f2));
                }
            }
            // the waiting commands resume only now, so that the restored records run on the
            // versions they had
            models.resume(restored.commands());
            restored = null;
        }
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        state.write(queue.pendingRecords(), models);
    }

    @Override
    public void endInput() throws Exception {
        models.flush();
        while (queue.size() > 0 || shadows.size() > 0) {
            mailbox.yield();
        }
        emitReady(); // watermarks still queued behind the last records
        drift.report();
    }

    /**
     * At the end of a bounded input, the records in flight are answered ({@link #endInput()}) and
     * so is every model command received: a bounded job finishes only after each command got its
     * answer on the model-events topic.
     */
    @Override
    public void endInput(int inputId) throws Exception {
        if (inputId == 1) {
            endInput();
        }
        while (!models.isSettled()) {
            if (models.isLoading()) {
                mailbox.yield(); // a load finishes or times out (model.load-timeout) through the
                // mailbox
            } else {
                models.advance();
            }
        }
    }

    @Override
    public void close() throws Exception {
        if (models != null) {
            models.close();
        }
        if (tracing != null) {
            tracing.close();
        }
        super.close();
    }

    // ---------------------------------------------------------------------------------------------------------
    // records and watermarks
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement(StreamRecord<EnrichedEvent> record) throws Exception {
        ControlMessage control = record.getValue().getControl();
        if (control != null) {
            models.receive(
                    control); // passed on in order by the features operator, whose broadcast side
            // it is
            return;
        }
        while (queue.size() + shadows.size() >= config.batching().capacity()) {
            mailbox.yield(); // back-pressure: the input waits until batches finish
        }
        add(
                record.getValue(),
                record.hasTimestamp() ? record.getTimestamp() : PendingAnswer.NO_TIMESTAMP);
    }

    @Override
    public void processElement1(StreamRecord<EnrichedEvent> record) throws Exception {
        processElement(record);
    }

    private void add(EnrichedEvent event, long timestamp) throws Exception {
        for (PendingAnswer answer : planner.answers(event, timestamp)) {
            queueAnswer(answer);
        }
    }

    private void queueAnswer(PendingAnswer answer) throws Exception {
        queue.add(answer);
        if (answer.isDone()) {
            emitReady(); // answered before any model: no route, input it cannot take, a target
            // without a version
        }
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        queue.addWatermark(mark);
        queue.emitCompleted(answers);
    }

    @Override
    public void processWatermark1(Watermark mark) throws Exception {
        processWatermark(mark);
    }

    /** The control stream's watermarks do not hold back the events' watermarks. */
    @Override
    public void processWatermark2(Watermark mark) {}

    /**
     * On the task thread: emits every answer that may go out now, then releases versions that have
     * drained.
     */
    private void emitReady() throws Exception {
        shadows.emitCompleted(shadowAnswers);
        queue.emitCompleted(answers);
        models.releaseDrained();
    }

    private void post(String description) {
        try {
            mailbox.execute(this::emitReady, description);
        } catch (RejectedExecutionException e) {
            LOG.debug(
                    "The task is closing; answers of a finished batch are dropped (they are in the last checkpoint)");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // model commands
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement2(StreamRecord<ControlMessage> record) throws Exception {
        models.receive(record.getValue());
    }

    private int subtask() {
        return getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    }

    private String subtaskName() {
        return getOperatorConfig().getOperatorName()
                + " ("
                + (subtask() + 1)
                + "/"
                + getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks()
                + ")";
    }
}
