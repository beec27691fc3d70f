package org.streaminference.features;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ValidatedEvent;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Features that are the event's own numeric fields, in a fixed order: for models that take a raw input vector,
 * such as an image's pixels. Validation guarantees the fields are present; it counts the entity's events in keyed
 * state, as every feature stage of the job touches the entity's state.
 */
public final class NumericFieldFeatures extends KeyedProcessFunction<String, ValidatedEvent, EnrichedEvent> {
    private static final long serialVersionUID = 1L;
    private final List<String> fields;
    private transient ValueState<Long> count;

    public NumericFieldFeatures(List<String> fields) {
        this.fields = List.copyOf(fields);
    }

    /** Field names {@code <prefix>0 .. <prefix><width-1>}. */
    public static List<String> indexed(String prefix, int width) {
        return IntStream.range(0, width).mapToObj(i -> prefix + i).toList();
    }

    @Override
    public void open(OpenContext openContext) {
        count = getRuntimeContext().getState(new ValueStateDescriptor<>("event-count", Long.class));
    }

    @Override
    public void processElement(ValidatedEvent value, Context ctx, Collector<EnrichedEvent> out) throws Exception {
        Long seen = count.value();
        count.update(seen == null ? 1 : seen + 1);
        List<Float> features = new ArrayList<>(fields.size());
        for (String field : fields) {
            features.add(value.getEvent().getNumericFields().get(field).floatValue());
        }
        out.collect(new EnrichedEvent(value.getEvent(), value.getSource(), features));
    }
}
