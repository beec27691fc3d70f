package org.streaminference.features;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ValidatedEvent;

import java.util.ArrayList;
import java.util.List;

/**
 * Keyed by entity id: updates the entity's statistics in keyed state (RocksDB in the job) and emits the event with
 * its feature vector. Events of one entity arrive in Kafka partition order, so the statistics are deterministic
 * and survive restores exactly as checkpointed.
 */
public class EntityFeatureFunction extends KeyedProcessFunction<String, ValidatedEvent, EnrichedEvent> {
    private static final long serialVersionUID = 1L;

    private transient ValueState<EntityStats> stats;
    private transient Counter enriched;

    @Override
    public void open(OpenContext openContext) {
        stats = getRuntimeContext().getState(new ValueStateDescriptor<>("entity-stats", EntityStats.class));
        enriched = getRuntimeContext().getMetricGroup().counter("eventsEnriched");
    }

    @Override
    public void processElement(ValidatedEvent value, Context ctx, Collector<EnrichedEvent> out) throws Exception {
        InputEvent event = value.getEvent();
        EntityStats current = stats.value();
        if (current == null) {
            current = new EntityStats();
        }
        current.add(event.getNumericFields().get(SkeletonFeatures.AMOUNT));
        stats.update(current);

        float[] vector = SkeletonFeatures.vector(event, current);
        List<Float> features = new ArrayList<>(vector.length);
        for (float v : vector) {
            features.add(v);
        }
        out.collect(EnrichedEvent.newBuilder()
                .setEvent(event)
                .setSource(value.getSource())
                .setFeatures(features)
                .build());
        enriched.inc();
    }
}
