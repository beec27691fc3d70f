package org.streaminference.operators.inference;

import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.tracing.RecordTracing;
import org.streaminference.tracing.TracingConfig;
import org.streaminference.operators.drift.DriftTracker;
import org.streaminference.schemas.DriftSketch;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.typeutils.TupleTypeInfo;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
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
import org.apache.flink.util.function.ThrowingRunnable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.CommandOrder;
import org.streaminference.model.control.ControlMessages;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.operators.inference.queue.UnorderedInferenceQueue;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServedFeatures;
import org.streaminference.schemas.StorableValues;
import org.streaminference.schemas.UserCodeRelease;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;

/**
 * The micro-batched inference operator: the glue between Flink and its two parts. Records wait in an
 * {@link InferenceQueue} (ordered or unordered, with the watermarks between them) until their answer may go out;
 * {@link ServedModels} decides which models and versions serve them (the serving plan's routes and ensembles, one
 * answer per target) and applies the model commands, which come in the events' stream (records whose
 * {@code control} is set, passed on by the features operator so that this one has one input and is chained to it)
 * or, in the two-input form, on the second input. Batches run on inference threads of each version's own, and a
 * finished batch hands all its answers to the task thread with one mailbox mail (Flink's async I/O operator needs
 * one per record, which dominates the cost of a small model). This class keeps the lifecycle, the state and the
 * outputs.
 *
 * <p>Every answer not emitted yet is in operator state at a checkpoint, with its event and target, and is run again
 * after a restore, so nothing is lost and nothing emitted twice (an event fanned out to several models keeps only
 * the answers it still owes); the plan, each model's deployment and the commands not applied yet are in broadcast
 * state. The queue is bounded by the capacity: when it is full, processElement yields to the mailbox,
 * which back-pressures the input.
 */
