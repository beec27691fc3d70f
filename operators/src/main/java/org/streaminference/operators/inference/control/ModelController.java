package org.streaminference.operators.inference.control;

import org.streaminference.model.InferenceModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.control.InvalidCommandException;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.schemas.RejectedCommand;
import org.streaminference.schemas.UntrustedText;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.function.ThrowingRunnable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * What one inference subtask serves of one model, and how the model's commands change it: commands
 * are applied one at a time, in the order received, so that every subtask goes through the same
 * deployments. A command that needs a version not loaded yet starts loading it on a loader thread
 * and waits, with the commands behind it, while records keep flowing on the current versions (make
 * before break); the switch happens on the task thread. A load that fails or does not finish in
 * time is rejected and what was served before is still served. Every command gets an answer, a
 * {@link ModelEvent}: DEPLOYED or REJECTED. A model the serving plan names before any version of it
 * was published serves nothing until its first PUBLISH; {@link ServedModels} keeps one controller
 * per model.
 *
 * <p>All methods run on the task thread; the {@link Host} gives the controller the task's mailbox
 * and timers, so that it runs the same in the operator and in a plain unit test.
 */
@Internal
public final class ModelController implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelController.class);
    static final long RELEASE_TIMEOUT_MILLIS = 60_000;

    /** What the controller needs from the operator that hosts it. */
    public interface Host {
        /** Loads and verifies a version (on the calling thread). */
        ModelProvider.Handle open(String location, ModelLoader.Expected expected)
                throws ModelLoadException;

        /** Starts serving a loaded version: its inference threads and metrics. */
        ServedVersion serve(ModelProvider.Handle handle);

        /** Runs {@code action} on the task thread later; throws if the task is closing. */
        void runOnTaskThread(ThrowingRunnable<Exception> action, String description);

        /** Runs {@code action} on the task thread after {@code delayMillis} of processing time. */
        void runOnTaskThreadAfter(long delayMillis, ThrowingRunnable<Exception> action);

        /** Emits a model event. */
        void emit(ModelEvent event);
    }

    /** Who reports the events: the job and the subtask. */
    public record Reporter(String job, String jobId, int subtask, String name) {}

    /**
     * Says why the model cannot serve a deployment: an ensemble it is a member of could not combine
     * the versions that would answer (their answers' kinds or classes differ from the other
     * members'). Null where it can.
     */
    @FunctionalInterface
    interface EnsembleGuard {
        EnsembleGuard NONE = (model, answering) -> null;

        /**
         * @param answering the versions of the model that would answer (every one but the shadow),
         *     by version
         */
        String problem(String model, Map<String, InferenceModel> answering);
    }

    private final Host host;

    /** The model this controller serves. */
    private final String model;

    private final ModelControlLimits limits;
    private final Reporter reporter;
    private final ServedVersions versions = new ServedVersions();
    private final ArrayDeque<ModelCommand> pendingCommands = new ArrayDeque<>();
    private final Counter deployments;
    private final Counter rejectedCommands;
    private final EnsembleGuard ensembles;
    private ExecutorService loader;

    /**
     * The loader's thread, once it has one: a load that is given up on has its warm-up run stopped.
     */
    private volatile Thread loaderThread;

    private boolean loading;

    /**
     * Counts loads started; a load's answer counts only if no newer load started since (one timed
     * out).
     */
    private long loadAttempt;

    /**
     * The deployment being brought back (a plan serves the model again) until it is loaded; null
     * otherwise.
     */
    private ModelDeployment reinstating;

    /**
     * @param deployments counts deployments that took effect
     * @param rejectedCommands counts commands answered REJECTED
     */
    ModelController(
            Host host,
            String model,
            ModelControlLimits limits,
            Reporter reporter,
            Counter deployments,
            Counter rejectedCommands) {
        this(host, model, limits, reporter, deployments, rejectedCommands, EnsembleGuard.NONE);
    }

    /**
     * @param ensembles refuses deployments whose versions the ensembles this model is a member of
     *     cannot combine
     */
    ModelController(
            Host host,
            String model,
            ModelControlLimits limits,
            Reporter reporter,
            Counter deployments,
            Counter rejectedCommands,
            EnsembleGuard ensembles) {
        this.ensembles = ensembles;
        this.host = host;
        this.model = model;
        this.limits = limits;
        this.reporter = reporter;
        this.deployments = deployments;
        this.rejectedCommands = rejectedCommands;
        this.loader = newLoader();
    }

    /**
     * Serves {@code initial} (loaded from {@code initialLocation}), or after a restore exactly what
     * was served before the failure (versions loaded here, on the task thread, before the first
     * record runs); with neither, nothing until the model's first PUBLISH.
     *
     * @throws IllegalStateException when the restored active version cannot be loaded again
     */
    void start(ModelProvider.Handle initial, String initialLocation, ModelDeployment restored)
            throws Exception {
        if (restored == null) {
            if (initial != null) {
                ServedVersion version = serve(initial);
                deploy(ModelDeployment.initial(model, version.version, initialLocation), null);
            }
        } else {
            for (String version : restored.servedVersions()) {
                try {
                    load(restored.location(version));
                } catch (ModelLoadException e) {
                    if (version.equals(restored.active())) {
                        throw new IllegalStateException(
                                "Cannot restore "
                                        + restored.model()
                                        + ":"
                                        + version
                                        + ", the active version before the restore: "
                                        + e.getMessage(),
                                e);
                    }
                    LOG.error(
                            "Cannot restore {}:{} ({}); it is left out of the deployment",
                            restored.model(),
                            version,
                            e.getMessage());
                }
            }
            deploy(versions.withoutUnloaded(restored), null);
        }
    }

    /**
     * Loads and serves {@code initialLocation} (a test's start; the operator loads before it knows
     * the model).
     */
    void start(String initialLocation, ModelDeployment restored) throws Exception {
        start(
                restored == null ? host.open(initialLocation, null) : null,
                initialLocation,
                restored);
    }

    /**
     * Takes a command that was waiting at the checkpoint, behind those taken before it; no limit
     * applies.
     */
    void restore(ModelCommand command) {
        pendingCommands.addLast(command);
    }

    /**
     * Goes on with the commands that were waiting at the checkpoint, in their order, before any new
     * one.
     */
    public void resume(List<ControlMessage> restoredCommands) throws Exception {
        for (ControlMessage message : restoredCommands) {
            if (message.getCommand() != null) {
                restore(message.getCommand());
            } else {
                rejectUnread(message.getRejection());
            }
        }
        advance();
    }

    /**
     * Brings back {@code earlier}, the deployment the model had when a plan stopped serving it: its
     * versions load on the loader thread while the model's commands wait, then it is deployed as it
     * was. A version that cannot be loaded again leaves the model without a version (REJECTED, with
     * the reason), as a first PUBLISH would.
     */
    void reinstate(ModelDeployment earlier) {
        reinstating = earlier;
        loading = true;
        long attempt = ++loadAttempt;
        startLoading(null, earlier, new ArrayList<>(earlier.servedVersions()), attempt);
        host.runOnTaskThreadAfter(
                limits.loadTimeout().toMillis(), () -> loadTimedOut(null, attempt));
    }

    /** The deployment being brought back, or null. */
    ModelDeployment reinstating() {
        return reinstating;
    }

    /** The versions served now, for routing records. */
    public ServedVersions versions() {
        return versions;
    }

    public ModelDeployment deployment() {
        return versions.deployment();
    }

    /** Commands received and not applied yet, in order: what a checkpoint keeps. */
    public List<ModelCommand> pendingCommands() {
        return new ArrayList<>(pendingCommands);
    }

    /** Whether every command received has been answered. */
    public boolean isSettled() {
        return !loading && pendingCommands.isEmpty();
    }

    /** Whether a load is running (its answer comes through the task's mailbox). */
    public boolean isLoading() {
        return loading;
    }

    /**
     * Takes a record of the control input: a command, which waits its turn (over the limit of
     * waiting commands it is rejected at once), or one the source could not read, which is answered
     * with the source's reason.
     */
    public void receive(ControlMessage message) throws Exception {
        ModelCommand command = message.getCommand();
        if (command == null) {
            rejectUnread(message.getRejection());
            return;
        }
        if (pendingCommands.size() >= limits.maxPendingCommands()) {
            reject(
                    command,
                    "TOO_MANY_PENDING",
                    pendingCommands.size()
                            + " commands already wait behind a load (model.control.max-pending-commands)");
            return;
        }
        pendingCommands.addLast(command);
        advance();
    }

    /**
     * Applies pending commands in order. One that needs versions not loaded starts loading them and
     * waits; the commands behind it wait too, so that every subtask applies the same commands in
     * the same order.
     */
    void advance() throws Exception {
        while (!loading && !pendingCommands.isEmpty()) {
            ModelCommand command = pendingCommands.peekFirst();
            ModelDeployment next;
            try {
                next =
                        versions.deployment() == null
                                ? first(command)
                                : versions.deployment().apply(command);
            } catch (InvalidCommandException e) {
                pendingCommands.pollFirst();
                reject(command, "INVALID_COMMAND", e.getMessage());
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
                String mismatch = ensembles.problem(model, answering(next, Map.of()));
                if (mismatch != null) {
                    reject(command, "ENSEMBLE_MISMATCH", mismatch);
                    continue;
                }
                deploy(next, command);
                continue;
            }
            loading = true;
            long attempt = ++loadAttempt;
            startLoading(command, next, missing, attempt);
            host.runOnTaskThreadAfter(
                    limits.loadTimeout().toMillis(), () -> loadTimedOut(command, attempt));
        }
    }

    /** The deployment a model's first PUBLISH makes: its version, active. */
    private ModelDeployment first(ModelCommand command) throws InvalidCommandException {
        if (command.getCommand() != ModelCommandType.PUBLISH
                || (command.getRole() != null && command.getRole() != ModelRole.ACTIVE)) {
            throw new InvalidCommandException(
                    "no version of '"
                            + model
                            + "' is served yet: its first command is a"
                            + " PUBLISH as ACTIVE");
        }
        return ModelDeployment.initial(model, command.getVersion(), command.getLocation());
    }

    /**
     * Stops serving: the commands waiting are rejected and every version drains, then is released.
     */
    void retire(String reason) {
        while (!pendingCommands.isEmpty()) {
            reject(pendingCommands.pollFirst(), "UNKNOWN_MODEL", reason);
        }
        loading = false;
        reinstating = null;
        loadAttempt++; // a load still running is released when it finishes
        versions.retire();
    }

    /** Whether nothing is loaded or draining any more (after {@link #retire}). */
    boolean isReleased() {
        return versions.count() == 0;
    }

    /** On the loader thread: loads the versions, then hands them to the task thread. */
    private void startLoading(
            ModelCommand command, ModelDeployment next, List<String> toLoad, long attempt) {
        LOG.info(
                "{}: loading {} for '{}' while {} keeps serving",
                reporter.name(),
                toLoad,
                what(command, next),
                describe());
        loader.execute(
                () -> {
                    Map<String, ModelProvider.Handle> handles = new LinkedHashMap<>();
                    ModelLoadException failure = null;
                    for (String version : toLoad) {
                        try {
                            handles.put(version, openChecked(command, next, version));
                        } catch (ModelLoadException e) {
                            failure = e;
                            break;
                        }
                    }
                    ModelLoadException error = failure;
                    try {
                        host.runOnTaskThread(
                                () -> loaded(command, next, handles, error, attempt),
                                "model versions loaded");
                    } catch (RejectedExecutionException closing) {
                        closeAll(handles.values());
                    }
                });
    }

    /**
     * Opens {@code version} and checks it is the version named, with the sha256 announced (if any).
     */
    private ModelProvider.Handle openChecked(
            ModelCommand command, ModelDeployment next, String version) throws ModelLoadException {
        String announced =
                command != null
                                && command.getManifest() != null
                                && version.equals(command.getVersion())
                        ? command.getManifest().getSha256()
                        : null;
        ModelProvider.Handle handle;
        try {
            handle =
                    host.open(
                            next.location(version),
                            new ModelLoader.Expected(next.model(), version, announced));
        } catch (RuntimeException e) {
            LOG.warn(
                    "{}: loading {} failed unexpectedly",
                    reporter.name(),
                    next.location(version),
                    e);
            throw new ModelLoadException(
                    ModelLoadException.Reason.RUNTIME_ERROR, String.valueOf(e), e);
        }
        String loaded = handle.model().manifest().version();
        String name = handle.model().manifest().name();
        ModelLoadException mismatch = null;
        if (!loaded.equals(version) || !name.equals(next.model())) {
            mismatch =
                    new ModelLoadException(
                            ModelLoadException.Reason.INVALID_MANIFEST,
                            "the manifest at "
                                    + next.location(version)
                                    + " describes "
                                    + name
                                    + ":"
                                    + loaded
                                    + ", not "
                                    + next.model()
                                    + ":"
                                    + version);
        } else if (announced != null && !announced.equals(handle.model().manifest().sha256())) {
            mismatch =
                    new ModelLoadException(
                            ModelLoadException.Reason.CHECKSUM_MISMATCH,
                            "the store's "
                                    + next.model()
                                    + ":"
                                    + version
                                    + " has sha256 "
                                    + handle.model().manifest().sha256()
                                    + " but was announced with "
                                    + announced);
        }
        if (mismatch != null) {
            closeAll(List.of(handle));
            throw mismatch;
        }
        return handle;
    }

    /**
     * On the task thread: switches to the new deployment, or rejects the command and keeps the old
     * one.
     */
    private void loaded(
            ModelCommand command,
            ModelDeployment next,
            Map<String, ModelProvider.Handle> handles,
            ModelLoadException failure,
            long attempt)
            throws Exception {
        if (!loading || attempt != loadAttempt) {
            LOG.info(
                    "{}: a load for '{}' finished after its timeout; its versions are released",
                    reporter.name(),
                    what(command, next));
            closeAll(handles.values());
            return;
        }
        loading = false;
        reinstating = null;
        if (command != null) {
            pendingCommands.pollFirst();
        }
        String mismatch =
                failure != null ? null : ensembles.problem(model, answering(next, handles));
        if (failure != null) {
            closeAll(handles.values());
            rejected(what(command, next), command, failure.reason().name(), failure.getMessage());
        } else if (mismatch != null) {
            closeAll(handles.values());
            rejected(what(command, next), command, "ENSEMBLE_MISMATCH", mismatch);
        } else {
            for (ModelProvider.Handle handle : handles.values()) {
                serve(handle);
            }
            deploy(next, command);
        }
        advance();
    }

    /**
     * On the task thread: a load that has not answered in time is rejected and the commands behind
     * it go on. A warm-up run the loader is stuck in is stopped through ONNX Runtime's run
     * termination (it does not listen to interrupts), so the thread fails that load and ends; a new
     * one takes the next loads, and whatever the old one still loads is released unused.
     */
    private void loadTimedOut(ModelCommand command, long attempt) throws Exception {
        if (!loading || attempt != loadAttempt) {
            return;
        }
        loading = false;
        ModelDeployment earlier = reinstating;
        reinstating = null;
        if (command != null) {
            pendingCommands.pollFirst();
        }
        stopLoader();
        loader = newLoader();
        rejected(
                what(command, earlier),
                command,
                "LOAD_TIMEOUT",
                "loading took longer than " + limits.loadTimeout() + " (model.load-timeout)");
        advance();
    }

    /**
     * The versions of {@code next} that would answer (all but its shadow): loaded ones, or just
     * loaded in handles.
     */
    private Map<String, InferenceModel> answering(
            ModelDeployment next, Map<String, ModelProvider.Handle> handles) {
        Map<String, InferenceModel> answering = new LinkedHashMap<>();
        for (String version : next.servedVersions()) {
            if (version.equals(next.shadow())) {
                continue;
            }
            ModelProvider.Handle loaded = handles.get(version);
            answering.put(
                    version, loaded != null ? loaded.model() : versions.loaded(version).model);
        }
        return answering;
    }

    /**
     * The versions that answer now (all but the shadow), for the checks of the ensembles this model
     * is in.
     */
    Map<String, InferenceModel> answering() {
        return versions.deployment() == null
                ? Map.of()
                : answering(versions.deployment(), Map.of());
    }

    /** Releases the versions that left the deployment once their last record was answered. */
    void releaseDrained() throws Exception {
        for (String released : versions.releaseDrained(RELEASE_TIMEOUT_MILLIS)) {
            event(ModelEventType.RELEASED, released, null, null, null, null, null);
        }
    }

    /**
     * Stops loading (a warm-up in progress is stopped, and the loader waited for, so that no run is
     * left in ONNX Runtime when the TaskManager shuts down) and releases every version, stopping
     * their running batches.
     */
    @Override
    public void close() throws Exception {
        ExecutorService stopped = stopLoader();
        if (!stopped.awaitTermination(LOADER_STOP_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
            LOG.warn(
                    "{}: the model loader did not stop within {} ms",
                    reporter.name(),
                    LOADER_STOP_TIMEOUT_MILLIS);
        }
        versions.releaseAll(RELEASE_TIMEOUT_MILLIS);
    }

    /**
     * How long closing waits for a stopped loader: reading a model file may still take a moment.
     */
    static final long LOADER_STOP_TIMEOUT_MILLIS = 10_000;

    /**
     * Interrupts the loader and stops the warm-up run it may be in; returns the stopped executor.
     */
    private ExecutorService stopLoader() {
        ExecutorService stopping = loader;
        stopping.shutdownNow();
        Thread thread = loaderThread;
        if (thread != null) {
            ModelLoader.stopWarmUp(thread);
        }
        return stopping;
    }

    /**
     * Loads a version on the task thread (at start and restore, before any record is processed).
     */
    private ServedVersion load(String location) throws ModelLoadException {
        return serve(host.open(location, null));
    }

    private ServedVersion serve(ModelProvider.Handle handle) {
        ServedVersion version = host.serve(handle);
        versions.add(version);
        event(
                ModelEventType.LOADED,
                version.version,
                null,
                null,
                null,
                version.loadTimeMillis(),
                null);
        return version;
    }

    /**
     * Routes records by {@code next} from now on; versions it no longer serves drain, then are
     * released.
     */
    private void deploy(ModelDeployment next, ModelCommand command) throws Exception {
        versions.deploy(next);
        deployments.inc();
        LOG.info(
                "{} now serves {}{}",
                reporter.name(),
                next.describe(),
                command == null
                        ? ""
                        : " after '"
                                + ModelCommands.describe(command)
                                + "' (command "
                                + command.getId()
                                + ", "
                                + (command.getSignedBy() == null
                                        ? "unsigned"
                                        : "signed by key " + command.getSignedBy())
                                + ")");
        event(ModelEventType.DEPLOYED, next.active(), command, null, null, null, next);
        releaseDrained();
    }

    /** What a load is for: a command, or bringing back a deployment (no command). */
    private static String what(ModelCommand command, ModelDeployment next) {
        return command != null
                ? ModelCommands.describe(command)
                : "bringing back " + next.describe();
    }

    /** What this controller serves, for logs. */
    String describe() {
        return versions.deployment() == null
                ? model + " (no version yet)"
                : versions.deployment().describe();
    }

    /** Answers a command it cannot apply; what was served before is still served. */
    private void reject(ModelCommand command, String reason, String message) {
        rejected(ModelCommands.describe(command), command, reason, message);
    }

    /** Answers a control record that is not a command, with the reason the source found. */
    private void rejectUnread(RejectedCommand rejection) {
        rejected(
                rejection == null ? "" : rejection.getExcerpt(),
                null,
                rejection == null ? "INVALID_COMMAND" : rejection.getReason(),
                rejection == null ? "an empty control record" : rejection.getMessage());
    }

    private void rejected(String what, ModelCommand command, String reason, String message) {
        rejectedCommands.inc();
        LOG.warn(
                "{}: model command rejected ({}): {}; still serving {}. Command: {}",
                reporter.name(),
                reason,
                UntrustedText.escape(message, 500),
                describe(),
                UntrustedText.escape(what, 300));
        event(
                ModelEventType.REJECTED,
                command == null ? null : command.getVersion(),
                command,
                reason,
                message,
                null,
                null);
    }

    private void event(
            ModelEventType type,
            String version,
            ModelCommand command,
            String reason,
            String message,
            Long loadMillis,
            ModelDeployment deployed) {
        host.emit(
                new ModelEvent(
                        type,
                        reporter.job(),
                        reporter.jobId(),
                        reporter.subtask(),
                        model,
                        version,
                        command == null ? null : command.getId(),
                        command == null ? null : ModelCommands.describe(command),
                        reason,
                        message,
                        loadMillis,
                        deployed == null ? null : deployed.toState(),
                        List.of(),
                        System.currentTimeMillis()));
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

    private ExecutorService newLoader() {
        return Executors.newSingleThreadExecutor(
                runnable -> {
                    Thread thread = new Thread(runnable, "model-loader-" + reporter.subtask());
                    thread.setDaemon(true);
                    loaderThread = thread;
                    return thread;
                });
    }
}
