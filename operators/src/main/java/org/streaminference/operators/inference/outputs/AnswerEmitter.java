package org.streaminference.operators.inference.outputs;

import org.streaminference.operators.inference.answers.EnsembleRequest;
import org.streaminference.operators.inference.answers.InferenceRequest;
import org.streaminference.operators.inference.answers.PendingAnswer;
import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServedFeatures;
import org.streaminference.schemas.StorableValues;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.operators.Output;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

import java.util.ArrayList;
import java.util.List;

/**
 * Emits what the queues release: an answer as a prediction (with its served features, where they
 * are logged) or as a dead letter naming its target, a shadow answer on its side output; a
 * prediction no sink could store becomes a STORE_REJECTED dead letter here, before any sink fails
 * on it. Counts each answer out of its version. Task thread only.
 */
@Internal
public final class AnswerEmitter {
    private final Output<StreamRecord<Prediction>> output;

    /** The spec id served feature vectors are logged under; null where they are not logged. */
    private final String servedFeatureSpec;

    private final DriftReporter drift;
    private final Counter storeRejected;
    private final Counter shadowFailures;

    public AnswerEmitter(
            Output<StreamRecord<Prediction>> output,
            String servedFeatureSpec,
            DriftReporter drift,
            MetricGroup metrics) {
        this.output = output;
        this.servedFeatureSpec = servedFeatureSpec;
        this.drift = drift;
        this.storeRejected = metrics.counter("predictionsStoreRejected");
        this.shadowFailures = metrics.counter("shadowFailures");
    }

    /** The emitter of the answers' queue: answers, and the watermarks between them. */
    public InferenceQueue.Emitter<PendingAnswer> answers() {
        return new InferenceQueue.Emitter<>() {
            @Override
            public void emit(PendingAnswer answer) {
                emitAnswer(answer);
            }

            @Override
            public void emitWatermark(Watermark watermark) {
                output.emitWatermark(watermark);
            }
        };
    }

    /** The emitter of the shadows' queue, which holds no watermarks. */
    public InferenceQueue.Emitter<InferenceRequest> shadows() {
        return new InferenceQueue.Emitter<>() {
            @Override
            public void emit(InferenceRequest request) {
                emitShadowAnswer(request);
            }

            @Override
            public void emitWatermark(Watermark watermark) {}
        };
    }

    private void emitAnswer(PendingAnswer answer) {
        if (answer instanceof InferenceRequest request) {
            answered(request);
        } else if (answer instanceof EnsembleRequest ensemble) {
            for (InferenceRequest member :
                    ensemble.own) { // shared members are counted by their direct answer
                answered(member);
            }
        }
        Prediction prediction = answer.prediction();
        DeadLetter deadLetter = answer.deadLetter();
        String unstorable = prediction != null ? StorableValues.problem(prediction) : null;
        if (unstorable != null) {
            // caught before any sink: a value a sink cannot keep would fail it on every restart
            storeRejected.inc();
            prediction = null;
            deadLetter =
                    DeadLetters.of(
                            answer.event.getEvent(),
                            answer.event.getSource(),
                            ReasonCode.STORE_REJECTED,
                            "the prediction cannot be stored: " + unstorable);
        }
        if (prediction != null) {
            output.collect(record(prediction, answer.timestamp));
            if (servedFeatureSpec != null) {
                output.collect(
                        InferenceSideOutputs.SERVED_FEATURES,
                        record(servedFeatures(answer, prediction), answer.timestamp));
            }
        } else {
            deadLetter.setModel(answer.target);
            output.collect(DeadLetters.TAG, record(deadLetter, answer.timestamp));
        }
    }

    private void answered(InferenceRequest request) {
        request.version.outstanding--;
        if (request.prediction() != null) {
            drift.track(request, request.prediction());
        }
    }

    /**
     * A shadow answer goes out as it finishes; a failed shadow record is counted, never a dead
     * letter.
     */
    private void emitShadowAnswer(InferenceRequest request) {
        answered(request);
        if (request.prediction() != null) {
            output.collect(
                    InferenceSideOutputs.SHADOW_PREDICTIONS,
                    record(request.prediction(), request.timestamp));
        } else {
            shadowFailures.inc();
        }
    }

    /**
     * The vector the answer's version was given: float32 always, and unrounded where the version
     * takes a DOUBLE input (an ensemble's answer logs the values once, as its members share them).
     */
    private ServedFeatures servedFeatures(PendingAnswer answer, Prediction prediction) {
        List<Double> features = answer.event.getFeatures();
        List<Float> rounded = new ArrayList<>(features.size());
        for (Double value : features) {
            rounded.add((float) (double) value);
        }
        boolean doubles =
                answer instanceof InferenceRequest request && request.version.readsDoubles;
        return new ServedFeatures(
                prediction.getEventId(),
                prediction.getEntityId(),
                answer.event.getEvent().getEventTime(),
                servedFeatureSpec,
                prediction.getModelName(),
                prediction.getModelVersion(),
                rounded,
                doubles ? features : List.of());
    }

    private static <T> StreamRecord<T> record(T value, long timestamp) {
        return timestamp == PendingAnswer.NO_TIMESTAMP
                ? new StreamRecord<>(value)
                : new StreamRecord<>(value, timestamp);
    }
}
