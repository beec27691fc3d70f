package org.streaminference.features;

import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InBandControl;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.co.KeyedBroadcastProcessFunction;
import org.apache.flink.util.Collector;

/**
 * {@link FeatureEnrichmentFunction} with the control topic's commands as its broadcast side: each
 * subtask passes every command on, in order with its events, in the one stream it emits (an {@link
 * EnrichedEvent} whose {@code control} is set). So the inference operator after it has a single
 * input and is chained to the features (Flink never chains an operator with two inputs to its
 * upstream): between the source and the sinks the {@code keyBy} is the only network shuffle, and an
 * enriched event reaches inference as an object, never serialized.
 */
@PublicEvolving
public class ControlledFeatureEnrichmentFunction
        extends KeyedBroadcastProcessFunction<
                String, ValidatedEvent, ControlMessage, EnrichedEvent> {
    private static final long serialVersionUID = 1L;

    private final FeatureEnrichmentFunction features;

    public ControlledFeatureEnrichmentFunction(FeatureEnrichmentFunction features) {
        this.features = features;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        features.setRuntimeContext(getRuntimeContext()); // the same keyed state, metrics and timers
        features.open(openContext);
    }

    @Override
    public void close() throws Exception {
        features.close();
        super.close();
    }

    @Override
    public void processElement(
            ValidatedEvent value, ReadOnlyContext ctx, Collector<EnrichedEvent> out)
            throws Exception {
        features.process(
                value,
                ctx.timerService(),
                letter -> ctx.output(DeadLetters.TAG, letter),
                out::collect);
    }

    @Override
    public void processBroadcastElement(
            ControlMessage command, Context ctx, Collector<EnrichedEvent> out) {
        out.collect(InBandControl.carrying(command));
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<EnrichedEvent> out)
            throws Exception {
        features.expire(timestamp, ctx.timerService());
    }
}
