package org.streaminference.operators.inference.batching;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Groups items into batches and runs each batch on an inference thread of its own. A batch is cut
 * when it reaches the maximum size or when its oldest item has waited the maximum delay, whichever
 * comes first (Triton's dynamic batcher rule); with {@code dispatchWhenIdle}, also whenever no
 * batch is running and the last batch was cut at least a pace ({@code maxDelay / }{@value
 * #EAGER_BELOW}) ago: at once when an item arrives or a batch finishes after that, or a pace after
 * the last cut when it comes sooner. A slow input's records thus run as they come, and those that
 * arrive together (one network buffer, one Kafka fetch) or while a batch runs wait at most a pace,
 * not the delay; a fast input's batches are cut at most once a pace while the threads are free, so
 * that a cheap model does not become a batch per record taking the cores the task thread needs, and
 * by size and delay while they are busy. Memory is bounded by the caller: the async operator admits
 * only its capacity of records.
 */
@Internal
public final class MicroBatcher<T> {
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);

    private final int maxBatchSize;
    private final long maxDelayNanos;
    private final Consumer<List<T>> runBatch;
    private final long timeoutMillis;
    private final Consumer<List<T>> onTimeout;
    private final boolean dispatchWhenIdle;
    private final LongSupplier clock;

    /** The pace is the delay divided by this: while no batch runs, a batch at most every pace. */
    public static final int EAGER_BELOW = 8;

    /** With no batch running, pending items wait at most this long after the last cut. */
    private final long paceNanos;

    private long lastCutNanos;

    /**
     * The generation of pending items a pace timer is set for, so that one is set at most once per
     * batch.
     */
    private long pacedGeneration = -1;

    private final ThreadPoolExecutor workers;
    private final ScheduledExecutorService timer;
    private final AtomicInteger inFlight = new AtomicInteger();

    private List<T> pending;
    private long generation;

    /**
     * @param dispatchWhenIdle while no batch runs, cut the pending items a pace after the last cut
     *     at the latest
     * @param threadName prefix of the inference threads' names
     * @param runBatch runs one batch; called on an inference thread, never concurrently with more
     *     than {@code threads} others
     * @param timeoutMillis a batch not finished this long after it was cut is handed to {@code
     *     onTimeout} (on the timer thread, while it may still be running); 0 for no timeout
     */
    public MicroBatcher(
            int maxBatchSize,
            long maxDelayMillis,
            int threads,
            boolean dispatchWhenIdle,
            String threadName,
            Consumer<List<T>> runBatch,
            long timeoutMillis,
            Consumer<List<T>> onTimeout) {
        this(
                maxBatchSize,
                maxDelayMillis,
                threads,
                dispatchWhenIdle,
                threadName,
                runBatch,
                timeoutMillis,
                onTimeout,
                System::nanoTime);
    }

    /**
     * @param clock nanoseconds, for the input's pace (tests give their own)
     */
    public MicroBatcher(
            int maxBatchSize,
            long maxDelayMillis,
            int threads,
            boolean dispatchWhenIdle,
            String threadName,
            Consumer<List<T>> runBatch,
            long timeoutMillis,
            Consumer<List<T>> onTimeout,
            LongSupplier clock) {
        this.dispatchWhenIdle = dispatchWhenIdle;
        this.clock = clock;
        this.maxBatchSize = maxBatchSize;
        this.maxDelayNanos = TimeUnit.MILLISECONDS.toNanos(maxDelayMillis);
        this.paceNanos = maxDelayNanos / Math.max(1, Math.min(EAGER_BELOW, maxBatchSize));
        this.lastCutNanos = clock.getAsLong() - paceNanos;
        this.runBatch = runBatch;
        this.timeoutMillis = timeoutMillis;
        this.onTimeout = onTimeout;
        this.pending = new ArrayList<>(maxBatchSize);
        this.workers =
                new ThreadPoolExecutor(
                        threads,
                        threads,
                        0,
                        TimeUnit.MILLISECONDS,
                        new LinkedBlockingQueue<>(),
                        named(threadName + "-"));
        ScheduledThreadPoolExecutor scheduler =
                new ScheduledThreadPoolExecutor(1, named(threadName + "-timer-"));
        scheduler.setRemoveOnCancelPolicy(true);
        this.timer = scheduler;
    }

    /** Adds an item; may cut a batch. */
    public synchronized void add(T item) {
        pending.add(item);
        if (pending.size() >= maxBatchSize
                || maxDelayNanos == 0
                || (dispatchWhenIdle && inFlight.get() == 0 && cutNowOrAfterPace())) {
            cut();
        } else if (pending.size() == 1) {
            long batch = generation;
            timer.schedule(() -> cutIfStillPending(batch), maxDelayNanos, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Cuts the pending items into a batch now, whatever their number and age (at the end of the
     * input).
     */
    public synchronized void flush() {
        if (!pending.isEmpty()) {
            cut();
        }
    }

    /** Batches cut and not yet finished. */
    public int inFlightBatches() {
        return inFlight.get();
    }

    /**
     * With no batch running: true when the last cut was a pace ago or more (cut now); otherwise
     * sets a timer that cuts the pending items a pace after the last cut, if no batch runs by then.
     */
    private boolean cutNowOrAfterPace() {
        long wait = lastCutNanos + paceNanos - clock.getAsLong();
        if (wait <= 0) {
            return true;
        }
        if (pacedGeneration != generation) {
            pacedGeneration = generation;
            long batch = generation;
            timer.schedule(() -> cutIfIdle(batch), wait, TimeUnit.NANOSECONDS);
        }
        return false;
    }

    private synchronized void cutIfIdle(long batch) {
        if (batch == generation
                && !pending.isEmpty()
                && inFlight.get() == 0
                && !timer.isShutdown()) {
            cut();
        }
    }

    /** A batch finished: items that waited for it run now, or a pace after the last cut. */
    private synchronized void finished() {
        inFlight.decrementAndGet();
        if (dispatchWhenIdle
                && !pending.isEmpty()
                && inFlight.get() == 0
                && !timer.isShutdown()
                && cutNowOrAfterPace()) {
            cut();
        }
    }

    private synchronized void cutIfStillPending(long batch) {
        if (batch == generation && !pending.isEmpty() && !timer.isShutdown()) {
            cut();
        }
    }

    private void cut() {
        List<T> batch = pending;
        pending = new ArrayList<>(maxBatchSize);
        generation++;
        lastCutNanos = clock.getAsLong();
        inFlight.incrementAndGet();
        // cancelled when the batch finishes, so that a finished batch is not kept alive until its
        // timeout
        ScheduledFuture<?> timeout =
                timeoutMillis > 0
                        ? timer.schedule(
                                () -> onTimeout.accept(batch), timeoutMillis, TimeUnit.MILLISECONDS)
                        : null;
        workers.execute(
                () -> {
                    try {
                        runBatch.accept(batch);
                    } catch (Throwable t) {
                        LOG.error(
                                "A batch of {} records failed outside the isolation logic",
                                batch.size(),
                                t);
                    } finally {
                        if (timeout != null) {
                            timeout.cancel(false);
                        }
                        finished();
                    }
                });
    }

    /**
     * Stops the timer and waits for running batches to finish. Returns false if they did not within
     * the timeout; the caller must then not close the model they run on.
     */
    public boolean shutdown(long timeoutMillis) throws InterruptedException {
        synchronized (
                this) { // a batch that finishes meanwhile sees both stopped or neither, and cuts
            // nothing more
            timer.shutdownNow();
            workers.shutdown();
        }
        return workers.awaitTermination(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger counter = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
