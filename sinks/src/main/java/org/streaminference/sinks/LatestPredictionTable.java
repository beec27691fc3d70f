package org.streaminference.sinks;

import org.apache.flink.connector.jdbc.JdbcConnectionOptions;
import org.apache.flink.connector.jdbc.JdbcExecutionOptions;
import org.apache.flink.connector.jdbc.JdbcStatementBuilder;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSink;
import org.streaminference.schemas.Prediction;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/**
 * The {@code latest_prediction} table: one row per (entity, model), holding the prediction for the entity's
 * newest event. The upsert only replaces a row with a prediction whose event time is not older, so replays after
 * a restore and late events can never move a row back in time; writes are idempotent, so at-least-once delivery
 * gives exactly-once contents.
 */
public final class LatestPredictionTable {
    public static final String TABLE = "latest_prediction";

    static final String DDL = "CREATE TABLE IF NOT EXISTS " + TABLE + " ("
            + " entity_id TEXT NOT NULL,"
            + " model_name TEXT NOT NULL,"
            + " model_version TEXT NOT NULL,"
            + " event_id TEXT NOT NULL,"
            + " event_time TIMESTAMPTZ NOT NULL,"
            + " score DOUBLE PRECISION NOT NULL,"
            + " predicted_class INTEGER,"
            + " predicted_label TEXT,"
            + " probabilities DOUBLE PRECISION[] NOT NULL,"
            + " inference_time TIMESTAMPTZ NOT NULL,"
            + " updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
            + " PRIMARY KEY (entity_id, model_name))";

    /** Ties on event time go to the later write, which for a replayed event is the same row again. */
    static final String UPSERT = "INSERT INTO " + TABLE + " AS t (entity_id, model_name, model_version, event_id,"
            + " event_time, score, predicted_class, predicted_label, probabilities, inference_time, updated_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())"
            + " ON CONFLICT (entity_id, model_name) DO UPDATE SET"
            + " model_version = EXCLUDED.model_version, event_id = EXCLUDED.event_id,"
            + " event_time = EXCLUDED.event_time, score = EXCLUDED.score,"
            + " predicted_class = EXCLUDED.predicted_class, predicted_label = EXCLUDED.predicted_label,"
            + " probabilities = EXCLUDED.probabilities, inference_time = EXCLUDED.inference_time,"
            + " updated_at = now()"
            + " WHERE t.event_time <= EXCLUDED.event_time";

    private LatestPredictionTable() {}

    /** Creates the table if it does not exist. Called by the job before it starts writing. */
    public static void createIfAbsent(ResultStoreOptions options) throws SQLException {
        try (Connection connection =
                        DriverManager.getConnection(options.jdbcUrl(), options.username(), options.password());
                Statement statement = connection.createStatement()) {
            statement.execute(DDL);
        }
    }

    /** An at-least-once JDBC sink that upserts into {@code latest_prediction}. */
    public static JdbcSink<Prediction> sink(ResultStoreOptions options) {
        return JdbcSink.<Prediction>builder()
                .withQueryStatement(UPSERT, new UpsertStatementBuilder())
                .withExecutionOptions(JdbcExecutionOptions.builder()
                        .withBatchSize(options.batchSize())
                        .withBatchIntervalMs(options.batchIntervalMs())
                        .withMaxRetries(options.maxRetries())
                        .build())
                .buildAtLeastOnce(new JdbcConnectionOptions.JdbcConnectionOptionsBuilder()
                        .withUrl(options.jdbcUrl())
                        .withDriverName("org.postgresql.Driver")
                        .withUsername(options.username())
                        .withPassword(options.password())
                        .build());
    }

    /** Binds one prediction to {@link #UPSERT}. */
    static final class UpsertStatementBuilder implements JdbcStatementBuilder<Prediction> {
        private static final long serialVersionUID = 1L;

        @Override
        public void accept(PreparedStatement ps, Prediction p) throws SQLException {
            ps.setString(1, p.getEntityId());
            ps.setString(2, p.getModelName());
            ps.setString(3, p.getModelVersion());
            ps.setString(4, p.getEventId());
            ps.setObject(5, utc(p.getEventTime()));
            ps.setDouble(6, p.getScore());
            if (p.getPredictedClass() == null) {
                ps.setNull(7, Types.INTEGER);
            } else {
                ps.setInt(7, p.getPredictedClass());
            }
            ps.setString(8, p.getPredictedLabel());
            ps.setArray(9, ps.getConnection().createArrayOf("float8", p.getProbabilities().toArray()));
            ps.setObject(10, utc(p.getInferenceTime()));
        }

        private static OffsetDateTime utc(long epochMillis) {
            return OffsetDateTime.ofInstant(Instant.ofEpochMilli(epochMillis), ZoneOffset.UTC);
        }
    }
}
