package org.streaminference.model.control;

import org.streaminference.schemas.AnnouncedManifest;
import org.streaminference.schemas.DeploymentState;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.FeatureDrift;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.Route;
import org.streaminference.schemas.ServingPlan;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.Internal;

/**
 * The JSON form of the control plane's Avro records, as people and tools write and read them on the
 * control and model-events topics: the records' own field names, absent fields for nulls, no Avro
 * union wrappers (which Avro's JSON encoding would add). Unknown fields are ignored, so that newer
 * writers do not break older readers.
 */
@Internal
final class ControlJson {
    /** What Jackson must not see on a generated Avro record: its schema and its data model. */
    @JsonIgnoreProperties(
            value = {"schema", "specificData"},
            ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    private abstract static class AvroRecord {}

    static final ObjectMapper MAPPER =
            new ObjectMapper()
                    .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    // a command or plan with a key given twice means one thing to this job and
                    // another to a person or tool
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .addMixIn(ModelCommand.class, AvroRecord.class)
                    .addMixIn(AnnouncedManifest.class, AvroRecord.class)
                    .addMixIn(ModelEvent.class, AvroRecord.class)
                    .addMixIn(DeploymentState.class, AvroRecord.class)
                    .addMixIn(FeatureDrift.class, AvroRecord.class)
                    .addMixIn(ServingPlan.class, AvroRecord.class)
                    .addMixIn(Route.class, AvroRecord.class)
                    .addMixIn(Ensemble.class, AvroRecord.class)
                    .addMixIn(EnsembleMember.class, AvroRecord.class);

    private ControlJson() {}
}
