package org.streaminference.operators.inference.outputs;

import org.streaminference.schemas.DriftSketch;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServedFeatures;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.OutputTag;

/** The inference operator's side outputs besides dead letters. */
@PublicEvolving
public final class InferenceSideOutputs {
    /**
     * Predictions of the shadow version: computed on the same features as the answer, never the
     * answer. Best effort: a shadow prediction still running at a failure is not computed again.
     */
    public static final OutputTag<Prediction> SHADOW_PREDICTIONS =
            new OutputTag<>("shadow-predictions", new AvroTypeInfo<>(Prediction.class));

    /** What the operator did with its models: loads, deployments, rejections, releases. */
    public static final OutputTag<ModelEvent> MODEL_EVENTS =
            new OutputTag<>("model-events", new AvroTypeInfo<>(ModelEvent.class));

    /**
     * The feature vector behind each prediction, with the version that answered; only where the
     * operator was built with {@code logServedFeatures}.
     */
    public static final OutputTag<ServedFeatures> SERVED_FEATURES =
            new OutputTag<>("served-features", new AvroTypeInfo<>(ServedFeatures.class));

    /**
     * Sketches of the served features and predictions of versions with a training baseline, for the
     * drift monitor; only where the operator was built with drift monitoring.
     */
    public static final OutputTag<DriftSketch> DRIFT_SKETCHES =
            new OutputTag<>("drift-sketches", new AvroTypeInfo<>(DriftSketch.class));

    private InferenceSideOutputs() {}
}
