package org.streaminference.operators.inference;

import org.streaminference.model.InferenceModel;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/**
 * Runs one batch on an inference thread: fills a reused direct buffer, runs the model (retrying a failed batch as a
 * whole), and when a batch still fails, splits it in halves until the bad records are alone, so that each of them
 * becomes a MODEL_ERROR dead letter and every other record still gets its prediction.
 */
final class BatchRunner {

    /** One record waiting for its answer; {@link #complete} keeps the first answer and ignores later ones. */
    interface Pending {
        EnrichedEvent event();

        long enqueuedNanos();

        /** @return whether this was the record's first answer */
        boolean complete(Prediction prediction, DeadLetter deadLetter);

        /** Whether the record has its answer. */
        boolean isDone();
    }

    private final InferenceModel model;
    private final PredictionDecoder decoder;
    private final InferenceMetrics metrics;
    private final int retries;
    private final ThreadLocal<FloatBuffer> buffers;

    BatchRunner(InferenceModel model, PredictionDecoder decoder, InferenceMetrics metrics, int maxBatchSize,
            int retries) {
        this.model = model;
        this.decoder = decoder;
        this.metrics = metrics;
        this.retries = retries;
        int capacity = maxBatchSize * model.inputValuesPerRow();
        // one buffer per inference thread, reused for every batch it runs
        this.buffers = ThreadLocal.withInitial(() ->
                ByteBuffer.allocateDirect(capacity * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer());
    }

    void run(List<? extends Pending> batch) {
        long start = System.nanoTime();
        for (Pending p : batch) {
            metrics.queueWaitMicros.update((start - p.enqueuedNanos()) / 1_000);
        }
        metrics.batchSize.update(batch.size());
        execute(batch, retries);
    }

    private void execute(List<? extends Pending> batch, int retriesLeft) {
        float[][] outputs;
        try {
            outputs = runModel(batch);
        } catch (Exception e) {
            if (retriesLeft > 0) {
                execute(batch, retriesLeft - 1);
            } else if (batch.size() == 1) {
                fail(batch.get(0), ReasonCode.MODEL_ERROR, model.manifest().id() + " failed: " + e.getMessage());
            } else {
                int half = batch.size() / 2;
                execute(batch.subList(0, half), 0);
                execute(batch.subList(half, batch.size()), 0);
            }
            return;
        }
        long start = System.nanoTime();
        long now = System.currentTimeMillis();
        for (int i = 0; i < batch.size(); i++) {
            Pending p = batch.get(i);
            PredictionDecoder.Decoded decoded = decoder.decode(outputs[i]);
            if (!decoded.isFinite()) {
                fail(p, ReasonCode.NON_FINITE_OUTPUT,
                        model.manifest().id() + " produced a non-finite output for finite features");
                continue;
            }
            if (p.complete(decoder.toPrediction(p.event(), model.manifest(), decoded, now), null)) {
                metrics.successes.inc();
                metrics.endToEndLatencyMillis.update(now - p.event().getEvent().getEventTime());
            }
        }
        metrics.outputMicros.update((System.nanoTime() - start) / 1_000);
    }

    private float[][] runModel(List<? extends Pending> batch) throws Exception {
        FloatBuffer input = buffers.get();
        input.clear();
        for (Pending p : batch) {
            for (Float f : p.event().getFeatures()) {
                input.put(f);
            }
        }
        input.flip();
        metrics.executions.inc();
        metrics.inferenceCount.inc(batch.size());
        long start = System.nanoTime();
        float[][] out = model.run(input, batch.size());
        metrics.computeMicros.update((System.nanoTime() - start) / 1_000);
        return out;
    }

    /** Answers {@code p} with a dead letter. */
    void fail(Pending p, ReasonCode reason, String message) {
        if (p.complete(null, DeadLetters.of(p.event().getEvent(), p.event().getSource(), reason, message))) {
            metrics.failures.inc();
        }
    }

    /**
     * Answers a record that cannot be run at all (a feature vector of the wrong width, or a non-finite feature) with
     * its dead letter and returns true; returns false for a record the model can take.
     */
    boolean rejectInvalid(Pending p) {
        List<Float> features = p.event().getFeatures();
        if (features.size() != model.inputValuesPerRow()) {
            fail(p, ReasonCode.INVALID_FIELD, "invalid shape: the feature vector has " + features.size()
                    + " values but " + model.manifest().id() + " takes " + model.inputValuesPerRow());
            return true;
        }
        for (int i = 0; i < features.size(); i++) {
            Float f = features.get(i);
            if (f == null || !Float.isFinite(f)) {
                fail(p, ReasonCode.NON_FINITE_FEATURE, "feature " + i + " is " + f);
                return true;
            }
        }
        return false;
    }
}
