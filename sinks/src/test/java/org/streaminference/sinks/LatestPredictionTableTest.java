package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The upsert against a real PostgreSQL: newest event wins, whatever order the writes come in. */
class LatestPredictionTableTest {
    private static EmbeddedPostgres postgres;
    private static ResultStoreConfig options;

    @BeforeAll
    static void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        options =
                new ResultStoreConfig(
                        postgres.getJdbcUrl("postgres", "postgres"), "postgres", "", 100, 100, 3);
        assertThat(ResultStoreSchema.migrate(options))
                .isEqualTo(ResultStoreSchema.currentVersion());
        assertThat(ResultStoreSchema.migrate(options)).as("nothing left to apply").isZero();
    }

    @AfterAll
    static void stop() throws Exception {
        postgres.close();
    }

    private static Prediction prediction(
            String entity, String eventId, long eventTime, String version, double score) {
        return Prediction.newBuilder()
                .setEventId(eventId)
                .setEntityId(entity)
                .setModelName("m")
                .setModelVersion(version)
                .setScore(score)
                .setPredictedClass(1)
                .setPredictedLabel("yes")
                .setProbabilities(List.of(1 - score, score))
                .setEventTime(eventTime)
                .setInferenceTime(eventTime + 5)
                .build();
    }

    private static void write(List<Prediction> batch) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                PreparedStatement ps = c.prepareStatement(LatestPredictionTable.UPSERT)) {
            var builder = new LatestPredictionTable.UpsertStatementBuilder();
            for (Prediction p : batch) {
                builder.accept(ps, p);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static String eventIdOf(String entity) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                PreparedStatement ps =
                        c.prepareStatement(
                                "SELECT event_id, probabilities[2], extract(epoch from event_time) * 1000 FROM "
                                        + LatestPredictionTable.TABLE
                                        + " WHERE entity_id = ? AND model_name = 'm'")) {
            ps.setString(1, entity);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                String id = rs.getString(1);
                assertThat(rs.next()).isFalse();
                return id;
            }
        }
    }

    @Test
    void olderPredictionNeverOverwritesNewer() throws Exception {
        write(List.of(prediction("a", "a-2", 2_000, "1", 0.2)));
        write(List.of(prediction("a", "a-1", 1_000, "1", 0.1)));
        assertThat(eventIdOf("a")).isEqualTo("a-2");

        write(List.of(prediction("a", "a-3", 3_000, "2", 0.3)));
        assertThat(eventIdOf("a")).isEqualTo("a-3");
    }

    @Test
    void oneBatchMayHoldOneKeySeveralTimes() throws Exception {
        write(
                List.of(
                        prediction("b", "b-1", 1_000, "1", 0.1),
                        prediction("b", "b-3", 3_000, "1", 0.3),
                        prediction("b", "b-2", 2_000, "1", 0.2)));
        assertThat(eventIdOf("b")).isEqualTo("b-3");
    }

    @Test
    void replayingTheSamePredictionChangesNothing() throws Exception {
        Prediction p = prediction("c", "c-1", 1_000, "1", 0.5);
        write(List.of(p));
        write(List.of(p));
        assertThat(eventIdOf("c")).isEqualTo("c-1");
    }
}
