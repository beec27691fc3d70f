package org.streaminference.jobs;

import org.streaminference.operators.validation.ValidatedRecord;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.eventtime.TimestampAssigner;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkGeneratorSupplier;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.clock.ManualClock;
import org.apache.flink.util.clock.RelativeClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Event time comes from the events alone: a dead letter neither moves the watermark nor counts as
 * activity, and a side input (profiles, commands) is idle from the start and never emits a
 * watermark, so that it cannot carry an operator's combined watermark forward while the events are
 * idle.
 */
class EventTimeTest {

    /** What a generator emitted. */
    private static final class Recorded implements WatermarkOutput {
        final List<Long> watermarks = new ArrayList<>();
        boolean idle;

        @Override
        public void emitWatermark(Watermark watermark) {
            watermarks.add(watermark.getTimestamp());
            idle = false;
        }

        @Override
        public void markIdle() {
            idle = true;
        }

        @Override
        public void markActive() {
            idle = false;
        }
    }

    private static final class Context implements WatermarkGeneratorSupplier.Context {
        final ManualClock clock =
                new ManualClock(
                        1_000_000_000L); // not 0: Flink's idleness timer reads 0 as "not started"

        @Override
        public MetricGroup getMetricGroup() {
            return new UnregisteredMetricsGroup();
        }

        @Override
        public RelativeClock getInputActivityClock() {
            return clock; // ManualClock is a Clock, which is a RelativeClock
        }
    }

    private static ValidatedRecord event(long time) {
        ValidatedRecord r = new ValidatedRecord();
        r.event =
                new ValidatedEvent(
                        "e", "entity", time, "t", new double[0], new String[0], new float[0][]);
        return r;
    }

    private static ValidatedRecord deadLetter() {
        ValidatedRecord r = new ValidatedRecord();
        r.deadLetter = new DeadLetter();
        return r;
    }

    @Test
    void watermarksFollowValidEventsOnlyAndStopAtALull() {
        WatermarkStrategy<ValidatedRecord> strategy =
                EventTime.ofEvents(Duration.ofSeconds(2), Duration.ofSeconds(30));
        Context context = new Context();
        WatermarkGenerator<ValidatedRecord> generator = strategy.createWatermarkGenerator(context);
        TimestampAssigner<ValidatedRecord> timestamps =
                strategy.createTimestampAssigner(() -> null);
        Recorded out = new Recorded();

        ValidatedRecord first = event(100_000);
        generator.onEvent(first, timestamps.extractTimestamp(first, 5), out);
        generator.onPeriodicEmit(out);
        assertThat(out.watermarks).last().isEqualTo(100_000L - 2_000 - 1);

        // a dead letter carries no event time (its Kafka timestamp is not one) and does not move
        // the watermark
        ValidatedRecord bad = deadLetter();
        assertThat(timestamps.extractTimestamp(bad, 999_999_999L)).isEqualTo(Long.MIN_VALUE);
        generator.onEvent(bad, Long.MIN_VALUE, out);
        generator.onPeriodicEmit(out);
        assertThat(out.watermarks).last().isEqualTo(100_000L - 2_000 - 1);

        // dead letters are not activity: past the idleness with only dead letters, the partition is
        // idle
        context.clock.advanceTime(Duration.ofSeconds(31));
        generator.onEvent(bad, Long.MIN_VALUE, out);
        generator.onPeriodicEmit(out);
        generator.onPeriodicEmit(out);
        assertThat(out.idle).isTrue();
        assertThat(out.watermarks).allMatch(w -> w <= 100_000L);
    }

    @Test
    void aSideInputIsIdleFromTheStartAndNeverEmitsAWatermark() {
        WatermarkGenerator<Object> generator =
                EventTime.sideInput().createWatermarkGenerator(new Context());
        Recorded out = new Recorded();
        generator.onEvent("a profile", Long.MAX_VALUE, out);
        generator.onPeriodicEmit(out);
        assertThat(out.idle).isTrue();
        generator.onEvent("a command", 42, out);
        generator.onPeriodicEmit(out);
        assertThat(out.watermarks).isEmpty();
        assertThat(out.idle).isTrue();
    }
}
