package org.streaminference.operators.inference.control;

import org.streaminference.model.BatchingPolicy;
import org.streaminference.model.ElementType;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelManifest;
import org.streaminference.operators.drift.DriftTracker;
import org.streaminference.operators.inference.batching.BatchRecord;
import org.streaminference.operators.inference.batching.BatchRunner;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.batching.InferenceMetrics;
import org.streaminference.operators.inference.batching.MicroBatcher;
import org.streaminference.operators.inference.batching.PredictionDecoder;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * One model version loaded in one operator instance, with the batcher and inference threads that
 * run it. Records are counted in and out on the task thread, so that the version is released only
 * after its last record was answered and its threads have stopped: closing an ONNX Runtime session
 * during a run crashes the JVM.
 */
@Internal
public final class ServedVersion {
    private static final Logger LOG = LoggerFactory.getLogger(ServedVersion.class);

    public final String version;
    public final InferenceModel model;
    public final BatchRunner runner;
    public final MicroBatcher<BatchRecord> batcher;
    public final InferenceMetrics metrics;
    private final ModelProvider.Handle handle;

    /**
     * Sketches what this version serves for drift monitoring; null where it is not watched. Task
     * thread only.
     */
    public DriftTracker drift;

    /** Records routed to this version and not yet emitted; task thread only. */
    public int outstanding;

    /** Whether the version takes a DOUBLE input: its served features are logged unrounded too. */
    public final boolean readsDoubles;

    public ServedVersion(
            ModelProvider.Handle handle,
            InferenceMetrics metrics,
            BatchingConfig options,
            String threadName,
            Consumer<List<BatchRecord>> onBatchDone,
            BiConsumer<ServedVersion, List<BatchRecord>> onTimeout,
            RecordTracing tracing) {
        this.handle = handle;
        this.model = handle.model();
        this.version = model.manifest().version();
        this.metrics = metrics;
        this.readsDoubles =
                model.manifest().inputs().stream()
                        .anyMatch(i -> i.elementType() == ElementType.DOUBLE);
        // a version whose results depend on their batch neighbours runs every record alone; one
        // whose export fixes
        // its batch runs batches of at most that size (padded to it)
        int fixed = model.fixedBatch();
        int maxBatchSize =
                model.manifest().batching() == BatchingPolicy.SINGLE
                        ? 1
                        : fixed > 0
                                ? Math.min(fixed, options.maxBatchSize())
                                : options.maxBatchSize();
        this.runner =
                new BatchRunner(
                        model,
                        handle.layout(),
                        new PredictionDecoder(model.manifest(), options.topK()),
                        metrics,
                        maxBatchSize,
                        options.retries(),
                        tracing);
        this.batcher =
                new MicroBatcher<>(
                        maxBatchSize,
                        options.maxDelayMillis(),
                        options.concurrentBatches(),
                        options.dispatchWhenIdle(),
                        threadName,
                        batch -> {
                            runner.run(batch);
                            onBatchDone.accept(batch);
                        },
                        options.timeoutMillis(),
                        batch -> onTimeout.accept(this, batch),
                        options.taskThreadBelowMicros());
        metrics.bind(batcher::inFlightBatches, loadTimeMillis(), handle.fellBackToCpu());
    }

    /**
     * On the batcher's timer thread: answers the records of a late batch that still have no answer
     * with TIMEOUT, and stops its run through ONNX Runtime's run termination. Returns whether any
     * record got its answer so.
     */
    public boolean timeOut(List<BatchRecord> batch, long timeoutMillis) {
        boolean any = false;
        for (BatchRecord request : batch) {
            if (!request.isDone()) {
                runner.fail(
                        request,
                        ReasonCode.TIMEOUT,
                        "no answer from " + manifest().id() + " within " + timeoutMillis + " ms");
                any = true;
            }
        }
        runner.terminate(batch); // a stuck run gives its inference thread back
        return any;
    }

    public ModelManifest manifest() {
        return model.manifest();
    }

    long loadTimeMillis() {
        return model instanceof LoadedModel loaded ? loaded.loadTimeMillis() : -1;
    }

    /**
     * Stops the inference threads and releases the model. Returns false, leaving the session open,
     * when the threads did not stop in time: leaking a session is better than closing it under a
     * running batch.
     */
    boolean release(long timeoutMillis) throws Exception {
        runner.terminateAll(); // runs of batches past their timeout, or in flight at close:
        // stopped, not waited for
        if (!batcher.shutdown(timeoutMillis)) {
            LOG.error(
                    "Inference threads of {} did not finish within {} ms; not releasing it",
                    manifest().id(),
                    timeoutMillis);
            return false;
        }
        handle.close();
        return true;
    }
}
