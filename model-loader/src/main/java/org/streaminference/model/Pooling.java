package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** How an embedding output [N,T,D] becomes one vector per row. */
@PublicEvolving
public enum Pooling {
    /** The output is already one vector per row, [N,D]. */
    NONE,
    /** The mean over the tokens the attention mask keeps (sentence-transformers' mean pooling). */
    MEAN,
    /** The first token's vector ([CLS]). */
    CLS
}
