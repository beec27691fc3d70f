package org.streaminference.sinks;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Serializable;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the result store bounded while the job runs: every {@code interval}, deletes the {@code
 * latest_prediction} rows whose event time is more than the latest-prediction retention behind the
 * job's event time (its watermark: with the default retention, the feature spec's {@code
 * entityTtl}, a row goes when its entity's state does), and the {@code prediction_history} rows
 * older than the history retention (by the wall clock, as the job's start does). It deletes in
 * chunks of {@code chunkRows} (each a short transaction that holds few locks) on a thread of its
 * own, so neither the task thread nor the writes wait for it; a database that is away is tried
 * again at the next interval. One subtask of the latest-prediction sink runs it.
 */
@Internal
final class ResultStoreRetention implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ResultStoreRetention.class);

    /**
     * What to delete and how often.
     *
     * @param latest how far behind the watermark a latest_prediction row may fall; zero keeps rows
     *     for ever
     * @param history how old (wall clock) a history row may be; null where the job writes no
     *     history
     */
    record Config(Duration latest, Duration history, Duration interval, int chunkRows)
            implements Serializable {
        Config {
            if (latest.isNegative()
                    || interval.isZero()
                    || interval.isNegative()
                    || chunkRows < 1
                    || (history != null && (history.isZero() || history.isNegative()))) {
                throw new IllegalArgumentException(
                        "invalid result store retention: latest "
                                + latest
                                + ", history "
                                + history
                                + ", every "
                                + interval
                                + ", chunks of "
                                + chunkRows);
            }
        }

        /** Whether there is anything to delete at all. */
        boolean deletes() {
            return !latest.isZero() || history != null;
        }
    }

    private final ResultStoreConfig store;
    private final Config config;
    private final Counter latestExpired;
    private final Counter historyExpired;
    private final Counter failures;
    private volatile long watermark = Long.MIN_VALUE;
    private ScheduledExecutorService scheduler;

    ResultStoreRetention(ResultStoreConfig store, Config config, MetricGroup metrics) {
        this.store = store;
        this.config = config;
        this.latestExpired = metrics.counter("resultStoreRowsExpired");
        this.historyExpired = metrics.counter("resultStoreHistoryRowsExpired");
        this.failures = metrics.counter("resultStoreRetentionFailures");
    }

    /** The job's event time, as the sink's watermark gives it. */
    void watermark(long watermark) {
        this.watermark = watermark;
    }

    /** Starts deleting every interval, on a thread of its own. */
    void start() {
        scheduler =
                Executors.newSingleThreadScheduledExecutor(
                        runnable -> {
                            Thread thread = new Thread(runnable, "result-store-retention");
                            thread.setDaemon(true);
                            return thread;
                        });
        long every = config.interval().toMillis();
        scheduler.scheduleWithFixedDelay(this::runOnce, every, every, TimeUnit.MILLISECONDS);
    }

    /** One pass: whatever fails is logged and counted, and tried again at the next interval. */
    void runOnce() {
        try {
            long latest =
                    config.latest().isZero() || watermark == Long.MIN_VALUE
                            ? 0
                            : deleteLatestOlderThan(watermark - config.latest().toMillis());
            long history =
                    config.history() == null
                            ? 0
                            : deleteHistoryOlderThan(
                                    System.currentTimeMillis() - config.history().toMillis());
            if (latest > 0 || history > 0) {
                LOG.info(
                        "Result store retention: {} latest_prediction rows past {} behind the watermark, {}"
                                + " prediction_history rows past {} deleted",
                        latest,
                        config.latest(),
                        history,
                        config.history());
            }
        } catch (SQLException | RuntimeException e) {
            failures.inc();
            LOG.warn(
                    "Result store retention failed ({}); tried again in {}",
                    e.toString(),
                    config.interval());
        }
    }

    /**
     * Deletes latest_prediction rows with an event time before {@code cutoffMillis}; returns how
     * many.
     */
    long deleteLatestOlderThan(long cutoffMillis) throws SQLException {
        long deleted = deleteInChunks(LatestPredictionTable.TABLE, cutoffMillis);
        latestExpired.inc(deleted);
        return deleted;
    }

    /**
     * Deletes prediction_history rows with an event time before {@code cutoffMillis}; returns how
     * many.
     */
    long deleteHistoryOlderThan(long cutoffMillis) throws SQLException {
        long deleted = deleteInChunks(PredictionHistoryTable.TABLE, cutoffMillis);
        historyExpired.inc(deleted);
        return deleted;
    }

    private long deleteInChunks(String table, long cutoffMillis) throws SQLException {
        long total = 0;
        try (Connection connection = ResultStoreSchema.connect(store);
                PreparedStatement delete =
                        connection.prepareStatement(
                                "DELETE FROM "
                                        + table
                                        + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
                                        + table
                                        + " WHERE event_time < ? LIMIT ?))")) {
            delete.setObject(
                    1,
                    OffsetDateTime.ofInstant(Instant.ofEpochMilli(cutoffMillis), ZoneOffset.UTC));
            delete.setInt(2, config.chunkRows());
            int deleted;
            do {
                deleted = delete.executeUpdate(); // autocommit: one short transaction per chunk
                total += deleted;
            } while (deleted == config.chunkRows() && !Thread.currentThread().isInterrupted());
        }
        return total;
    }

    @Override
    public void close() throws InterruptedException {
        if (scheduler != null) {
            scheduler.shutdownNow();
            if (!scheduler.awaitTermination(
                    ResultStoreConfig.STATEMENT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                LOG.warn(
                        "The result store retention did not stop within {} s",
                        ResultStoreConfig.STATEMENT_TIMEOUT_SECONDS);
            }
        }
    }
}
