package org.streaminference.operators.inference.batching;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * When batches are cut: by size and delay (Triton's rule), and, dispatching when idle, when no
 * batch runs and a pace (max delay / 8) has passed since the last cut. The clock is the test's, so
 * "slow" and "fast" are exact.
 */
@Timeout(30)
class MicroBatcherTest {
    /** Batches of up to 64 within 64 s: an input is slow when its items are at least 8 s apart. */
    private static final int MAX_BATCH = 64;

    private static final long MAX_DELAY_MILLIS = 64_000;
    private static final long PACE_NANOS =
            TimeUnit.MILLISECONDS.toNanos(MAX_DELAY_MILLIS) / MicroBatcher.EAGER_BELOW;

    /** Batches whose runs wait for {@link #release} before they finish. */
    private static final class Runs {
        final List<List<Integer>> batches = new CopyOnWriteArrayList<>();
        final CountDownLatch release = new CountDownLatch(1);

        void run(List<Integer> batch) {
            batches.add(batch);
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private final AtomicLong now = new AtomicLong();

    private MicroBatcher<Integer> batcher(Runs runs, int threads, boolean dispatchWhenIdle) {
        return new MicroBatcher<>(
                MAX_BATCH,
                MAX_DELAY_MILLIS,
                threads,
                dispatchWhenIdle,
                "test",
                runs::run,
                0,
                b -> {},
                now::get,
                0);
    }

    @Test
    void aSlowInputsRecordsRunAtOnce() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher = batcher(runs, 1, true);
        batcher.add(1); // nothing runs: at once, not after the delay
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        await().atMost(10, TimeUnit.SECONDS).until(() -> batcher.inFlightBatches() == 0);
        now.addAndGet(PACE_NANOS);
        batcher.add(2);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void aFastInputsRecordsBatchUntilAPaceHasPassedEvenWithNothingRunning() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher = batcher(runs, 1, true);
        batcher.add(0);
        await().atMost(10, TimeUnit.SECONDS).until(() -> batcher.inFlightBatches() == 0);
        now.addAndGet(1); // fast: the pace timer is 8 s away, the batch fills before
        List<Integer> next = new ArrayList<>();
        for (int i = 1; i < MAX_BATCH; i++) {
            batcher.add(i);
            next.add(i);
        }
        assertThat(runs.batches)
                .as("nothing runs, yet the records wait for a full batch")
                .hasSize(1);
        batcher.add(MAX_BATCH);
        next.add(MAX_BATCH);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(0), next);
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void aSlowInputsRecordThatFindsABatchRunningRunsWhenItFinishes() throws Exception {
        Runs runs = new Runs();
        MicroBatcher<Integer> batcher = batcher(runs, 1, true);
        batcher.add(1);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        now.addAndGet(PACE_NANOS);
        batcher.add(2);
        assertThat(runs.batches).as("a batch runs: the record waits for it").hasSize(1);
        runs.release.countDown(); // no flush, no third record, and the delay is a minute away
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void aRecordThatComesTooSoonAfterABatchRunsAPaceAfterIt() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher = batcher(runs, 1, true);
        batcher.add(1);
        await().atMost(10, TimeUnit.SECONDS)
                .until(() -> batcher.inFlightBatches() == 0 && runs.batches.size() == 1);
        now.addAndGet(
                PACE_NANOS
                        - TimeUnit.MILLISECONDS.toNanos(
                                5)); // as the second of two records sent together
        batcher.add(2);
        // no third record and the delay is a minute away: the pace timer, 5 ms on, cuts it
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void whileABatchRunsRecordsBatchEvenWithAThreadFree() throws Exception {
        Runs runs = new Runs();
        MicroBatcher<Integer> batcher = batcher(runs, 2, true);
        batcher.add(1);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        now.addAndGet(10 * PACE_NANOS); // slow, but a batch is running
        batcher.add(2);
        assertThat(runs.batches)
                .as("the second thread waits for a full batch or the delay")
                .hasSize(1);
        runs.release.countDown();
        batcher.flush();
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void withoutItARecordWaitsForTheBatchToFillOrForTheDelay() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher =
                new MicroBatcher<>(
                        3, MAX_DELAY_MILLIS, 1, false, "test", runs::run, 0, b -> {}, now::get, 0);
        batcher.add(1);
        now.addAndGet(10 * PACE_NANOS);
        batcher.add(2);
        assertThat(runs.batches).as("an idle thread does not cut a batch").isEmpty();
        batcher.add(3);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        assertThat(runs.batches).containsExactly(List.of(1, 2, 3));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void aCheapModelsBatchRunsOnTheCallersThreadOnceItsCostIsKnown() throws Exception {
        List<Thread> threads = new CopyOnWriteArrayList<>();
        MicroBatcher<Integer> batcher =
                new MicroBatcher<>(
                        MAX_BATCH,
                        MAX_DELAY_MILLIS,
                        1,
                        true,
                        "test",
                        batch -> threads.add(Thread.currentThread()),
                        0,
                        b -> {},
                        now::get,
                        TimeUnit.SECONDS.toMicros(10));
        batcher.add(1); // its cost unknown: an inference thread
        await().atMost(10, TimeUnit.SECONDS).until(() -> batcher.inFlightBatches() == 0);
        now.addAndGet(PACE_NANOS);
        batcher.add(2); // cheaper than the threshold, nothing running: here, before add returns
        assertThat(threads).hasSize(2);
        assertThat(threads.get(0)).isNotSameAs(Thread.currentThread());
        assertThat(threads.get(1)).isSameAs(Thread.currentThread());
        assertThat(batcher.inFlightBatches()).isZero();
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void aBatchOnTheCallersThreadIsStillStoppedAtItsTimeout() throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        List<List<Integer>> timedOut = new CopyOnWriteArrayList<>();
        AtomicLong runs = new AtomicLong();
        MicroBatcher<Integer> batcher =
                new MicroBatcher<>(
                        1,
                        MAX_DELAY_MILLIS,
                        1,
                        true,
                        "test",
                        batch -> {
                            if (runs.incrementAndGet() == 2) { // the second: stuck until stopped
                                try {
                                    stopped.await(20, TimeUnit.SECONDS);
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            }
                        },
                        200,
                        batch -> {
                            timedOut.add(batch);
                            stopped.countDown();
                        },
                        System::nanoTime,
                        TimeUnit.SECONDS.toMicros(10));
        batcher.add(1);
        await().atMost(10, TimeUnit.SECONDS).until(() -> batcher.inFlightBatches() == 0);
        batcher.add(2); // on this thread, stuck: returns only once its timeout stopped it
        assertThat(timedOut).containsExactly(List.of(2));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void whileABatchRunsOnAThreadACheapBatchGoesToTheThreadsToo() throws Exception {
        Runs runs = new Runs();
        List<Thread> threads = new CopyOnWriteArrayList<>();
        MicroBatcher<Integer> batcher =
                new MicroBatcher<>(
                        1,
                        MAX_DELAY_MILLIS,
                        2,
                        true,
                        "test",
                        batch -> {
                            threads.add(Thread.currentThread());
                            if (batch.get(0) == 2) {
                                runs.run(batch); // waits for the release
                            }
                        },
                        0,
                        b -> {},
                        now::get,
                        TimeUnit.SECONDS.toMicros(10));
        batcher.add(1); // cost unknown: a thread
        await().atMost(10, TimeUnit.SECONDS).until(() -> batcher.inFlightBatches() == 0);
        Thread caller = new Thread(() -> batcher.add(2)); // cheap and nothing runs: its caller's
        caller.start();
        await().atMost(10, TimeUnit.SECONDS).until(() -> threads.size() == 2);
        assertThat(threads.get(1)).isSameAs(caller);
        batcher.add(3); // a batch runs (on the other caller): this one goes to a thread
        await().atMost(10, TimeUnit.SECONDS).until(() -> threads.size() == 3);
        assertThat(threads.get(2)).isNotSameAs(Thread.currentThread()).isNotSameAs(caller);
        runs.release.countDown();
        caller.join(10_000);
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void theTimerHoldsOneWakeUpHoweverManyBatchesCameAndWent() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher =
                new MicroBatcher<>(MAX_BATCH, 1, 1, false, "test", runs::run, 30_000, b -> {}, 0);
        for (int i = 0; i < 20; i++) {
            int n = i + 1;
            batcher.add(i); // waits for its delay (1 ms), then its timeout (30 s) is set
            await().atMost(10, TimeUnit.SECONDS)
                    .until(() -> runs.batches.size() == n && batcher.inFlightBatches() == 0);
        }
        assertThat(batcher.queuedWakeUps())
                .as("wake-ups left queued after 20 batches, each setting a delay and a timeout")
                .isLessThanOrEqualTo(1);
        assertThat(batcher.shutdown(10_000)).isTrue();
    }
}
