package org.streaminference.features;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Joins each event with its entity's latest profile from the reference-data topic. Keyed by entity
 * on both inputs: a profile update replaces the entity's profile in keyed state, a tombstone
 * removes it, and an event leaves with the profile as it is at that moment (null where the entity
 * has none yet). The topic is compacted, so a job started without state reads every entity's latest
 * profile.
 */
@PublicEvolving
public class ProfileJoinFunction
        extends KeyedCoProcessFunction<String, ValidatedEvent, ProfileUpdate, ValidatedEvent> {
    private static final long serialVersionUID = 1L;

    private transient ValueState<EntityProfile> profile;
    private transient Counter updates;
    private transient Counter removals;

    @Override
    public void open(OpenContext openContext) {
        profile =
                getRuntimeContext()
                        .getState(
                                new ValueStateDescriptor<>(
                                        "entity-profile", new AvroTypeInfo<>(EntityProfile.class)));
        updates = getRuntimeContext().getMetricGroup().counter("profileUpdates");
        removals = getRuntimeContext().getMetricGroup().counter("profileRemovals");
    }

    @Override
    public void processElement1(ValidatedEvent event, Context ctx, Collector<ValidatedEvent> out)
            throws Exception {
        EntityProfile current = profile.value();
        out.collect(current == null ? event : event.withProfile(current));
    }

    @Override
    public void processElement2(ProfileUpdate update, Context ctx, Collector<ValidatedEvent> out)
            throws Exception {
        if (update.profile == null) {
            profile.clear();
            removals.inc();
        } else {
            profile.update(update.profile);
            updates.inc();
        }
    }
}
