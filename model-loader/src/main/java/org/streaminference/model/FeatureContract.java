package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;

/**
 * What the job's feature stage produces: the feature spec's name (as a manifest's {@code featureSpec} names it) and
 * the width of its vectors. A model trained on another spec, or taking vectors of another width, is refused at load
 * time instead of answering every record with a dead letter.
 *
 * @param specName the feature spec, e.g. {@code skeleton:1}; null accepts a model of any spec
 * @param width    values per feature vector; 0 accepts any width
 */
@PublicEvolving
public record FeatureContract(String specName, int width) implements Serializable {

    /** Accepts every model. */
    public static final FeatureContract ANY = new FeatureContract(null, 0);

    public void check(ModelManifest manifest, int inputValuesPerRow) throws ModelLoadException {
        if (specName != null && manifest.featureSpec() != null && !specName.equals(manifest.featureSpec())) {
            throw new ModelLoadException(ModelLoadException.Reason.FEATURE_SPEC_MISMATCH, manifest.id()
                    + " was trained on feature spec '" + manifest.featureSpec() + "' but this job computes '"
                    + specName + "'");
        }
        if (width > 0 && inputValuesPerRow != width) {
            throw new ModelLoadException(ModelLoadException.Reason.FEATURE_SPEC_MISMATCH, manifest.id() + " takes "
                    + inputValuesPerRow + " values per record but this job's features have " + width);
        }
    }
}
