package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import javax.sql.DataSource;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;

/**
 * Writes predictions with the sinks' own statements, as the job would, for tests of the read side.
 */
public final class ResultStoreTestWrites {
    private ResultStoreTestWrites() {}

    public static void write(DataSource db, List<Prediction> predictions) throws Exception {
        try (Connection c = db.getConnection();
                PreparedStatement latest = c.prepareStatement(LatestPredictionTable.UPSERT);
                PreparedStatement history = c.prepareStatement(PredictionHistoryTable.INSERT)) {
            var upsert = new LatestPredictionTable.UpsertStatementBuilder();
            var insert = new PredictionHistoryTable.InsertStatementBuilder();
            for (Prediction p : predictions) {
                upsert.accept(latest, p);
                latest.executeUpdate();
                insert.accept(history, p);
                history.executeUpdate();
            }
        }
    }
}
