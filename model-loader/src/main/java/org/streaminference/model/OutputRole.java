package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** What a model output means, which decides where it goes in the prediction. */
@PublicEvolving
public enum OutputRole {
    /** One number per row, [N] or [N,1]: the score itself (a regression, or a binary score). */
    SCORE,
    /**
     * Class probabilities: a float tensor [N,K], or a ZipMap sequence of maps from class label to
     * probability; the predicted class is the most probable.
     */
    PROBABILITIES,
    /** One unnormalised logit per class, [N,K]; softmax turns them into probabilities. */
    LOGITS,
    /**
     * The probability of the positive class, [N] or [N,1]; the output's threshold gives class 1 or
     * 0.
     */
    SIGMOID,
    /** The predicted label, an int64 or string tensor [N] or [N,1]. */
    LABEL,
    /**
     * An embedding, [N,D], or [N,T,D] pooled over T as the output declares; it goes to the
     * prediction's own field.
     */
    EMBEDDING,
    /** Any other numeric output, passed through row by row as a named tensor. */
    TENSOR;

    /** Whether the role is the prediction's answer, of which a model has at most one. */
    public boolean isAnswer() {
        return this == SCORE || this == PROBABILITIES || this == LOGITS || this == SIGMOID;
    }
}
