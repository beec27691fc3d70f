package org.streaminference.operators.inference;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.InvalidCommandException;
import org.streaminference.model.control.ModelCommand;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ModelEvent;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ServedFeatures;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.Printable;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.StorableValues;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The micro-batched inference operator. Records are kept, in arrival order with the watermarks between them, until
 * their answer is emitted; batches run on inference threads of the operator's own, and a finished batch hands all
 * its answers to the task thread with one mailbox mail (Flink's async I/O operator needs one per record, which
 * dominates the cost of a small model). Every record without an emitted answer is in operator state at a
 * checkpoint and is run again after a restore, so nothing is lost and nothing emitted twice. The queue is bounded
 * by the capacity: when it is full, processElement yields to the mailbox, which back-pressures the input.
 *
 * <p>The second input carries model commands (JSON, broadcast to every subtask). The operator keeps its
 * {@link ModelDeployment} and the commands it has not applied yet in broadcast state. A command that needs a
 * version this subtask has not loaded is applied only after that version is loaded and verified on a loader
 * thread; records keep flowing on the current versions meanwhile (make before break). A version that leaves the
 * deployment is released after its last in-flight record was answered.
 */
final class MicroBatchInferenceOperator extends AbstractStreamOperator<Prediction>
        implements OneInputStreamOperator<EnrichedEvent, Prediction>,
                TwoInputStreamOperator<EnrichedEvent, String, Prediction>,
                BoundedOneInput,
                BoundedMultiInput {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatchInferenceOperator.class);
    private static final long NO_TIMESTAMP = Long.MIN_VALUE;
    private static final long RELEASE_TIMEOUT_MILLIS = 60_000;

    /** The deployment this operator serves, under key {@value #DEPLOYMENT_KEY}. */
    static final MapStateDescriptor<String, String> DEPLOYMENT_STATE =
            new MapStateDescriptor<>("model-deployment", Types.STRING, Types.STRING);
    /** Commands received and not applied yet (a version still loading), by arrival number. */
    static final MapStateDescriptor<Long, String> PENDING_COMMANDS_STATE =
            new MapStateDescriptor<>("model-commands-pending", Types.LONG, Types.STRING);
    static final String DEPLOYMENT_KEY = "deployment";

    private final ModelProvider modelProvider;
    private final String initialLocation;
    private final BatchingOptions options;
    /** The spec id served feature vectors are logged under; null where they are not logged. */
    private final String servedFeatureSpec;
    private final ModelControlLimits controlLimits;
    private final transient MailboxExecutor mailbox;

    private transient ListState<Tuple2<EnrichedEvent, Long>> pendingState;
    private transient BroadcastState<String, String> deploymentState;
    private transient BroadcastState<Long, String> pendingCommandsState;
    private transient List<Tuple2<EnrichedEvent, Long>> recovered;

    private transient ModelDeployment restoredDeployment;
    private transient ServedVersions versions;
    private transient Map<String, InferenceMetrics> versionMetrics;
    /** The model name this operator serves, from the first version it loaded. */
    private transient String modelName;
    private transient ArrayDeque<String> pendingCommands;
    private transient ExecutorService loader;
    private transient boolean loading;
    /** Counts loads started; a load's answer counts only if no newer load started since (one timed out). */
    private transient long loadAttempt;

    private transient LinkedList<Entry> queue;
    private transient List<Entry> shadowQueue;
    private transient int inFlightRecords;
    private transient Counter deployments;
    private transient Counter rejectedCommands;
    private transient Counter shadowFailures;
    private transient Counter storeRejected;

    MicroBatchInferenceOperator(StreamOperatorParameters<Prediction> parameters, ModelProvider modelProvider,
            String initialLocation, BatchingOptions options, String servedFeatureSpec,
            ModelControlLimits controlLimits, MailboxExecutor mailbox) {
        super(parameters);
        this.controlLimits = controlLimits;
        this.modelProvider = modelProvider;
        this.initialLocation = initialLocation;
        this.options = options;
        this.servedFeatureSpec = servedFeatureSpec;
        this.mailbox = mailbox;
    }

    /** A record waiting for its answer from one version, or a watermark waiting for the records before it. */
    static final class Entry implements BatchRunner.Pending {
        final EnrichedEvent event;
        final long timestamp;
        final long enqueuedNanos;
        final Watermark watermark;
        final ServedVersion version;
        private final AtomicReference<Object> answer = new AtomicReference<>();

        Entry(EnrichedEvent event, long timestamp, ServedVersion version) {
            this.event = event;
            this.timestamp = timestamp;
            this.enqueuedNanos = System.nanoTime();
            this.watermark = null;
            this.version = version;
        }

        Entry(Watermark watermark) {
            this.event = null;
            this.timestamp = NO_TIMESTAMP;
            this.enqueuedNanos = 0;
            this.watermark = watermark;
            this.version = null;
        }

        @Override
        public EnrichedEvent event() {
            return event;
        }

        @Override
        public long enqueuedNanos() {
            return enqueuedNanos;
        }

        @Override
        public boolean complete(Prediction prediction, DeadLetter deadLetter) {
            return answer.compareAndSet(null, prediction != null ? prediction : deadLetter);
        }

        boolean isDone() {
            return watermark != null || answer.get() != null;
        }
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
        recovered = new ArrayList<>();
        pendingCommands = new ArrayDeque<>();
        if (context.isRestored()) {
            for (Tuple2<EnrichedEvent, Long> record : pendingState.get()) {
                recovered.add(record);
            }
            String json = deploymentState.get(DEPLOYMENT_KEY);
            restoredDeployment = json == null ? null : ModelDeployment.fromJson(json);
            List<Map.Entry<Long, String>> commands = new ArrayList<>();
            pendingCommandsState.entries().forEach(commands::add);
            commands.sort(Map.Entry.comparingByKey());
            commands.forEach(c -> pendingCommands.add(c.getValue()));
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        queue = new LinkedList<>();
        shadowQueue = new ArrayList<>();
        versions = new ServedVersions();
        versionMetrics = new HashMap<>();
        deployments = getMetricGroup().counter("modelDeployments");
        rejectedCommands = getMetricGroup().counter("modelCommandsRejected");
        shadowFailures = getMetricGroup().counter("shadowFailures");
        storeRejected = getMetricGroup().counter("predictionsStoreRejected");
        getMetricGroup().gauge("modelVersionsLoaded", () -> versions.count());
        loader = newLoader();

        if (restoredDeployment == null) {
            ServedVersion initial = load(initialLocation);
            deploy(ModelDeployment.initial(initial.manifest().name(), initial.version, initialLocation), null);
        } else {
            // restored: serve exactly what was served before the failure, loaded before the first record runs
            ModelDeployment restored = restoredDeployment;
            for (String version : restored.servedVersions()) {
                try {
                    load(restored.location(version));
                } catch (ModelLoadException e) {
                    if (version.equals(restored.active())) {
                        throw new IllegalStateException("Cannot restore " + restored.model() + ":" + version
                                + ", the active version before the restore: " + e.getMessage(), e);
                    }
                    LOG.error("Cannot restore {}:{} ({}); it is left out of the deployment",
                            restored.model(), version, e.getMessage());
                }
            }
            deploy(versions.withoutUnloaded(restored), null);
        }
        LOG.info("{} serves {} in batches of up to {} records or {} ms, {} at once; {} records and {} commands"
                        + " restored",
                subtaskName(), versions.deployment().describe(),
                options.maxBatchSize(), options.maxDelayMillis(), options.concurrentBatches(), recovered.size(),
                pendingCommands.size());
        for (Tuple2<EnrichedEvent, Long> record : recovered) {
            add(record.f0, record.f1);
        }
        recovered = null;
        advanceCommands();
    }

    private ExecutorService newLoader() {
        return Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "model-loader-" + subtask());
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<Tuple2<EnrichedEvent, Long>> unanswered = new ArrayList<>(inFlightRecords);
        for (Entry entry : queue) {
            if (entry.watermark == null) {
                unanswered.add(Tuple2.of(entry.event, entry.timestamp));
            }
        }
        pendingState.update(unanswered);
        deploymentState.put(DEPLOYMENT_KEY, versions.deployment().toJson());
        pendingCommandsState.clear();
        long n = 0;
        for (String command : pendingCommands) {
            pendingCommandsState.put(n++, command);
        }
    }

    @Override
    public void endInput() throws Exception {
        versions.flush();
        while (inFlightRecords > 0 || !shadowQueue.isEmpty()) {
            mailbox.yield();
        }
        emitReady(); // watermarks still queued behind the last records
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
        while (loading || !pendingCommands.isEmpty()) {
            if (!loading) {
                advanceCommands();
                continue;
            }
            mailbox.yield(); // a load finishes or times out (model.load-timeout) through the mailbox
        }
    }

    @Override
    public void close() throws Exception {
        if (loader != null) {
            loader.shutdownNow();
        }
        if (versions != null) {
            versions.releaseAll(RELEASE_TIMEOUT_MILLIS);
        }
        super.close();
    }

    // ---------------------------------------------------------------------------------------------------------
    // records
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement(StreamRecord<EnrichedEvent> record) throws Exception {
        while (inFlightRecords + shadowQueue.size() >= options.capacity()) {
            mailbox.yield(); // back-pressure: the input waits until batches finish
        }
        add(record.getValue(), record.hasTimestamp() ? record.getTimestamp() : NO_TIMESTAMP);
    }

    @Override
    public void processElement1(StreamRecord<EnrichedEvent> record) throws Exception {
        processElement(record);
    }

    private void add(EnrichedEvent event, long timestamp) throws Exception {
        ServedVersion target = versions.route(event.getEvent().getEntityId());
        Entry entry = new Entry(event, timestamp, target);
        queue.addLast(entry);
        inFlightRecords++;
        target.outstanding++;
        target.metrics.requests.inc();
        if (target.runner.rejectInvalid(entry)) {
            emitReady();
            return;
        }
        target.batcher.add(entry);
        ServedVersion shadow = versions.shadow();
        if (shadow != null) {
            Entry shadowEntry = new Entry(event, timestamp, shadow);
            shadow.outstanding++;
            shadow.metrics.requests.inc();
            shadowQueue.add(shadowEntry);
            if (!shadow.runner.rejectInvalid(shadowEntry)) {
                shadow.batcher.add(shadowEntry);
            }
        }
    }

    @Override
    public void processWatermark(Watermark mark) {
        if (queue.isEmpty()) {
            output.emitWatermark(mark);
        } else {
            queue.addLast(new Entry(mark));
        }
    }

    @Override
    public void processWatermark1(Watermark mark) {
        processWatermark(mark);
    }

    /** The control stream's watermarks do not hold back the events' watermarks. */
    @Override
    public void processWatermark2(Watermark mark) {}

    /** On the batcher's timer thread: answers the records of a late batch that still have no answer with TIMEOUT. */
    private void timeOut(ServedVersion version, List<Entry> batch) {
        boolean any = false;
        for (Entry e : batch) {
            if (!e.isDone()) {
                version.runner.fail(e, ReasonCode.TIMEOUT, "no answer from " + version.manifest().id() + " within "
                        + options.timeoutMillis() + " ms");
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

    /** On the task thread: emits every answer that may go out now, respecting order mode and watermarks. */
    private void emitReady() throws Exception {
        emitShadows();
        if (options.ordered()) {
            while (!queue.isEmpty() && queue.peekFirst().isDone()) {
                emit(queue.pollFirst());
            }
        } else {
            boolean atHead = true;
            for (Iterator<Entry> it = queue.iterator(); it.hasNext(); ) {
                Entry entry = it.next();
                if (entry.watermark != null) {
                    if (!atHead) {
                        break; // records after a watermark wait until every record before it is out
                    }
                    emit(entry);
                    it.remove();
                } else if (entry.isDone()) {
                    emit(entry);
                    it.remove();
                } else {
                    atHead = false;
                }
            }
        }
        releaseDrained();
    }

    private void emit(Entry entry) {
        if (entry.watermark != null) {
            output.emitWatermark(entry.watermark);
            return;
        }
        inFlightRecords--;
        entry.version.outstanding--;
        Object answer = entry.answer.get();
        String unstorable = answer instanceof Prediction p ? StorableValues.problem(p) : null;
        if (unstorable != null) {
            // caught before any sink: a value a sink cannot keep would fail it on every restart
            storeRejected.inc();
            answer = DeadLetters.of(entry.event.getEvent(), entry.event.getSource(), ReasonCode.STORE_REJECTED,
                    "the prediction cannot be stored: " + unstorable);
        }
        if (answer instanceof Prediction prediction) {
            output.collect(record(prediction, entry.timestamp));
            if (servedFeatureSpec != null) {
                output.collect(ModelOutputs.SERVED_FEATURES, record(servedFeatures(entry.event, prediction),
                        entry.timestamp));
            }
        } else {
            output.collect(DeadLetters.TAG, record((DeadLetter) answer, entry.timestamp));
        }
    }

    /** Shadow answers go out as they finish; a failed shadow record is counted, never a dead letter. */
    private void emitShadows() {
        if (shadowQueue.isEmpty()) {
            return;
        }
        for (Iterator<Entry> it = shadowQueue.iterator(); it.hasNext(); ) {
            Entry entry = it.next();
            if (entry.isDone()) {
                it.remove();
                entry.version.outstanding--;
                if (entry.answer.get() instanceof Prediction prediction) {
                    output.collect(ModelOutputs.SHADOW_PREDICTIONS, record(prediction, entry.timestamp));
                } else {
                    shadowFailures.inc();
                }
            }
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
        return timestamp == NO_TIMESTAMP ? new StreamRecord<>(value) : new StreamRecord<>(value, timestamp);
    }

    // ---------------------------------------------------------------------------------------------------------
    // model commands
    // ---------------------------------------------------------------------------------------------------------

    @Override
    public void processElement2(StreamRecord<String> record) throws Exception {
        String json = record.getValue();
        if (json.length() > controlLimits.maxCommandBytes()
                || json.getBytes(StandardCharsets.UTF_8).length > controlLimits.maxCommandBytes()) {
            reject(json, null, "TOO_LARGE", "the command is over the limit of " + controlLimits.maxCommandBytes()
                    + " bytes (model.control.max-command-size)");
            return;
        }
        if (pendingCommands.size() >= controlLimits.maxPendingCommands()) {
            reject(json, null, "TOO_MANY_PENDING", pendingCommands.size() + " commands already wait behind a load"
                    + " (model.control.max-pending-commands)");
            return;
        }
        pendingCommands.addLast(json);
        advanceCommands();
    }

    /**
     * Applies pending commands in order. One that needs versions this subtask has not loaded starts loading them
     * and waits; the commands behind it wait too, so that every subtask applies the same commands in the same order.
     */
    private void advanceCommands() throws Exception {
        while (!loading && !pendingCommands.isEmpty()) {
            String json = pendingCommands.peekFirst();
            ModelCommand command;
            try {
                command = ModelCommand.fromJson(json.getBytes(StandardCharsets.UTF_8));
            } catch (InvalidCommandException e) {
                pendingCommands.pollFirst();
                reject(json, null, "INVALID_COMMAND", e.getMessage());
                continue;
            }
            if (!command.model().equals(versions.deployment().model())) {
                pendingCommands.pollFirst(); // another job's model
                continue;
            }
            ModelDeployment next;
            try {
                next = versions.deployment().apply(command);
            } catch (InvalidCommandException e) {
                pendingCommands.pollFirst();
                reject(json, command, "INVALID_COMMAND", e.getMessage());
                continue;
            }
            List<String> missing = new ArrayList<>();
            for (String version : next.servedVersions()) {
                if (!versions.isLoaded(version)) {
                    missing.add(version);
                }
            }
            if (missing.isEmpty()) {
                pendingCommands.pollFirst();
                deploy(next, command);
                continue;
            }
            loading = true;
            long attempt = ++loadAttempt;
            startLoading(command, next, missing, attempt);
            long deadline = getProcessingTimeService().getCurrentProcessingTime()
                    + controlLimits.loadTimeout().toMillis();
            getProcessingTimeService().registerTimer(deadline, time -> loadTimedOut(command, attempt));
        }
    }

    /** On the loader thread: loads the versions, then hands them to the task thread. */
    private void startLoading(ModelCommand command, ModelDeployment next, List<String> toLoad, long attempt) {
        LOG.info("{}: loading {} for '{}' while {} keeps serving", subtaskName(), toLoad, command.describe(),
                versions.deployment().describe());
        loader.execute(() -> {
            Map<String, ModelProvider.Handle> handles = new LinkedHashMap<>();
            ModelLoadException failure = null;
            for (String version : toLoad) {
                try {
                    String announced = command.manifest() != null && version.equals(command.version())
                            ? command.manifest().sha256() : null;
                    ModelProvider.Handle handle = modelProvider.open(getRuntimeContext(), next.location(version),
                            new ModelLoader.Expected(next.model(), version, announced));
                    handles.put(version, handle);
                    String loaded = handle.model().manifest().version();
                    String name = handle.model().manifest().name();
                    if (!loaded.equals(version) || !name.equals(next.model())) {
                        failure = new ModelLoadException(ModelLoadException.Reason.INVALID_MANIFEST, "the manifest at "
                                + next.location(version) + " describes " + name + ":" + loaded + ", not "
                                + next.model() + ":" + version);
                        break;
                    }
                    if (announced != null && !announced.equals(handle.model().manifest().sha256())) {
                        failure = new ModelLoadException(ModelLoadException.Reason.CHECKSUM_MISMATCH, "the store's "
                                + next.model() + ":" + version + " has sha256 " + handle.model().manifest().sha256()
                                + " but was announced with " + announced);
                        break;
                    }
                } catch (ModelLoadException e) {
                    failure = e;
                    break;
                } catch (RuntimeException e) {
                    LOG.warn("{}: loading {} failed unexpectedly", subtaskName(), next.location(version), e);
                    failure = new ModelLoadException(ModelLoadException.Reason.RUNTIME_ERROR, String.valueOf(e), e);
                    break;
                }
            }
            ModelLoadException error = failure;
            try {
                mailbox.execute(() -> loaded(command, next, handles, error, attempt), "model versions loaded");
            } catch (RejectedExecutionException closing) {
                closeAll(handles.values());
            }
        });
    }

    /** On the task thread: switches to the new deployment, or rejects the command and keeps the old one. */
    private void loaded(ModelCommand command, ModelDeployment next, Map<String, ModelProvider.Handle> handles,
            ModelLoadException failure, long attempt) throws Exception {
        if (!loading || attempt != loadAttempt) {
            LOG.info("{}: a load for '{}' finished after its timeout; its versions are released", subtaskName(),
                    command.describe());
            closeAll(handles.values());
            return;
        }
        loading = false;
        pendingCommands.pollFirst();
        if (failure != null) {
            closeAll(handles.values());
            reject(new String(command.toJson(), StandardCharsets.UTF_8), command, failure.reason().name(),
                    failure.getMessage());
        } else {
            for (ModelProvider.Handle handle : handles.values()) {
                serve(handle);
            }
            deploy(next, command);
        }
        advanceCommands();
    }

    /**
     * On the task thread: a load that has not answered in time is rejected and the commands behind it go on. The
     * loading thread cannot be stopped (ONNX Runtime does not listen to interrupts), so it is left behind and a new
     * one takes the next loads; whatever it loads later is released unused.
     */
    private void loadTimedOut(ModelCommand command, long attempt) throws Exception {
        if (!loading || attempt != loadAttempt) {
            return;
        }
        loading = false;
        pendingCommands.pollFirst();
        loader.shutdownNow();
        loader = newLoader();
        reject(new String(command.toJson(), StandardCharsets.UTF_8), command, "LOAD_TIMEOUT",
                "loading took longer than " + controlLimits.loadTimeout() + " (model.load-timeout)");
        advanceCommands();
    }

    private static void closeAll(Iterable<ModelProvider.Handle> handles) {
        for (ModelProvider.Handle handle : handles) {
            try {
                handle.close(); // never ran a record
            } catch (Exception e) {
                LOG.warn("Releasing a model version that was not deployed failed", e);
            }
        }
    }

    /** Loads a version on the task thread (at start and restore, before any record is processed). */
    private ServedVersion load(String location) throws ModelLoadException {
        return serve(modelProvider.open(getRuntimeContext(), location));
    }

    private ServedVersion serve(ModelProvider.Handle handle) {
        String name = handle.model().manifest().name();
        String version = handle.model().manifest().version();
        if (modelName == null) {
            modelName = name;
        }
        InferenceMetrics metrics = versionMetrics.computeIfAbsent(version,
                v -> new InferenceMetrics(getMetricGroup(), name, v));
        ServedVersion[] self = new ServedVersion[1];
        ServedVersion sv = new ServedVersion(handle, metrics, options,
                "inference-" + name + "-" + version + "-" + subtask(),
                batch -> post("inference batch finished"),
                batch -> timeOut(self[0], batch));
        self[0] = sv;
        versions.add(sv);
        event(ModelEvent.Type.LOADED, version, null, null, null, sv.loadTimeMillis(), null);
        return sv;
    }

    /** Routes records by {@code next} from now on; versions it no longer serves drain, then are released. */
    private void deploy(ModelDeployment next, ModelCommand command) throws Exception {
        versions.deploy(next);
        deployments.inc();
        LOG.info("{} now serves {}{}", subtaskName(), next.describe(),
                command == null ? "" : " after '" + command.describe() + "'");
        event(ModelEvent.Type.DEPLOYED, next.active(), command, null, null, null, next);
        releaseDrained();
    }

    private void releaseDrained() throws Exception {
        for (String released : versions.releaseDrained(RELEASE_TIMEOUT_MILLIS)) {
            event(ModelEvent.Type.RELEASED, released, null, null, null, null, null);
        }
    }

    private void reject(String json, ModelCommand command, String reason, String message) {
        rejectedCommands.inc();
        LOG.warn("{}: model command rejected ({}): {}; still serving {}. Command: {}", subtaskName(), reason,
                Printable.escape(message, 500), versions.deployment().describe(), Printable.escape(json, 300));
        event(ModelEvent.Type.REJECTED, command == null ? null : command.version(), command, reason, message, null,
                null);
    }

    private void event(ModelEvent.Type type, String version, ModelCommand command, String reason, String message,
            Long loadMillis, ModelDeployment deployed) {
        String model = versions.deployment() != null ? versions.deployment().model() : modelName;
        ModelEvent event = new ModelEvent(type, getRuntimeContext().getJobInfo().getJobName(),
                getRuntimeContext().getJobInfo().getJobId().toHexString(), subtask(), model, version,
                command == null ? null : command.id(), command == null ? null : command.describe(), reason, message,
                loadMillis, deployed, System.currentTimeMillis());
        output.collect(ModelOutputs.MODEL_EVENTS, new StreamRecord<>(event.toJson()));
    }

    private int subtask() {
        return getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    }

    private String subtaskName() {
        return getOperatorConfig().getOperatorName() + " (" + (subtask() + 1) + "/"
                + getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks() + ")";
    }
}
