package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;
import org.streaminference.schemas.FeatureLayout;

import java.io.Serializable;

/**
 * What the job's feature stage produces: the feature spec's name (as a manifest's {@code featureSpec} names it) and
 * the layout of its groups. A model trained on another spec, or with an input no group of the right type and width
 * feeds, is refused at load time instead of answering every record with a dead letter.
 *
 * @param specName the feature spec, e.g. {@code skeleton:1}; null accepts a model of any spec
 * @param layout   the spec's groups; null accepts any model fed by the float features as they come
 */
@PublicEvolving
public record FeatureContract(String specName, FeatureLayout layout) implements Serializable {

    /** Accepts every model. */
    public static final FeatureContract ANY = new FeatureContract(null, null);

    public void check(ModelManifest manifest) throws ModelLoadException {
        if (specName != null && manifest.featureSpec() != null && !specName.equals(manifest.featureSpec())) {
            throw mismatch(manifest.id() + " was trained on feature spec '" + manifest.featureSpec()
                    + "' but this job computes '" + specName + "'");
        }
        if (layout == null) {
            return;
        }
        for (ModelInput input : manifest.inputs()) {
            if (input.fromTokenizer()) {
                continue;
            }
            FeatureLayout.Group group = layout.group(input.from());
            if (group == null) {
                throw mismatch(manifest.id() + ": input '" + input.name() + "' is fed by feature group '"
                        + input.from() + "', which this job's features do not have (they have " + layout + ")");
            }
            boolean fits = switch (group.type()) {
                case FLOAT -> input.elementType().isFloatingPoint();
                case INT64 -> input.elementType().isInteger();
                case STRING -> input.elementType() == ElementType.STRING;
            };
            if (!fits) {
                throw mismatch(manifest.id() + ": input '" + input.name() + "' is " + input.elementType()
                        + " but feature group '" + group.name() + "' holds " + group.type() + " values");
            }
            int width = input.tensor().valuesPerRow();
            if (width != group.width()) {
                throw mismatch(manifest.id() + ": input '" + input.name() + "' takes " + width
                        + " values per record but feature group '" + group.name() + "' has " + group.width());
            }
        }
        TokenizerConfig tokenizer = manifest.tokenizer();
        if (tokenizer != null) {
            FeatureLayout.Group text = layout.group(tokenizer.from());
            if (text == null || text.type() != FeatureLayout.ValueType.STRING || text.width() != 1) {
                throw mismatch(manifest.id() + ": the tokenizer reads feature group '" + tokenizer.from()
                        + "', which must be one text feature; this job's features have " + layout);
            }
        }
    }

    private static ModelLoadException mismatch(String message) {
        return new ModelLoadException(ModelLoadException.Reason.FEATURE_SPEC_MISMATCH, message);
    }
}
