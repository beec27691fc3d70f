package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.connector.jdbc.JdbcStatementBuilder;

import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The {@code prediction_history} table: every prediction, append-only. The key is (event id, model,
 * version), and a replayed prediction is dropped by {@code ON CONFLICT DO NOTHING}, so replays
 * after a restore add nothing. Rows older than the retention are deleted by {@link
 * ResultStoreSchema#deleteExpiredHistory}.
 */
@Internal
public final class PredictionHistoryTable {
    public static final String TABLE = "prediction_history";

    static final String INSERT =
            "INSERT INTO "
                    + TABLE
                    + " (event_id, model_name, model_version, entity_id,"
                    + " event_time, score, predicted_class, predicted_label, probabilities, inference_time, embedding)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    + " ON CONFLICT (event_id, model_name, model_version) DO NOTHING";

    private PredictionHistoryTable() {}

    /**
     * A JDBC sink appending to {@code prediction_history} with the options' delivery guarantee:
     * with exactly-once, each checkpoint's rows are one XA transaction, visible once the checkpoint
     * completes.
     */
    public static Sink<Prediction> sink(ResultStoreConfig options) {
        return ResultStoreSinks.build(INSERT, new InsertStatementBuilder(), options, true);
    }

    /** Binds one prediction to {@link #INSERT}. */
    static final class InsertStatementBuilder implements JdbcStatementBuilder<Prediction> {
        private static final long serialVersionUID = 1L;

        @Override
        public void accept(PreparedStatement ps, Prediction p) throws SQLException {
            ps.setString(1, p.getEventId());
            ps.setString(2, p.getModelName());
            ps.setString(3, p.getModelVersion());
            ps.setString(4, p.getEntityId());
            PredictionColumns.bindFrom(ps, 5, p);
        }
    }
}
