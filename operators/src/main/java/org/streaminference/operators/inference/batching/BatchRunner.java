package org.streaminference.operators.inference.batching;

import org.streaminference.model.InferenceModel;
import org.streaminference.model.TerminableRun;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.UntrustedText;
import org.streaminference.tracing.RecordTracing;

import ai.onnxruntime.OrtSession;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one batch on an inference thread: fills a reused direct buffer, runs the model (retrying a
 * failed batch as a whole), and when a batch still fails, splits it in halves until the bad records
 * are alone, so that each of them becomes a MODEL_ERROR dead letter and every other record still
 * gets its prediction.
 */
@Internal
public final class BatchRunner {
    private static final Logger LOG = LoggerFactory.getLogger(BatchRunner.class);

    private final InferenceModel model;
    private final PredictionDecoder decoder;
    private final InferenceMetrics metrics;
    private final int retries;
    private final BatchInputs inputs;
    private final RecordTracing tracing;

    /** Whether the log said once that this version's batches run only when split. */
    private volatile boolean warnedSplit;

    /**
     * The run each batch is in now, by batch (identity), so that a batch past its timeout can be
     * stopped.
     */
    private final Map<List<? extends BatchRecord>, TerminableRun> running = new IdentityHashMap<>();

    /**
     * @param layout the job's feature groups; null feeds a one-input model every float feature in
     *     order
     */
    public BatchRunner(
            InferenceModel model,
            FeatureLayout layout,
            PredictionDecoder decoder,
            InferenceMetrics metrics,
            int maxBatchSize,
            int retries,
            RecordTracing tracing) {
        this.tracing = tracing;
        this.model = model;
        this.decoder = decoder;
        this.metrics = metrics;
        this.retries = retries;
        this.inputs = new BatchInputs(model, layout, maxBatchSize);
    }

    public void run(List<? extends BatchRecord> batch) {
        long start = System.nanoTime();
        for (BatchRecord p : batch) {
            metrics.queueWaitMicros.update((start - p.enqueuedNanos()) / 1_000);
        }
        metrics.batchSize.update(batch.size());
        if (!tracing.enabled()) {
            executeWhole(batch);
            return;
        }
        List<String> traces = new ArrayList<>(batch.size());
        for (BatchRecord p : batch) {
            traces.add(p.event().getSource().getTraceparent());
        }
        Span span = tracing.startBatchSpan("inference", traces);
        try {
            span.setAttribute("model", model.manifest().name());
            span.setAttribute("model.version", model.manifest().version());
            span.setAttribute("batch.size", batch.size());
            executeWhole(batch);
        } finally {
            span.end();
        }
    }

    /**
     * Runs the batch; where it fails whole and then every part of it runs, counts it and says so in
     * the log, once per version: a version whose records run alone but not together has a contract
     * its manifest does not state. (A batch that fails because of a record the model cannot take
     * ends with that record's dead letter instead.)
     */
    private void executeWhole(List<? extends BatchRecord> batch) {
        Outcome outcome = execute(batch, batch, retries);
        if (outcome.ranOnlySplit()) {
            metrics.splitBatchesSucceeded.inc();
            if (!warnedSplit) {
                warnedSplit = true;
                LOG.warn(
                        "{}: a batch of {} failed whole ({}) and every part of it ran when split: the model does not"
                                + " run in batches of that size, so every batch is run again in parts. Check its contract"
                                + " (a fixed batch dimension its manifest calls dynamic: publish it again) or declare its"
                                + " batching SINGLE. Counted in splitBatchesSucceeded; logged once per version.",
                        model.manifest().id(),
                        batch.size(),
                        UntrustedText.escape(outcome.error(), 300));
            }
        }
    }

    /**
     * How a batch ran: whole ({@code error} null), or split after {@code error}, where {@code
     * everyPartRan} says whether every record then got its prediction.
     */
    private record Outcome(String error, boolean everyPartRan) {
        static final Outcome WHOLE = new Outcome(null, true);

        boolean ranOnlySplit() {
            return error != null && everyPartRan;
        }
    }

