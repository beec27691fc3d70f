package org.streaminference.operators.inference.batching;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
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
    private final Consumer<List<T>> onTimeout;
    private final boolean dispatchWhenIdle;
    private final LongSupplier clock;

    /** The pace is the delay divided by this: while no batch runs, a batch at most every pace. */
    public static final int EAGER_BELOW = 8;

    /** With no batch running, pending items wait at most this long after the last cut. */
    private final long paceNanos;

    private final long timeoutNanos;

    private long lastCutNanos;

    /** When the oldest pending item came (clock nanos); meaningful while items are pending. */
    private long firstPendingNanos;

    /** Batches cut and not finished, oldest cut first: whose timeout comes next. */
    private final ArrayDeque<InFlight<T>> running = new ArrayDeque<>();

    /**
     * The earliest time the timer is set to wake at (clock nanos), {@link Long#MAX_VALUE} for none.
     * One timer serves the delay, the pace and every batch's timeout, and is set only when a new
     * deadline comes before it: a steady input wakes it at most once a delay, an idle batcher
     * never.
     */
    private long wakeAt = Long.MAX_VALUE;

    /** The timer's one pending wake-up, set for {@link #wakeAt}; null for none. */
    private ScheduledFuture<?> wake;

    private final ThreadPoolExecutor workers;
    private final ScheduledExecutorService timer;
    private final AtomicInteger inFlight = new AtomicInteger();

    private final long taskThreadBelowNanos;

    /**
     * How long recent batches took to run (an exponentially weighted mean, nanoseconds); -1 until
     * the first batch, which therefore runs on an inference thread, ran.
     */
    private volatile long recentRunNanos = -1;

    private List<T> pending;

    /** A batch on its way through an inference thread, and when it was cut. */
    private record InFlight<T>(List<T> batch, long cutNanos) {}

    /**
     * @param dispatchWhenIdle while no batch runs, cut the pending items a pace after the last cut
     *     at the latest
     * @param threadName prefix of the inference threads' names
     * @param runBatch runs one batch; called on an inference thread, never concurrently with more
     *     than {@code threads} others
     * @param timeoutMillis a batch not finished this long after it was cut is handed to {@code
     *     onTimeout} (on the timer thread, while it may still be running); 0 for no timeout
     * @param taskThreadBelowMicros a batch {@link #add} cuts while no batch runs is run by the
     *     caller itself when recent batches took less than this (0: never)
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
            long taskThreadBelowMicros) {
        this(
                maxBatchSize,
                maxDelayMillis,
                threads,
                dispatchWhenIdle,
                threadName,
                runBatch,
                timeoutMillis,
                onTimeout,
                System::nanoTime,
                taskThreadBelowMicros);
    }

    /**
     * As above, with {@code clock} (nanoseconds) for the input's pace, the delay and the timeouts:
     * tests give their own.
     */
    MicroBatcher(
            int maxBatchSize,
            long maxDelayMillis,
            int threads,
            boolean dispatchWhenIdle,
            String threadName,
            Consumer<List<T>> runBatch,
            long timeoutMillis,
            Consumer<List<T>> onTimeout,
            LongSupplier clock,
            long taskThreadBelowMicros) {
        this.taskThreadBelowNanos = taskThreadBelowMicros * 1_000;
        this.dispatchWhenIdle = dispatchWhenIdle;
        this.clock = clock;
        this.maxBatchSize = maxBatchSize;
        this.maxDelayNanos = TimeUnit.MILLISECONDS.toNanos(maxDelayMillis);
        this.paceNanos = maxDelayNanos / Math.max(1, Math.min(EAGER_BELOW, maxBatchSize));
        this.lastCutNanos = clock.getAsLong() - paceNanos;
        this.runBatch = runBatch;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
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

    /**
     * Adds an item; may cut a batch, which the caller then runs itself when no other batch runs and
     * recent batches were cheaper than handing it over ({@code taskThreadBelowMicros}).
     */
    public void add(T item) {
        InFlight<T> here = null;
        synchronized (this) {
            pending.add(item);
            long now = clock.getAsLong();
            if (pending.size() == 1) {
                firstPendingNanos = now;
            }
            if (pending.size() >= maxBatchSize || maxDelayNanos == 0 || idleAndPaced(now)) {
                long recent = recentRunNanos;
                boolean cheap =
                        inFlight.get() == 0
                                && recent >= 0
                                && recent < taskThreadBelowNanos
                                && !timer.isShutdown();
                InFlight<T> batch = cut(now, !cheap);
                here = cheap ? batch : null;
            } else {
                wakeAt(nextDeadline());
            }
        }
        if (here != null) {
            run(here); // outside the lock: its timeout can still stop it
        }
    }

    /**
     * Cuts the pending items into a batch now, whatever their number and age (at the end of the
     * input).
     */
    public synchronized void flush() {
        if (!pending.isEmpty()) {
            cut(clock.getAsLong(), true);
        }
    }

    /** Wake-ups the timer has queued (for tests: never more than one). */
    int queuedWakeUps() {
        return ((ScheduledThreadPoolExecutor) timer).getQueue().size();
    }

    /** Batches cut and not yet finished. */
    public int inFlightBatches() {
        return inFlight.get();
    }

    /** Dispatching when idle, no batch runs and the last cut was a pace ago or more. */
    private boolean idleAndPaced(long now) {
        return dispatchWhenIdle && inFlight.get() == 0 && now - lastCutNanos >= paceNanos;
    }

    /**
     * The earliest moment something must happen without an item or a finished batch to prompt it:
     * the pending items' delay, their pace while no batch runs, the oldest batch's timeout.
     */
    private long nextDeadline() {
        long next = Long.MAX_VALUE;
        if (!pending.isEmpty()) {
            next = firstPendingNanos + maxDelayNanos;
            if (dispatchWhenIdle && inFlight.get() == 0) {
                next = Math.min(next, lastCutNanos + paceNanos);
            }
        }
        if (timeoutNanos > 0 && !running.isEmpty()) {
            next = Math.min(next, running.peekFirst().cutNanos() + timeoutNanos);
        }
        return next;
    }

    /** Sets the timer to wake at {@code deadline} unless it wakes before. */
    private void wakeAt(long deadline) {
        if (deadline >= wakeAt || timer.isShutdown()) {
            return;
        }
        if (wake != null) {
            // the one it replaces would wake for nothing, later (a steady input replaced one a
            // delay)
            wake.cancel(false);
        }
        wakeAt = deadline;
        wake =
                timer.schedule(
                        () -> woke(deadline),
                        Math.max(0, deadline - clock.getAsLong()),
                        TimeUnit.NANOSECONDS);
    }

    /**
     * On the timer thread: cuts the pending items whose delay or pace has come, hands the batches
     * past their timeout to {@code onTimeout}, and sets the timer for what comes next.
     */
    private void woke(long deadline) {
        List<List<T>> timedOut = new ArrayList<>(0);
        synchronized (this) {
            if (timer.isShutdown()) {
                return;
            }
            if (deadline == wakeAt) {
                wakeAt = Long.MAX_VALUE;
                wake = null;
            }
            // the timer never wakes early: the deadline has come even where a test's clock stands
            // still
            long now = Math.max(clock.getAsLong(), deadline);
            while (timeoutNanos > 0
                    && !running.isEmpty()
                    && now - running.peekFirst().cutNanos() >= timeoutNanos) {
                timedOut.add(running.pollFirst().batch());
            }
            if (!pending.isEmpty()
                    && (now - firstPendingNanos >= maxDelayNanos || idleAndPaced(now))) {
                cut(now, true);
            }
            wakeAt(nextDeadline());
        }
        // outside the lock: stopping a run and answering its records must not hold up the input
        for (List<T> batch : timedOut) {
            onTimeout.accept(batch);
        }
    }

    /** A batch finished: items that waited for it run now, or a pace after the last cut. */
    private synchronized void finished(InFlight<T> batch) {
        inFlight.decrementAndGet();
        running.remove(batch);
        if (dispatchWhenIdle && !pending.isEmpty() && inFlight.get() == 0) {
            long now = clock.getAsLong();
            if (idleAndPaced(now)) {
                cut(now, true);
            } else {
                wakeAt(nextDeadline());
            }
        }
    }

    /**
     * Makes the pending items a batch; hands it to the inference threads when {@code submit},
     * otherwise the caller runs it.
     */
    private InFlight<T> cut(long now, boolean submit) {
        List<T> batch = pending;
        pending = new ArrayList<>(maxBatchSize);
        lastCutNanos = now;
        inFlight.incrementAndGet();
        InFlight<T> entry = new InFlight<>(batch, now);
        running.addLast(entry);
        if (timeoutNanos > 0 && running.size() == 1) {
            wakeAt(now + timeoutNanos);
        }
        if (submit) {
            try {
                workers.execute(() -> run(entry));
            } catch (RejectedExecutionException e) {
                inFlight.decrementAndGet();
                running.remove(entry);
                throw e;
            }
        }
        return entry;
    }

    /** Runs a batch on this thread, notes what it took, and marks it finished. */
    private void run(InFlight<T> entry) {
        long start = System.nanoTime();
        try {
            runBatch.accept(entry.batch());
        } catch (Throwable t) {
            LOG.error(
                    "A batch of {} records failed outside the isolation logic",
                    entry.batch().size(),
                    t);
        } finally {
            long took = System.nanoTime() - start;
            long recent = recentRunNanos; // racy between threads: a hint only
            recentRunNanos = recent < 0 ? took : recent + (took - recent) / 8;
            finished(entry);
        }
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
