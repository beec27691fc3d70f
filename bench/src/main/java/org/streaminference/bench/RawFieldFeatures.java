package org.streaminference.bench;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ValidatedEvent;

import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark's feature stage: the event's numeric fields {@code f0..f<width-1>} as the feature vector, so that
 * models of any width can run in the real pipeline; it reads and writes a per-entity count in keyed state, as the
 * job's feature stage does.
 */
final class RawFieldFeatures extends KeyedProcessFunction<String, ValidatedEvent, EnrichedEvent> {
    private static final long serialVersionUID = 1L;
    private final int width;
    private transient ValueState<Long> count;

    RawFieldFeatures(int width) {
        this.width = width;
    }

    static String field(int i) {
        return "f" + i;
    }

    @Override
    public void open(OpenContext openContext) {
        count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
    }

    @Override
    public void processElement(ValidatedEvent value, Context ctx, Collector<EnrichedEvent> out) throws Exception {
        Long seen = count.value();
        count.update(seen == null ? 1 : seen + 1);
        List<Float> features = new ArrayList<>(width);
        for (int i = 0; i < width; i++) {
            features.add(value.getEvent().getNumericFields().get(field(i)).floatValue());
        }
        out.collect(new EnrichedEvent(value.getEvent(), value.getSource(), features));
    }
}