    /**
     * @param whole the batch as it was cut, of which {@code batch} is all or a part
     */
    private Outcome execute(
            List<? extends BatchRecord> whole, List<? extends BatchRecord> batch, int retriesLeft) {
        if (allAnswered(batch)) {
            return Outcome.WHOLE; // answered meanwhile (its timeout): nothing is left to run
        }
        PredictionDecoder.Decoded[] outputs;
        try {
            outputs = runModel(whole, batch);
        } catch (Exception e) {
            if (allAnswered(batch)) {
                return Outcome
                        .WHOLE; // stopped at its timeout, and answered TIMEOUT: no retry, no split
            }
            if (retriesLeft > 0) {
                return execute(whole, batch, retriesLeft - 1);
            } else if (batch.size() == 1) {
                fail(
                        batch.get(0),
                        ReasonCode.MODEL_ERROR,
                        model.manifest().id() + " failed: " + e.getMessage());
                return new Outcome(String.valueOf(e.getMessage()), false);
            } else {
                int half = batch.size() / 2;
                Outcome left = execute(whole, batch.subList(0, half), 0);
                Outcome right = execute(whole, batch.subList(half, batch.size()), 0);
                return new Outcome(
                        String.valueOf(e.getMessage()),
                        left.everyPartRan() && right.everyPartRan());
            }
        }
        long start = System.nanoTime();
        long now = System.currentTimeMillis();
        for (int i = 0; i < batch.size(); i++) {
            BatchRecord p = batch.get(i);
            PredictionDecoder.Decoded decoded = outputs[i];
            if (!decoded.isFinite()) {
                fail(
                        p,
                        ReasonCode.NON_FINITE_OUTPUT,
                        model.manifest().id()
                                + " produced a non-finite output for finite features");
                continue;
            }
            if (p.complete(decoder.toPrediction(p.event(), model.manifest(), decoded, now), null)) {
                metrics.successes.inc();
                metrics.endToEndLatencyMillis.update(now - p.event().getEvent().getEventTime());
            }
        }
        metrics.outputMicros.update((System.nanoTime() - start) / 1_000);
        return Outcome.WHOLE;
    }

    /**
     * Builds the batch's tensors, runs the model and reads every row's prediction, all on this
     * inference thread. The run can be stopped from another thread while it is registered for
     * {@code whole} ({@link #terminate}).
     */
    private PredictionDecoder.Decoded[] runModel(
            List<? extends BatchRecord> whole, List<? extends BatchRecord> batch) throws Exception {
        try (BatchInputs.Batch tensors = inputs.build(batch);
                TerminableRun run = TerminableRun.start()) {
            metrics.executions.inc();
            metrics.inferenceCount.inc(batch.size());
            synchronized (running) {
                running.put(whole, run);
            }
            long start = System.nanoTime();
            try (OrtSession.Result result = model.run(tensors.tensors, run.options())) {
                metrics.computeMicros.update((System.nanoTime() - start) / 1_000);
                PredictionDecoder.Decoded[] rows =
                        decoder.decode(result, tensors.rows, tensors.tokens);
                return rows.length == batch.size() ? rows : Arrays.copyOf(rows, batch.size());
            } finally {
                synchronized (running) {
                    running.remove(whole);
                }
            }
        }
    }

    private static boolean allAnswered(List<? extends BatchRecord> batch) {
        for (BatchRecord p : batch) {
            if (!p.isDone()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stops the run {@code batch} is in, if it is in one (its timeout passed: its records were
     * answered TIMEOUT), so that a stuck model gives its inference thread back. Any thread.
     */
    public void terminate(List<? extends BatchRecord> batch) {
        synchronized (running) {
            TerminableRun run = running.get(batch);
            if (run != null) {
                run.terminate();
            }
        }
    }

    /** Stops every run in progress: the version is being released. Any thread. */
    public void terminateAll() {
        synchronized (running) {
            running.values().forEach(TerminableRun::terminate);
        }
    }

    /** Answers {@code p} with a dead letter. */
    public void fail(BatchRecord p, ReasonCode reason, String message) {
        if (p.complete(
                null,
                DeadLetters.of(p.event().getEvent(), p.event().getSource(), reason, message))) {
            metrics.failures.inc();
        }
    }

    /**
     * Answers a record that cannot be run at all (features that do not fit the model's inputs, or a
     * non-finite feature) with its dead letter and returns true; returns false for a record the
     * model can take.
     */
    public boolean rejectInvalid(BatchRecord p) {
        BatchInputs.Rejection rejection = inputs.invalid(p.event());
        if (rejection == null) {
            return false;
        }
        if (tracing.enabled()) { // the record's own span: it never reaches a batch
            Span span =
                    tracing.startRecordSpan(
                            "inference", p.event().getSource().getTraceparent(), SpanKind.INTERNAL);
            span.setAttribute("model", model.manifest().name());
            span.setAttribute("model.version", model.manifest().version());
            span.setStatus(StatusCode.ERROR, rejection.reason().name());
            span.end();
        }
        fail(p, rejection.reason(), rejection.message());
        return true;
    }
}
