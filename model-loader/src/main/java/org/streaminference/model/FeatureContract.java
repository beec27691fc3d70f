package org.streaminference.model;

import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.schemas.FeatureLayout;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the job's feature stage produces: the feature spec's name (as a manifest's {@code
 * featureSpec} names it) and the layout of its groups. A model trained on another spec, or with an
 * input no group of the right type and width feeds, is refused at load time instead of answering
 * every record with a dead letter.
 *
 * @param specName the feature spec, e.g. {@code skeleton:1}; null accepts a model of any spec
 * @param layout the spec's groups; null accepts any model fed by the float features as they come
 * @param valueNames the name of each float feature value, in order, which a training baseline
 *     names; null where the job does not say, so that no baseline can be mapped and drift is not
 *     monitored
 */
@PublicEvolving
public record FeatureContract(String specName, FeatureLayout layout, List<String> valueNames)
        implements Serializable {

    /** Accepts every model. */
    public static final FeatureContract ANY = new FeatureContract(null, null);

    public FeatureContract {
        valueNames = valueNames == null ? null : List.copyOf(valueNames);
    }

    /** A contract whose float values have no names. */
    public FeatureContract(String specName, FeatureLayout layout) {
        this(specName, layout, null);
    }

    /**
     * The float feature index of each feature {@code baseline} names, in its order; null where this
     * contract has no value names.
     *
     * @throws ModelLoadException FEATURE_SPEC_MISMATCH naming a baseline feature the job does not
     *     compute
     */
    public int[] baselineIndices(String modelId, DriftBaseline baseline) throws ModelLoadException {
        if (valueNames == null || baseline == null) {
            return null;
        }
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < valueNames.size(); i++) {
            index.putIfAbsent(valueNames.get(i), i);
        }
        int[] indices = new int[baseline.features().size()];
        int i = 0;
        for (String name : baseline.features().keySet()) {
            Integer at = index.get(name);
            if (at == null) {
                throw mismatch(
                        modelId
                                + ": the baseline names feature '"
                                + name
                                + "', which is not a float"
                                + " feature value of this job ("
                                + (valueNames.size() <= 8
                                        ? valueNames
                                        : valueNames.subList(0, 8)
                                                + " and "
                                                + (valueNames.size() - 8)
                                                + " more")
                                + ")");
            }
            indices[i++] = at;
        }
        return indices;
    }

    /** Checks a loaded version: its manifest, and the features its baseline names. */
    public void check(InferenceModel model) throws ModelLoadException {
        check(model.manifest());
        baselineIndices(model.manifest().id(), model.baseline());
    }

    public void check(ModelManifest manifest) throws ModelLoadException {
        if (specName != null
                && manifest.featureSpec() != null
                && !specName.equals(manifest.featureSpec())) {
            throw mismatch(
                    manifest.id()
                            + " was trained on feature spec '"
                            + manifest.featureSpec()
                            + "' but this job computes '"
                            + specName
                            + "'");
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
                throw mismatch(
                        manifest.id()
                                + ": input '"
                                + input.name()
                                + "' is fed by feature group '"
                                + input.from()
                                + "', which this job's features do not have (they have "
                                + layout
                                + ")");
            }
            boolean fits =
                    switch (group.type()) {
                        case FLOAT -> input.elementType().isFloatingPoint();
                        case INT64 -> input.elementType().isInteger();
                        case STRING -> input.elementType() == ElementType.STRING;
                    };
            if (!fits) {
                throw mismatch(
                        manifest.id()
                                + ": input '"
                                + input.name()
                                + "' is "
                                + input.elementType()
                                + " but feature group '"
                                + group.name()
                                + "' holds "
                                + group.type()
                                + " values");
            }
            int width = input.tensor().valuesPerRow();
            if (width != group.width()) {
                throw mismatch(
                        manifest.id()
                                + ": input '"
                                + input.name()
                                + "' takes "
                                + width
                                + " values per record but feature group '"
                                + group.name()
                                + "' has "
                                + group.width());
            }
        }
        TokenizerConfig tokenizer = manifest.tokenizer();
        if (tokenizer != null) {
            FeatureLayout.Group text = layout.group(tokenizer.from());
            if (text == null
                    || text.type() != FeatureLayout.ValueType.STRING
                    || text.width() != 1) {
                throw mismatch(
                        manifest.id()
                                + ": the tokenizer reads feature group '"
                                + tokenizer.from()
                                + "', which must be one text feature; this job's features have "
                                + layout);
            }
        }
    }

    private static ModelLoadException mismatch(String message) {
        return new ModelLoadException(ModelLoadException.Reason.FEATURE_SPEC_MISMATCH, message);
    }
}
