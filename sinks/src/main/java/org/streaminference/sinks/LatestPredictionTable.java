package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.connector.jdbc.JdbcStatementBuilder;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;

/**
 * The {@code latest_prediction} table: one row per (entity, model), holding the prediction for the
 * entity's newest event. The upsert only replaces a row with a prediction whose event time is not
 * older, so replays after a restore and late events can never move a row back in time; writes are
 * idempotent, so at-least-once delivery gives exactly-once contents. The table is created by {@link
 * ResultStoreSchema}'s migrations.
 */
@Internal
public final class LatestPredictionTable {
    public static final String TABLE = "latest_prediction";

    /**
     * Ties on event time go to the later write, which for a replayed event is the same row again.
     */
    static final String UPSERT =
            "INSERT INTO "
                    + TABLE
                    + " AS t (entity_id, model_name, model_version, event_id,"
                    + " event_time, score, predicted_class, predicted_label, probabilities, inference_time, embedding,"
                    + " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())"
                    + " ON CONFLICT (entity_id, model_name) DO UPDATE SET"
                    + " model_version = EXCLUDED.model_version, event_id = EXCLUDED.event_id,"
                    + " event_time = EXCLUDED.event_time, score = EXCLUDED.score,"
                    + " predicted_class = EXCLUDED.predicted_class, predicted_label = EXCLUDED.predicted_label,"
                    + " probabilities = EXCLUDED.probabilities, inference_time = EXCLUDED.inference_time,"
                    + " embedding = EXCLUDED.embedding,"
                    + " updated_at = now()"
                    + " WHERE t.event_time <= EXCLUDED.event_time";

    private LatestPredictionTable() {}

    /**
     * A JDBC sink that upserts into {@code latest_prediction}, always at-least-once: the guarded
     * upsert makes the contents exact anyway, and in XA transactions the upserts of a busy entity
     * in two consecutive checkpoints would deadlock on the first one's row lock.
     */
    public static Sink<Prediction> sink(ResultStoreConfig options) {
        return ResultStoreSinks.build(UPSERT, new UpsertStatementBuilder(), options, false);
    }

    /**
     * As {@link #sink(ResultStoreConfig)}, its first subtask also keeping the store bounded:
     * deleting rows past {@code latestRetention} behind the job's watermark (zero: none) and
     * history rows past {@code historyRetention} (null: none), every {@code interval}.
     */
    public static Sink<Prediction> sink(
            ResultStoreConfig options,
            Duration latestRetention,
            Duration historyRetention,
            Duration interval) {
        return ResultStoreSinks.build(
                UPSERT,
                new UpsertStatementBuilder(),
                options,
                false,
                new ResultStoreRetention.Config(
                        latestRetention, historyRetention, interval, RETENTION_CHUNK_ROWS));
    }

    /** Rows a retention statement deletes at most: short transactions, few locks at a time. */
    static final int RETENTION_CHUNK_ROWS = 10_000;

    /** Binds one prediction to {@link #UPSERT}. */
    static final class UpsertStatementBuilder implements JdbcStatementBuilder<Prediction> {
        private static final long serialVersionUID = 1L;

        @Override
        public void accept(PreparedStatement ps, Prediction p) throws SQLException {
            ps.setString(1, p.getEntityId());
            ps.setString(2, p.getModelName());
            ps.setString(3, p.getModelVersion());
            ps.setString(4, p.getEventId());
            PredictionColumns.bindFrom(ps, 5, p);
        }
    }
}
