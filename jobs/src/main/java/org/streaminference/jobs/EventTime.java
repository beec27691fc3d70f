package org.streaminference.jobs;

import org.streaminference.operators.validation.ValidatedRecord;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;

import java.time.Duration;

/**
 * Where the job's event time comes from: the events alone. The events source takes each valid
 * event's own time and emits watermarks per Kafka partition (Flink merges a reader's partitions and
 * excludes those idle for {@code idleness}); dead letters carry no event time and move nothing. The
 * other inputs of the keyed operators (profiles, model commands) are idle from the start and never
 * emit a watermark: Flink leaves an idle input out of an operator's combined watermark, so event
 * time stands still while no events arrive (a lull, a night, a broker outage) instead of jumping to
 * the side input's time, and no entity expires because of it.
 */
@Internal
final class EventTime {
    private EventTime() {}

    /**
     * Watermarks from valid events' times, bounded by {@code maxOutOfOrderness}; a partition
     * without a valid event for {@code idleness} stops holding them back.
     */
    static WatermarkStrategy<ValidatedRecord> ofEvents(
            Duration maxOutOfOrderness, Duration idleness) {
        WatermarkStrategy<ValidatedRecord> bounded =
                WatermarkStrategy.<ValidatedRecord>forBoundedOutOfOrderness(maxOutOfOrderness)
                        .withIdleness(idleness);
        return WatermarkStrategy.<ValidatedRecord>forGenerator(
                        context -> new OfValidEvents(bounded.createWatermarkGenerator(context)))
                .withTimestampAssigner((record, kafkaTimestamp) -> record.eventTimestamp());
    }

    /** For an input that is not events: idle from the start, it never advances event time. */
    static <T> WatermarkStrategy<T> sideInput() {
        return context ->
                new WatermarkGenerator<>() {
                    @Override
                    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {}

                    @Override
                    public void onPeriodicEmit(WatermarkOutput output) {
                        output.markIdle();
                    }
                };
    }

    /**
     * Passes only valid events on to the watermark generator: a dead letter neither advances time
     * nor is activity.
     */
    private static final class OfValidEvents implements WatermarkGenerator<ValidatedRecord> {
        private final WatermarkGenerator<ValidatedRecord> generator;

        OfValidEvents(WatermarkGenerator<ValidatedRecord> generator) {
            this.generator = generator;
        }

        @Override
        public void onEvent(ValidatedRecord record, long eventTimestamp, WatermarkOutput output) {
            if (record.event != null) {
                generator.onEvent(record, eventTimestamp, output);
            }
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput output) {
            generator.onPeriodicEmit(output);
        }
    }
}