@Internal
final class MicroBatchInferenceOperator extends AbstractStreamOperator<Prediction>
        implements OneInputStreamOperator<EnrichedEvent, Prediction>,
                TwoInputStreamOperator<EnrichedEvent, ControlMessage, Prediction>,
                BoundedOneInput,
                BoundedMultiInput,
                ModelController.Host {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatchInferenceOperator.class);

    /**
     * What this operator serves, in JSON: the serving plan under {@value #PLAN_KEY}, each model's deployment under
     * {@value #MODEL_KEY_PREFIX} and its name (savepoints of single-model releases: one under
     * {@value #DEPLOYMENT_KEY}).
     */
    static final MapStateDescriptor<String, String> DEPLOYMENT_STATE =
            new MapStateDescriptor<>("model-deployment", Types.STRING, Types.STRING);
    /**
     * Commands received and not applied yet (a version still loading), by arrival number, in their JSON form (the
     * form savepoints of earlier versions hold).
     */
    static final MapStateDescriptor<Long, String> PENDING_COMMANDS_STATE =
            new MapStateDescriptor<>("model-commands-pending", Types.LONG, Types.STRING);
    static final String DEPLOYMENT_KEY = "deployment";
    static final String PLAN_KEY = "plan";
    static final String MODEL_KEY_PREFIX = "model/";
    /** The deployments of models the plan no longer serves, kept for a plan that serves them again. */
    static final String PARKED_KEY_PREFIX = "parked/";
    /** The order of the accepted commands ({@link CommandOrder}): what makes a replayed command refused. */
    static final String ORDER_KEY = "command-order";

    private final ModelProvider modelProvider;
    /** The versions served when the job starts without state, one per model. */
    private final List<String> initialLocations;
    /** The serving plan to start with, in JSON; null for one that sends every event to the starting model. */
    private final String initialPlan;
    private final BatchingConfig options;
    /** The spec id served feature vectors are logged under; null where they are not logged. */
    private final String servedFeatureSpec;
    private final ModelControlLimits controlLimits;
    private final DriftConfig drift;
    private final TracingConfig tracingConfig;
    private final transient MailboxExecutor mailbox;

    /** Records of single-model releases' savepoints; read at a restore, then left empty. */
    private transient ListState<Tuple2<EnrichedEvent, Long>> legacyPendingState;
    /** Each answer not emitted yet: the event, its timestamp and the model or ensemble that owes the answer. */
    private transient ListState<Tuple3<EnrichedEvent, Long, String>> pendingState;
    private transient BroadcastState<String, String> deploymentState;
    private transient BroadcastState<Long, String> pendingCommandsState;
    private transient List<Tuple3<EnrichedEvent, Long, String>> restoredRecords;
    private transient ServingPlan restoredPlan;
    private transient Map<String, ModelDeployment> restoredDeployments;
    private transient Map<String, ModelDeployment> restoredParked;
    private transient CommandOrder restoredOrder;
    private transient List<ControlMessage> restoredCommands;

    private transient ServedModels models;
    private transient InferenceQueue<PendingAnswer> queue;
    /** Shadow requests: emitted as they finish, never held back (they carry no watermark duty). */
    private transient InferenceQueue<InferenceRequest> shadows;
    private transient Map<String, InferenceMetrics> versionMetrics;
    private transient InferenceQueue.Emitter<PendingAnswer> answers;
    private transient InferenceQueue.Emitter<InferenceRequest> shadowAnswers;
    private transient Counter shadowFailures;
    private transient Counter storeRejected;
    /** Answers that are UNKNOWN_MODEL dead letters: no route matched, or the target had no version. */
    private transient Counter unknownModel;
    /** Drift sketches of each version with a baseline, by version; drained on a timer and at the end of input. */
    private transient Map<String, DriftTracker> driftTrackers;
    private transient RecordTracing tracing;

    MicroBatchInferenceOperator(StreamOperatorParameters<Prediction> parameters, ModelProvider modelProvider,
            List<String> initialLocations, String initialPlan, BatchingConfig options, String servedFeatureSpec,
            ModelControlLimits controlLimits, DriftConfig drift, TracingConfig tracing, MailboxExecutor mailbox) {
        super(parameters);
        this.tracingConfig = tracing;
        this.drift = drift;
        this.controlLimits = controlLimits;
        this.modelProvider = modelProvider;
        this.initialLocations = initialLocations;
        this.initialPlan = initialPlan;
        this.options = options;
        this.servedFeatureSpec = servedFeatureSpec;
        this.mailbox = mailbox;
    }

    // ---------------------------------------------------------------------------------------------------------
    // state and lifecycle
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        legacyPendingState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(
                "micro-batch-pending", new TupleTypeInfo<>(new AvroTypeInfo<>(EnrichedEvent.class), Types.LONG)));
        pendingState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(
                "micro-batch-pending-answers", new TupleTypeInfo<>(new AvroTypeInfo<>(EnrichedEvent.class),
                        Types.LONG, Types.STRING)));
        deploymentState = context.getOperatorStateStore().getBroadcastState(DEPLOYMENT_STATE);
        pendingCommandsState = context.getOperatorStateStore().getBroadcastState(PENDING_COMMANDS_STATE);
        restoredRecords = new ArrayList<>();
        restoredCommands = new ArrayList<>();
        if (context.isRestored()) {
            pendingState.get().forEach(restoredRecords::add);
            for (Tuple2<EnrichedEvent, Long> record : legacyPendingState.get()) {
                restoredRecords.add(Tuple3.of(record.f0, record.f1, null)); // every target of its route
            }
            restoredDeployments = new LinkedHashMap<>();
            restoredParked = new LinkedHashMap<>();
            for (Map.Entry<String, String> entry : deploymentState.entries()) {
                if (entry.getKey().startsWith(MODEL_KEY_PREFIX) || entry.getKey().equals(DEPLOYMENT_KEY)) {
                    ModelDeployment deployment = ModelDeployment.fromJson(entry.getValue());
                    restoredDeployments.put(deployment.model(), deployment);
                } else if (entry.getKey().startsWith(PARKED_KEY_PREFIX)) {
                    ModelDeployment deployment = ModelDeployment.fromJson(entry.getValue());
                    restoredParked.put(deployment.model(), deployment);
                }
            }
            String order = deploymentState.get(ORDER_KEY);
            restoredOrder = order == null ? null : CommandOrder.fromJson(order);
            String plan = deploymentState.get(PLAN_KEY);
            if (plan != null) {
                restoredPlan = ServingPlans.fromJson(plan.getBytes(StandardCharsets.UTF_8));
            } else if (restoredDeployments.size() == 1) {
                restoredPlan = ServingPlans.single(restoredDeployments.keySet().iterator().next());
            } else {
                throw new IllegalStateException("The restored state holds " + restoredDeployments.size()
                        + " model deployments and no serving plan");
            }
            List<Map.Entry<Long, String>> commands = new ArrayList<>();
            pendingCommandsState.entries().forEach(commands::add);
            commands.sort(Map.Entry.comparingByKey());
            for (Map.Entry<Long, String> command : commands) {
                // decoded like a control record: savepoints of earlier versions hold commands not parsed yet
                restoredCommands.add(ControlMessages.decode(command.getValue().getBytes(StandardCharsets.UTF_8),
                        Integer.MAX_VALUE));
            }
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        queue = InferenceQueue.create(options.ordered());
        shadows = new UnorderedInferenceQueue<>();
        versionMetrics = new HashMap<>();
        driftTrackers = new HashMap<>();
        tracing = RecordTracing.open(tracingConfig, "inference", getRuntimeContext().getUserCodeClassLoader());
        // once per job and TaskManager: what ONNX Runtime and the JDBC driver leave in the JVM goes with the job
        getRuntimeContext().registerUserCodeClassLoaderReleaseHookIfAbsent(UserCodeRelease.HOOK_NAME,
                UserCodeRelease::releaseThisJob);
        if (drift.enabled()) {
            scheduleDriftReport();
        }
        shadowFailures = getMetricGroup().counter("shadowFailures");
        storeRejected = getMetricGroup().counter("predictionsStoreRejected");
        unknownModel = getMetricGroup().counter("answersUnknownModel");
        answers = new InferenceQueue.Emitter<PendingAnswer>() {
            @Override
            public void emit(PendingAnswer request) {
                emitAnswer(request);
            }

            @Override
            public void emitWatermark(Watermark watermark) {
                output.emitWatermark(watermark);
            }
        };
        shadowAnswers = new InferenceQueue.Emitter<>() {
            @Override
            public void emit(InferenceRequest request) {
                emitShadowAnswer(request);
            }

            @Override
            public void emitWatermark(Watermark watermark) {}
        };
        models = new ServedModels(this, controlLimits, new ModelController.Reporter(
                getRuntimeContext().getJobInfo().getJobName(),
                getRuntimeContext().getJobInfo().getJobId().toHexString(), subtask(), subtaskName()),
                getMetricGroup());
        if (restoredPlan == null) {
            Map<String, ModelProvider.Handle> initial = new LinkedHashMap<>();
            try {
                for (String location : initialLocations) {
                    initial.put(location, open(location, null));
                }
            } catch (Exception e) {
                for (ModelProvider.Handle handle : initial.values()) {
                    handle.close();
                }
                throw e;
            }
            models.start(initial, initialPlan == null ? null
                    : ServingPlans.fromJson(initialPlan.getBytes(StandardCharsets.UTF_8)), null);
        } else {
            models.restoreControlState(restoredOrder, restoredParked);
            models.start(Map.of(), restoredPlan, restoredDeployments);
        }
        LOG.info("{} serves {} in batches of up to {} records or {} ms, {} at once; {} answers and {} commands"
                        + " restored",
                subtaskName(), models.describe(), options.maxBatchSize(), options.maxDelayMillis(),
                options.concurrentBatches(), restoredRecords.size(), restoredCommands.size());
        for (Tuple3<EnrichedEvent, Long, String> record : restoredRecords) {
            if (record.f2 == null) {
                add(record.f0, record.f1);
            } else {
                addAnswer(record.f0, record.f1, record.f2);
            }
        }
        restoredRecords = null;
        restoredPlan = null;
        restoredDeployments = null;
        restoredParked = null;
        restoredOrder = null;
        // the waiting commands resume only now, so that the restored records run on the versions they had
        models.resume(restoredCommands);
        restoredCommands = null;
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<Tuple3<EnrichedEvent, Long, String>> unanswered = new ArrayList<>(queue.size());
        for (PendingAnswer answer : queue.pendingRecords()) {
            unanswered.add(Tuple3.of(answer.event, answer.timestamp, answer.target));
        }
        pendingState.update(unanswered);
        legacyPendingState.clear();
        deploymentState.clear();
        deploymentState.put(PLAN_KEY, new String(ServingPlans.toJson(models.plan()), StandardCharsets.UTF_8));
        for (Map.Entry<String, ModelDeployment> deployment : models.deployments().entrySet()) {
            deploymentState.put(MODEL_KEY_PREFIX + deployment.getKey(), deployment.getValue().toJson());
        }
        for (Map.Entry<String, ModelDeployment> deployment : models.parked().entrySet()) {
            deploymentState.put(PARKED_KEY_PREFIX + deployment.getKey(), deployment.getValue().toJson());
        }
        deploymentState.put(ORDER_KEY, models.order().toJson());
        pendingCommandsState.clear();
        long n = 0;
        for (ModelCommand command : models.pendingCommands()) {
            pendingCommandsState.put(n++, new String(ModelCommands.toJson(command), StandardCharsets.UTF_8));
        }
    }

    @Override
    public void endInput() throws Exception {
        models.flush();
        while (queue.size() > 0 || shadows.size() > 0) {
            mailbox.yield();
        }
        emitReady(); // watermarks still queued behind the last records
        reportDrift();
    }

    private void scheduleDriftReport() {
        getProcessingTimeService().registerTimer(
                getProcessingTimeService().getCurrentProcessingTime() + drift.reportIntervalMillis(), time -> {
                    reportDrift();
                    scheduleDriftReport();
                });
    }

    /** Sends the drift sketches of every watched version to the monitor, and starts new ones. */
    private void reportDrift() {
        for (DriftTracker tracker : driftTrackers.values()) {
            for (DriftSketch sketch : tracker.drain(subtask())) {
                output.collect(ModelOutputs.DRIFT_SKETCHES, new StreamRecord<>(sketch));
            }
        }
    }

    private void track(InferenceRequest request, Prediction prediction) {
        ServedVersion version = request.version;
        if (version.drift != null && version.drift.add(request.event.getFeatures(), prediction,
                request.event.getEvent().getEventTime())) {
            reportDrift(); // events far apart in time: the open slices go out early
        }
    }

    /**
     * At the end of a bounded input, the records in flight are answered ({@link #endInput()}) and so is every model
     * command received: a bounded job finishes only after each command got its answer on the model-events topic.
     */
    @Override
    public void endInput(int inputId) throws Exception {
        if (inputId == 1) {
            endInput();
        }
        while (!models.isSettled()) {
            if (models.isLoading()) {
                mailbox.yield(); // a load finishes or times out (model.load-timeout) through the mailbox
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
    // records
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement(StreamRecord<EnrichedEvent> record) throws Exception {
        ControlMessage control = record.getValue().getControl();
        if (control != null) {
            models.receive(control); // passed on in order by the features operator, whose broadcast side it is
            return;
        }
        while (queue.size() + shadows.size() >= options.capacity()) {
            mailbox.yield(); // back-pressure: the input waits until batches finish
        }
        add(record.getValue(), record.hasTimestamp() ? record.getTimestamp() : PendingAnswer.NO_TIMESTAMP);
    }

    @Override
    public void processElement1(StreamRecord<EnrichedEvent> record) throws Exception {
        processElement(record);
    }

    /** Queues one answer for each target the plan's routes give the event, or an UNKNOWN_MODEL dead letter. */
    private void add(EnrichedEvent event, long timestamp) throws Exception {
        List<String> targets = models.routes().targets(event.getEvent());
        if (targets == null) {
            unknownModel.inc();
            queue.add(PendingAnswer.deadLetter(event, timestamp, null, DeadLetters.of(event.getEvent(),
                    event.getSource(), ReasonCode.UNKNOWN_MODEL, "no route of the serving plan matches event type '"
                            + event.getEvent().getEventType() + "'")));
            emitReady();
            return;
        }
        // the models first: an ensemble of the same event reuses their requests, so each model runs once per event
        Map<String, PendingAnswer> direct = new HashMap<>();
        for (String target : targets) {
            if (models.routes().ensemble(target) == null) {
                direct.put(target, modelAnswer(event, timestamp, target));
            }
        }
        for (String target : targets) {
            PendingAnswer answer = direct.get(target);
            queueAnswer(answer != null ? answer : ensembleAnswer(event, timestamp,
                    models.routes().ensemble(target), direct));
        }
    }

    /** Queues the answer {@code target} owes the event (a restored one: no other answer shares its requests). */
    private void addAnswer(EnrichedEvent event, long timestamp, String target) throws Exception {
        Ensemble ensemble = models.routes().ensemble(target);
        queueAnswer(ensemble != null ? ensembleAnswer(event, timestamp, ensemble, Map.of())
                : modelAnswer(event, timestamp, target));
    }

    private void queueAnswer(PendingAnswer answer) throws Exception {
        queue.add(answer);
        if (answer.isDone()) {
            emitReady(); // answered before any model: input it cannot take, a target without a version
        }
    }

    private PendingAnswer modelAnswer(EnrichedEvent event, long timestamp, String model) {
        ModelController controller = models.model(model);
        ServedVersions versions = controller == null ? null : controller.versions();
        ServedVersion version = versions == null ? null : versions.route(event.getEvent().getEntityId());
        if (version == null) {
            return unavailable(event, timestamp, model, controller == null
                    ? "the serving plan no longer serves model '" + model + "'"
                    : "no version of model '" + model + "' is deployed yet");
        }
        InferenceRequest request = new InferenceRequest(event, timestamp, model, version);
        if (submit(request)) {
            // not request.isDone(): a batch cut by this record may already have answered it on an inference thread
            ServedVersion shadow = versions.shadow();
            if (shadow != null) {
                InferenceRequest shadowRequest = new InferenceRequest(event, timestamp, model, shadow);
                submit(shadowRequest);
                shadows.add(shadowRequest);
            }
        }
        return request;
    }

    /**
     * One request per member, each on the member's version for the entity (or its pinned version); a member the
     * event also goes to directly shares that request ({@code direct}, by model) instead of running again.
     */
    private PendingAnswer ensembleAnswer(EnrichedEvent event, long timestamp, Ensemble ensemble,
            Map<String, PendingAnswer> direct) {
        List<EnsembleMember> members = ensemble.getMembers();
        ServedVersion[] versions = new ServedVersion[members.size()];
        double[] weights = new double[members.size()];
        for (int m = 0; m < versions.length; m++) {
            EnsembleMember member = members.get(m);
            ModelController controller = models.model(member.getModel());
            versions[m] = controller == null ? null : member.getVersion() == null
                    ? controller.versions().route(event.getEvent().getEntityId())
                    : controller.versions().loaded(member.getVersion());
            if (versions[m] == null) {
                return unavailable(event, timestamp, ensemble.getName(), "ensemble '" + ensemble.getName()
                        + "': its member " + ServingPlans.memberName(member) + " is not served");
            }
            weights[m] = member.getWeight();
        }
        List<InferenceRequest> requests = new ArrayList<>(versions.length);
        List<InferenceRequest> own = new ArrayList<>(versions.length);
        for (int m = 0; m < versions.length; m++) {
            if (direct.get(members.get(m).getModel()) instanceof InferenceRequest shared
                    && shared.version == versions[m]) {
                requests.add(shared);
                continue;
            }
            InferenceRequest request = new InferenceRequest(event, timestamp, members.get(m).getModel(),
                    versions[m]);
            submit(request);
            requests.add(request);
            own.add(request);
        }
        return new EnsembleRequest(event, timestamp, ensemble.getName(), requests, own, weights);
    }

    private PendingAnswer unavailable(EnrichedEvent event, long timestamp, String target, String message) {
        unknownModel.inc();
        return PendingAnswer.deadLetter(event, timestamp, target, DeadLetters.of(event.getEvent(), event.getSource(),
                ReasonCode.UNKNOWN_MODEL, message));
    }

    /**
     * Hands a record to its version's batcher and returns true, or answers it at once and returns false when the
     * model cannot take it.
     */
    private static boolean submit(InferenceRequest request) {
        ServedVersion version = request.version;
        version.outstanding++;
        version.metrics.requests.inc();
        if (version.runner.rejectInvalid(request)) {
            return false;
        }
        version.batcher.add(request);
        return true;
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

    /** On the task thread: emits every answer that may go out now, then releases versions that have drained. */
    private void emitReady() throws Exception {
        shadows.emitCompleted(shadowAnswers);
        queue.emitCompleted(answers);
        models.releaseDrained();
    }

    private void emitAnswer(PendingAnswer answer) {
        if (answer instanceof InferenceRequest request) {
            request.version.outstanding--;
            if (request.prediction() != null) {
                track(request, request.prediction());
            }
        } else if (answer instanceof EnsembleRequest ensemble) {
            for (InferenceRequest member : ensemble.own) { // shared members are counted by their direct answer
                member.version.outstanding--;
                if (member.prediction() != null) {
                    track(member, member.prediction());
                }
            }
        }
        Prediction prediction = answer.prediction();
        DeadLetter deadLetter = answer.deadLetter();
        String unstorable = prediction != null ? StorableValues.problem(prediction) : null;
        if (unstorable != null) {
            // caught before any sink: a value a sink cannot keep would fail it on every restart
            storeRejected.inc();
            prediction = null;
            deadLetter = DeadLetters.of(answer.event.getEvent(), answer.event.getSource(),
                    ReasonCode.STORE_REJECTED, "the prediction cannot be stored: " + unstorable);
        }
        if (prediction != null) {
            output.collect(record(prediction, answer.timestamp));
            if (servedFeatureSpec != null) {
                output.collect(ModelOutputs.SERVED_FEATURES, record(servedFeatures(answer, prediction),
                        answer.timestamp));
            }
        } else {
            deadLetter.setModel(answer.target);
            output.collect(DeadLetters.TAG, record(deadLetter, answer.timestamp));
        }
    }

    /** A shadow answer goes out as it finishes; a failed shadow record is counted, never a dead letter. */
    private void emitShadowAnswer(InferenceRequest request) {
        request.version.outstanding--;
        if (request.prediction() != null) {
            track(request, request.prediction());
            output.collect(ModelOutputs.SHADOW_PREDICTIONS, record(request.prediction(), request.timestamp));
        } else {
            shadowFailures.inc();
        }
    }

    /**
     * The vector the answer's version was given: float32 always, and unrounded where the version takes a DOUBLE
     * input (an ensemble's answer logs the values once, as its members share them).
     */
    private ServedFeatures servedFeatures(PendingAnswer answer, Prediction prediction) {
        List<Double> features = answer.event.getFeatures();
        List<Float> rounded = new ArrayList<>(features.size());
        for (Double value : features) {
            rounded.add((float) (double) value);
        }
        boolean doubles = answer instanceof InferenceRequest request && request.version.readsDoubles;
        return new ServedFeatures(prediction.getEventId(), prediction.getEntityId(),
                answer.event.getEvent().getEventTime(), servedFeatureSpec, prediction.getModelName(),
                prediction.getModelVersion(), rounded, doubles ? features : List.of());
    }

    private static <T> StreamRecord<T> record(T value, long timestamp) {
        return timestamp == PendingAnswer.NO_TIMESTAMP ? new StreamRecord<>(value)
                : new StreamRecord<>(value, timestamp);
    }

    /**
     * On the batcher's timer thread: answers the records of a late batch that still have no answer with TIMEOUT, and
     * stops its run through ONNX Runtime's run termination.
     */
    private void timeOut(ServedVersion version, List<BatchRunner.Pending> batch) {
        boolean any = false;
        for (BatchRunner.Pending request : batch) {
            if (!request.isDone()) {
                version.runner.fail(request, ReasonCode.TIMEOUT, "no answer from " + version.manifest().id()
                        + " within " + options.timeoutMillis() + " ms");
                any = true;
            }
        }
        version.runner.terminate(batch); // a stuck run gives its inference thread back
        if (any) {
            post("inference batch timed out");
        }
    }

    private void post(String description) {
        try {
            mailbox.execute(this::emitReady, description);
        } catch (RejectedExecutionException e) {
            LOG.debug("The task is closing; answers of a finished batch are dropped (they are in the last checkpoint)");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // model commands, and what the controller needs from the task
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement2(StreamRecord<ControlMessage> record) throws Exception {
        models.receive(record.getValue());
    }

    @Override
    public ModelProvider.Handle open(String location, ModelLoader.Expected expected) throws ModelLoadException {
        return expected == null ? modelProvider.open(getRuntimeContext(), location)
                : modelProvider.open(getRuntimeContext(), location, expected);
    }

    @Override
    public ServedVersion serve(ModelProvider.Handle handle) {
        String name = handle.model().manifest().name();
        String version = handle.model().manifest().version();
        InferenceMetrics metrics = versionMetrics.computeIfAbsent(name + ":" + version,
                v -> new InferenceMetrics(getMetricGroup(), name, version));
        ServedVersion[] self = new ServedVersion[1];
        self[0] = new ServedVersion(handle, metrics, options, "inference-" + name + "-" + version + "-" + subtask(),
                batch -> post("inference batch finished"), batch -> timeOut(self[0], batch), tracing);
        int[] baselineIndices = handle.baselineIndices();
        if (drift.enabled() && baselineIndices != null) {
            self[0].drift = driftTrackers.computeIfAbsent(name + ":" + version, v -> new DriftTracker(name, version,
                    handle.model().baseline(), baselineIndices, drift));
        }
        return self[0];
    }

    @Override
    public void runOnTaskThread(ThrowingRunnable<Exception> action, String description) {
        mailbox.execute(action::run, description);
    }

    @Override
    public void runOnTaskThreadAfter(long delayMillis, ThrowingRunnable<Exception> action) {
        getProcessingTimeService().registerTimer(
                getProcessingTimeService().getCurrentProcessingTime() + delayMillis, time -> action.run());
    }

    @Override
    public void emit(ModelEvent event) {
        output.collect(ModelOutputs.MODEL_EVENTS, new StreamRecord<>(event));
    }

    private int subtask() {
        return getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    }

    private String subtaskName() {
        return getOperatorConfig().getOperatorName() + " (" + (subtask() + 1) + "/"
                + getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks() + ")";
    }
}
