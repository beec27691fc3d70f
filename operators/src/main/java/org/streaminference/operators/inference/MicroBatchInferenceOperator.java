package org.streaminference.operators.inference;

import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.schemas.tracing.RecordTracing;
import org.streaminference.schemas.tracing.TracingConfig;
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
import org.streaminference.model.control.ControlMessages;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelDeployment;
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

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;

/**
 * The micro-batched inference operator: the glue between Flink and its two parts. Records wait in an
 * {@link InferenceQueue} (ordered or unordered, with the watermarks between them) until their answer may go out;
 * the {@link ModelController} decides which versions serve them and applies the model commands of the second
 * input. Batches run on inference threads of each version's own, and a finished batch hands all its answers to the
 * task thread with one mailbox mail (Flink's async I/O operator needs one per record, which dominates the cost of
 * a small model). This class keeps the lifecycle, the state and the outputs.
 *
 * <p>Every record without an emitted answer is in operator state at a checkpoint and is run again after a
 * restore, so nothing is lost and nothing emitted twice; the deployment and the commands not applied yet are in
 * broadcast state. The queue is bounded by the capacity: when it is full, processElement yields to the mailbox,
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

    /** The deployment this operator serves, under key {@value #DEPLOYMENT_KEY}. */
    static final MapStateDescriptor<String, String> DEPLOYMENT_STATE =
            new MapStateDescriptor<>("model-deployment", Types.STRING, Types.STRING);
    /**
     * Commands received and not applied yet (a version still loading), by arrival number, in their JSON form (the
     * form savepoints of earlier versions hold).
     */
    static final MapStateDescriptor<Long, String> PENDING_COMMANDS_STATE =
            new MapStateDescriptor<>("model-commands-pending", Types.LONG, Types.STRING);
    static final String DEPLOYMENT_KEY = "deployment";

    private final ModelProvider modelProvider;
    private final String initialLocation;
    private final BatchingConfig options;
    /** The spec id served feature vectors are logged under; null where they are not logged. */
    private final String servedFeatureSpec;
    private final ModelControlLimits controlLimits;
    private final DriftConfig drift;
    private final TracingConfig tracingConfig;
    private final transient MailboxExecutor mailbox;

    private transient ListState<Tuple2<EnrichedEvent, Long>> pendingState;
    private transient BroadcastState<String, String> deploymentState;
    private transient BroadcastState<Long, String> pendingCommandsState;
    private transient List<Tuple2<EnrichedEvent, Long>> restoredRecords;
    private transient ModelDeployment restoredDeployment;
    private transient List<ControlMessage> restoredCommands;

    private transient ModelController controller;
    private transient InferenceQueue<InferenceRequest> queue;
    /** Shadow requests: emitted as they finish, never held back (they carry no watermark duty). */
    private transient InferenceQueue<InferenceRequest> shadows;
    private transient Map<String, InferenceMetrics> versionMetrics;
    private transient InferenceQueue.Emitter<InferenceRequest> answers;
    private transient InferenceQueue.Emitter<InferenceRequest> shadowAnswers;
    private transient Counter shadowFailures;
    private transient Counter storeRejected;
    /** Drift sketches of each version with a baseline, by version; drained on a timer and at the end of input. */
    private transient Map<String, DriftTracker> driftTrackers;
    private transient RecordTracing tracing;

    MicroBatchInferenceOperator(StreamOperatorParameters<Prediction> parameters, ModelProvider modelProvider,
            String initialLocation, BatchingConfig options, String servedFeatureSpec,
            ModelControlLimits controlLimits, DriftConfig drift, TracingConfig tracing, MailboxExecutor mailbox) {
        super(parameters);
        this.tracingConfig = tracing;
        this.drift = drift;
        this.controlLimits = controlLimits;
        this.modelProvider = modelProvider;
        this.initialLocation = initialLocation;
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
        pendingState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(
                "micro-batch-pending", new TupleTypeInfo<>(new AvroTypeInfo<>(EnrichedEvent.class), Types.LONG)));
        deploymentState = context.getOperatorStateStore().getBroadcastState(DEPLOYMENT_STATE);
        pendingCommandsState = context.getOperatorStateStore().getBroadcastState(PENDING_COMMANDS_STATE);
        restoredRecords = new ArrayList<>();
        restoredCommands = new ArrayList<>();
        if (context.isRestored()) {
            pendingState.get().forEach(restoredRecords::add);
            String json = deploymentState.get(DEPLOYMENT_KEY);
            restoredDeployment = json == null ? null : ModelDeployment.fromJson(json);
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
        if (drift.enabled()) {
            scheduleDriftReport();
        }
        shadowFailures = getMetricGroup().counter("shadowFailures");
        storeRejected = getMetricGroup().counter("predictionsStoreRejected");
        answers = new InferenceQueue.Emitter<>() {
            @Override
            public void emit(InferenceRequest request) {
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
        controller = new ModelController(this, controlLimits, new ModelController.Reporter(
                getRuntimeContext().getJobInfo().getJobName(),
                getRuntimeContext().getJobInfo().getJobId().toHexString(), subtask(), subtaskName()),
                getMetricGroup());
        controller.start(initialLocation, restoredDeployment);
        LOG.info("{} serves {} in batches of up to {} records or {} ms, {} at once; {} records and {} commands"
                        + " restored",
                subtaskName(), controller.deployment().describe(), options.maxBatchSize(), options.maxDelayMillis(),
                options.concurrentBatches(), restoredRecords.size(), restoredCommands.size());
        for (Tuple2<EnrichedEvent, Long> record : restoredRecords) {
            add(record.f0, record.f1);
        }
        restoredRecords = null;
        // the waiting commands resume only now, so that the restored records run on the versions they had
        controller.resume(restoredCommands);
        restoredCommands = null;
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<Tuple2<EnrichedEvent, Long>> unanswered = new ArrayList<>(queue.size());
        for (InferenceRequest request : queue.pendingRecords()) {
            unanswered.add(Tuple2.of(request.event, request.timestamp));
        }
        pendingState.update(unanswered);
        deploymentState.put(DEPLOYMENT_KEY, controller.deployment().toJson());
        pendingCommandsState.clear();
        long n = 0;
        for (ModelCommand command : controller.pendingCommands()) {
            pendingCommandsState.put(n++, new String(ModelCommands.toJson(command), StandardCharsets.UTF_8));
        }
    }

    @Override
    public void endInput() throws Exception {
        controller.versions().flush();
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

    private void track(ServedVersion version, InferenceRequest request, Prediction prediction) {
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
        while (!controller.isSettled()) {
            if (controller.isLoading()) {
                mailbox.yield(); // a load finishes or times out (model.load-timeout) through the mailbox
            } else {
                controller.advance();
            }
        }
    }

    @Override
    public void close() throws Exception {
        if (controller != null) {
            controller.close();
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
        while (queue.size() + shadows.size() >= options.capacity()) {
            mailbox.yield(); // back-pressure: the input waits until batches finish
        }
        add(record.getValue(), record.hasTimestamp() ? record.getTimestamp() : InferenceRequest.NO_TIMESTAMP);
    }

    @Override
    public void processElement1(StreamRecord<EnrichedEvent> record) throws Exception {
        processElement(record);
    }

    private void add(EnrichedEvent event, long timestamp) throws Exception {
        ServedVersions versions = controller.versions();
        InferenceRequest request = new InferenceRequest(event, timestamp,
                versions.route(event.getEvent().getEntityId()));
        boolean runs = submit(request);
        queue.add(request);
        if (!runs) {
            emitReady(); // answered before the model: input it cannot take, which no shadow runs either
            return;
        }
        // not request.isDone(): a batch cut by this record may already have answered it on an inference thread
        ServedVersion shadow = versions.shadow();
        if (shadow != null) {
            InferenceRequest shadowRequest = new InferenceRequest(event, timestamp, shadow);
            submit(shadowRequest);
            shadows.add(shadowRequest);
        }
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
        controller.releaseDrained();
    }

    private void emitAnswer(InferenceRequest request) {
        request.version.outstanding--;
        Prediction prediction = request.prediction();
        DeadLetter deadLetter = request.deadLetter();
        String unstorable = prediction != null ? StorableValues.problem(prediction) : null;
        if (unstorable != null) {
            // caught before any sink: a value a sink cannot keep would fail it on every restart
            storeRejected.inc();
            prediction = null;
            deadLetter = DeadLetters.of(request.event.getEvent(), request.event.getSource(),
                    ReasonCode.STORE_REJECTED, "the prediction cannot be stored: " + unstorable);
        }
        if (prediction != null) {
            track(request.version, request, prediction);
            output.collect(record(prediction, request.timestamp));
            if (servedFeatureSpec != null) {
                output.collect(ModelOutputs.SERVED_FEATURES, record(servedFeatures(request.event, prediction),
                        request.timestamp));
            }
        } else {
            output.collect(DeadLetters.TAG, record(deadLetter, request.timestamp));
        }
    }

    /** A shadow answer goes out as it finishes; a failed shadow record is counted, never a dead letter. */
    private void emitShadowAnswer(InferenceRequest request) {
        request.version.outstanding--;
        if (request.prediction() != null) {
            track(request.version, request, request.prediction());
            output.collect(ModelOutputs.SHADOW_PREDICTIONS, record(request.prediction(), request.timestamp));
        } else {
            shadowFailures.inc();
        }
    }

    private ServedFeatures servedFeatures(EnrichedEvent event, Prediction prediction) {
        return ServedFeatures.newBuilder()
                .setEventId(prediction.getEventId())
                .setEntityId(prediction.getEntityId())
                .setEventTime(event.getEvent().getEventTime())
                .setFeatureSpec(servedFeatureSpec)
                .setModelName(prediction.getModelName())
                .setModelVersion(prediction.getModelVersion())
                .setFeatures(event.getFeatures())
                .build();
    }

    private static <T> StreamRecord<T> record(T value, long timestamp) {
        return timestamp == InferenceRequest.NO_TIMESTAMP ? new StreamRecord<>(value)
                : new StreamRecord<>(value, timestamp);
    }

    /** On the batcher's timer thread: answers the records of a late batch that still have no answer with TIMEOUT. */
    private void timeOut(ServedVersion version, List<BatchRunner.Pending> batch) {
        boolean any = false;
        for (BatchRunner.Pending request : batch) {
            if (!request.isDone()) {
                version.runner.fail(request, ReasonCode.TIMEOUT, "no answer from " + version.manifest().id()
                        + " within " + options.timeoutMillis() + " ms");
                any = true;
            }
        }
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
        controller.receive(record.getValue());
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
        InferenceMetrics metrics = versionMetrics.computeIfAbsent(version,
                v -> new InferenceMetrics(getMetricGroup(), name, v));
        ServedVersion[] self = new ServedVersion[1];
        self[0] = new ServedVersion(handle, metrics, options, "inference-" + name + "-" + version + "-" + subtask(),
                batch -> post("inference batch finished"), batch -> timeOut(self[0], batch), tracing);
        int[] baselineIndices = handle.baselineIndices();
        if (drift.enabled() && baselineIndices != null) {
            self[0].drift = driftTrackers.computeIfAbsent(version, v -> new DriftTracker(name, v,
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
