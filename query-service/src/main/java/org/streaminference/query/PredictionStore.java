package org.streaminference.query;

import org.streaminference.sinks.LatestPredictionTable;
import org.streaminference.sinks.PredictionHistoryTable;
import org.streaminference.sinks.ResultStoreConfig;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the result store with prepared statements only, over a small connection pool. */
final class PredictionStore implements AutoCloseable {
    private static final String COLUMNS =
            "model_name, model_version, event_id, event_time, score, predicted_class,"
                    + " predicted_label, probabilities, inference_time, embedding";
    private static final String LATEST =
            "SELECT "
                    + COLUMNS
                    + " FROM "
                    + LatestPredictionTable.TABLE
                    + " WHERE entity_id = ? ORDER BY model_name";
    private static final String LATEST_OF_MODEL =
            "SELECT "
                    + COLUMNS
                    + " FROM "
                    + LatestPredictionTable.TABLE
                    + " WHERE entity_id = ? AND model_name = ?";
    private static final String MODELS =
            "SELECT model_name, model_version, count(*), max(inference_time) FROM "
                    + LatestPredictionTable.TABLE
                    + " GROUP BY model_name, model_version ORDER BY model_name, model_version";

    /**
     * A query that runs longer is cancelled by the server: a frozen or overloaded database answers
     * 503 quickly.
     */
    static final int STATEMENT_TIMEOUT_SECONDS = 5;

    private final HikariDataSource pool;

    PredictionStore(ResultStoreConfig options, int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(
                ResultStoreConfig.withTimeouts(options.jdbcUrl(), STATEMENT_TIMEOUT_SECONDS));
        config.setUsername(options.username());
        config.setPassword(options.password());
        config.setMaximumPoolSize(poolSize);
        config.setReadOnly(true);
        config.setPoolName("query-service");
        config.setInitializationFailTimeout(
                -1); // start even when the database is down; /health says so
        config.setConnectionTimeout(5_000);
        this.pool = new HikariDataSource(config);
    }

    /** The newest prediction per model for an entity. */
    /**
     * The newest prediction of each model for an entity, or of {@code model} only (null: every
     * model).
     */
    List<Map<String, Object>> latest(String entityId, String model) throws SQLException {
        try (Connection c = pool.getConnection();
                PreparedStatement ps =
                        c.prepareStatement(model == null ? LATEST : LATEST_OF_MODEL)) {
            ps.setString(1, entityId);
            if (model != null) {
                ps.setString(2, model);
            }
            return rows(ps);
        }
    }

    /** An entity's predictions, newest first, optionally for one model and from a time on. */
    List<Map<String, Object>> history(String entityId, String model, Instant since, int limit)
            throws SQLException {
        String sql =
                "SELECT "
                        + COLUMNS
                        + " FROM "
                        + PredictionHistoryTable.TABLE
                        + " WHERE entity_id = ?"
                        + (model == null ? "" : " AND model_name = ?")
                        + (since == null ? "" : " AND event_time >= ?")
                        + " ORDER BY event_time DESC, model_name, model_version LIMIT ?";
        try (Connection c = pool.getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            ps.setString(i++, entityId);
            if (model != null) {
                ps.setString(i++, model);
            }
            if (since != null) {
                ps.setTimestamp(i++, Timestamp.from(since));
            }
            ps.setInt(i, limit);
            return rows(ps);
        }
    }

    /** The model versions answering for entities now, with how many entities each answers for. */
    List<Map<String, Object>> models() throws SQLException {
        try (Connection c = pool.getConnection();
                PreparedStatement ps = c.prepareStatement(MODELS);
                ResultSet rs = ps.executeQuery()) {
            List<Map<String, Object>> out = new ArrayList<>();
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("model", rs.getString(1));
                row.put("version", rs.getString(2));
                row.put("entities", rs.getLong(3));
                row.put("lastInferenceTime", rs.getTimestamp(4).toInstant().toString());
                out.add(row);
            }
            return out;
        }
    }

    /** Whether the database answers. */
    boolean isReachable() {
        try (Connection c = pool.getConnection()) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    private static List<Map<String, Object>> rows(PreparedStatement ps) throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("model", rs.getString("model_name"));
                row.put("version", rs.getString("model_version"));
                row.put("eventId", rs.getString("event_id"));
                row.put("eventTime", rs.getTimestamp("event_time").toInstant().toString());
                row.put("score", rs.getDouble("score"));
                int predictedClass = rs.getInt("predicted_class");
                row.put("predictedClass", rs.wasNull() ? null : predictedClass);
                row.put("predictedLabel", rs.getString("predicted_label"));
                Array probabilities = rs.getArray("probabilities");
                row.put(
                        "probabilities",
                        probabilities == null
                                ? List.of()
                                : List.of((Double[]) probabilities.getArray()));
                row.put("inferenceTime", rs.getTimestamp("inference_time").toInstant().toString());
                Array embedding = rs.getArray("embedding");
                Float[] vector = embedding == null ? new Float[0] : (Float[]) embedding.getArray();
                if (vector.length > 0) {
                    row.put(
                            "embedding",
                            List.of(vector)); // only for embedding models: others stay as they were
                }
                out.add(row);
            }
        }
        return out;
    }

    @Override
    public void close() {
        pool.close();
    }
}
