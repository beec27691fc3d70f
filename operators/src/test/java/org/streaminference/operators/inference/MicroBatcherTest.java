package org.streaminference.operators.inference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** When batches are cut: by size and delay (Triton's rule), and, dispatching when idle, whenever no batch runs. */
@Timeout(30)
class MicroBatcherTest {
    private static final long AN_HOUR = 3_600_000;

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

    @Test
    void dispatchingWhenIdleRunsARecordAtOnceAndBatchesWhileTheThreadIsBusy() throws Exception {
        Runs runs = new Runs();
        MicroBatcher<Integer> batcher = new MicroBatcher<>(64, AN_HOUR, 1, true, "test", runs::run, 0, b -> {});
        batcher.add(1); // the thread is idle: runs now, not in an hour
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        batcher.add(2);
        batcher.add(3);
        batcher.add(4); // the only thread is busy: these wait together
        assertThat(runs.batches).hasSize(1);
        runs.release.countDown(); // the thread is free: it takes what is pending, as one batch
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2, 3, 4));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void whileABatchRunsRecordsBatchEvenWithAThreadFree() throws Exception {
        Runs runs = new Runs();
        MicroBatcher<Integer> batcher = new MicroBatcher<>(3, AN_HOUR, 2, true, "test", runs::run, 0, b -> {});
        batcher.add(1);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        batcher.add(2);
        batcher.add(3);
        assertThat(runs.batches).as("a batch is running: the second thread waits for a full batch").hasSize(1);
        batcher.add(4); // full: cut by size, onto the second thread
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 2);
        assertThat(runs.batches).containsExactly(List.of(1), List.of(2, 3, 4));
        runs.release.countDown();
        assertThat(batcher.shutdown(10_000)).isTrue();
    }

    @Test
    void withoutItARecordWaitsForTheBatchToFillOrForTheDelay() throws Exception {
        Runs runs = new Runs();
        runs.release.countDown();
        MicroBatcher<Integer> batcher = new MicroBatcher<>(3, AN_HOUR, 1, false, "test", runs::run, 0, b -> {});
        batcher.add(1);
        batcher.add(2);
        assertThat(runs.batches).as("an idle thread does not cut a batch").isEmpty();
        batcher.add(3);
        await().atMost(10, TimeUnit.SECONDS).until(() -> runs.batches.size() == 1);
        assertThat(runs.batches).containsExactly(List.of(1, 2, 3));
        assertThat(batcher.shutdown(10_000)).isTrue();
    }
}
