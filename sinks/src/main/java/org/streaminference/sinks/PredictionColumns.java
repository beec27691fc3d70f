package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/**
 * The prediction columns both result tables share, bound in one place so that the tables cannot
 * drift apart.
 */
final class PredictionColumns {
    private PredictionColumns() {}

    /**
     * Binds event_time, score, predicted_class, predicted_label, probabilities, inference_time and
     * embedding to the parameters {@code first} to {@code first + 6}.
     */
    static void bindFrom(PreparedStatement ps, int first, Prediction p) throws SQLException {
        ps.setObject(first, utc(p.getEventTime()));
        ps.setDouble(first + 1, p.getScore());
        if (p.getPredictedClass() == null) {
            ps.setNull(first + 2, Types.INTEGER);
        } else {
            ps.setInt(first + 2, p.getPredictedClass());
        }
        ps.setString(first + 3, p.getPredictedLabel());
        ps.setArray(
                first + 4,
                ps.getConnection().createArrayOf("float8", p.getProbabilities().toArray()));
        ps.setObject(first + 5, utc(p.getInferenceTime()));
        ps.setArray(
                first + 6, ps.getConnection().createArrayOf("float4", p.getEmbedding().toArray()));
    }

    private static OffsetDateTime utc(long epochMillis) {
        return OffsetDateTime.ofInstant(Instant.ofEpochMilli(epochMillis), ZoneOffset.UTC);
    }
}
