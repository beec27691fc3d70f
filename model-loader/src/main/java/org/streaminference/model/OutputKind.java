package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** What a model's output holds, which decides how a prediction is read from it. */
@PublicEvolving
public enum OutputKind {
    /** One value per row: the score itself (a regression, or a binary score). */
    SCORE,
    /** One probability per class; the predicted class is the most probable. */
    PROBABILITIES,
    /** One unnormalised logit per class; softmax turns them into probabilities. */
    LOGITS
}
