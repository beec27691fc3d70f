package org.streaminference.operators.inference;

import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.streaminference.operators.DeadLetters;
import org.streaminference.schemas.InferenceOutcome;
import org.streaminference.schemas.Prediction;

/** Predictions to the main output, dead letters to {@link DeadLetters#TAG}. */
public class OutcomeSplitter extends ProcessFunction<InferenceOutcome, Prediction> {
    private static final long serialVersionUID = 1L;

    @Override
    public void processElement(InferenceOutcome outcome, Context ctx, Collector<Prediction> out) {
        if (outcome.getPrediction() != null) {
            out.collect(outcome.getPrediction());
        } else {
            ctx.output(DeadLetters.TAG, outcome.getDeadLetter());
        }
    }
}
