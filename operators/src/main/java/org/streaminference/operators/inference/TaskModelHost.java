package org.streaminference.operators.inference;

import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.batching.InferenceMetrics;
import org.streaminference.operators.inference.control.ModelController;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.ServedVersion;
import org.streaminference.operators.inference.outputs.DriftReporter;
import org.streaminference.operators.inference.outputs.InferenceSideOutputs;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.operators.Output;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;
import org.apache.flink.util.function.ThrowingRunnable;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The task as the model controllers see it ({@link ModelController.Host}): loads versions through
 * the {@link ModelProvider} with the task's runtime context, starts serving them (their batcher,
 * inference threads, metrics and drift tracker), runs the controllers' work on the task thread
 * through the mailbox and its timers, and emits their model events.
 */
@Internal
public final class TaskModelHost implements ModelController.Host {
    private final ModelProvider provider;
    private final RuntimeContext context;
    private final MetricGroup metrics;
    private final MailboxExecutor mailbox;
    private final ProcessingTimeService time;
    private final Output<StreamRecord<Prediction>> output;
    private final BatchingConfig options;
    private final RecordTracing tracing;
    private final DriftReporter drift;

    /** Called on an inference or timer thread when a batch has answers for the task thread. */
    private final Consumer<String> answersReady;

    /** By version ("model:version"): a version loaded again keeps its metrics. */
    private final Map<String, InferenceMetrics> versionMetrics = new HashMap<>();

    public TaskModelHost(
            ModelProvider provider,
            RuntimeContext context,
            MetricGroup metrics,
            MailboxExecutor mailbox,
            ProcessingTimeService time,
            Output<StreamRecord<Prediction>> output,
            BatchingConfig options,
            RecordTracing tracing,
            DriftReporter drift,
            Consumer<String> answersReady) {
        this.provider = provider;
        this.context = context;
        this.metrics = metrics;
        this.mailbox = mailbox;
        this.time = time;
        this.output = output;
        this.options = options;
        this.tracing = tracing;
        this.drift = drift;
        this.answersReady = answersReady;
    }

    /** Opens the versions a job starts with, one per model; closes those it opened if one fails. */
    public Map<String, ModelProvider.Handle> openAll(List<String> locations) throws Exception {
        Map<String, ModelProvider.Handle> opened = new LinkedHashMap<>();
        try {
            for (String location : locations) {
                opened.put(location, open(location, null));
            }
        } catch (Exception e) {
            for (ModelProvider.Handle handle : opened.values()) {
                handle.close();
            }
            throw e;
        }
        return opened;
    }

    @Override
    public ModelProvider.Handle open(String location, ModelLoader.Expected expected)
            throws ModelLoadException {
        return expected == null
                ? provider.open(context, location)
                : provider.open(context, location, expected);
    }

    @Override
    public ServedVersion serve(ModelProvider.Handle handle) {
        String name = handle.model().manifest().name();
        String version = handle.model().manifest().version();
        InferenceMetrics versionMetric =
                versionMetrics.computeIfAbsent(
                        name + ":" + version, v -> new InferenceMetrics(metrics, name, version));
        ServedVersion served =
                new ServedVersion(
                        handle,
                        versionMetric,
                        options,
                        "inference-"
                                + name
                                + "-"
                                + version
                                + "-"
                                + context.getTaskInfo().getIndexOfThisSubtask(),
                        batch -> answersReady.accept("inference batch finished"),
                        (late, batch) -> {
                            if (late.timeOut(batch, options.timeoutMillis())) {
                                answersReady.accept("inference batch timed out");
                            }
                        },
                        tracing);
        drift.watch(served, handle);
        return served;
    }

    @Override
    public void runOnTaskThread(ThrowingRunnable<Exception> action, String description) {
        mailbox.execute(action::run, description);
    }

    @Override
    public void runOnTaskThreadAfter(long delayMillis, ThrowingRunnable<Exception> action) {
        time.registerTimer(
                time.getCurrentProcessingTime() + delayMillis, timestamp -> action.run());
    }

    @Override
    public void emit(ModelEvent event) {
        output.collect(InferenceSideOutputs.MODEL_EVENTS, new StreamRecord<>(event));
    }
}
