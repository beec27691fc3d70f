package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Versioned migrations and the history table against a real PostgreSQL, a fresh database per test.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ResultStoreSchemaTest {
    private EmbeddedPostgres postgres;
    private ResultStoreConfig options;

    @BeforeEach
    void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        options =
                new ResultStoreConfig(
                        postgres.getJdbcUrl("postgres", "postgres"), "postgres", "", 100, 100, 3);
    }

    @AfterEach
    void stop() throws Exception {
        postgres.close();
    }

    private long count(String sql) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String script(String name) throws Exception {
        try (var in = ResultStoreSchema.class.getResourceAsStream("/db/result-store/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aDatabaseMigratedBeforeFlywayIsBaselinedAtItsVersion() throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement()) {
            s.execute(script("V1__latest_prediction.sql"));
            s.execute(script("V2__prediction_history.sql"));
            s.execute(
                    "CREATE TABLE "
                            + ResultStoreSchema.LEGACY_HISTORY_TABLE
                            + " (version INTEGER PRIMARY KEY,"
                            + " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
            s.execute(
                    "INSERT INTO "
                            + ResultStoreSchema.LEGACY_HISTORY_TABLE
                            + " (version, description) VALUES"
                            + " (1, 'latest'), (2, 'history')");
        }
        assertThat(ResultStoreSchema.version(options)).isEqualTo(2);
        assertThat(ResultStoreSchema.migrate(options))
                .as("only the migrations after the baseline's version 2")
                .isEqualTo(ResultStoreSchema.currentVersion() - 2);
        assertThat(ResultStoreSchema.version(options))
                .isEqualTo(ResultStoreSchema.currentVersion());
    }

    @Test
    void anEmptyDatabaseIsMigratedOnceAndRecordsEachVersion() throws Exception {
        assertThat(ResultStoreSchema.version(options)).isZero();
        assertThat(ResultStoreSchema.migrate(options))
                .as("every script, up to the version this build states")
                .isEqualTo(ResultStoreSchema.currentVersion());
        assertThat(ResultStoreSchema.migrate(options)).isZero();
        assertThat(ResultStoreSchema.version(options))
                .isEqualTo(ResultStoreSchema.currentVersion());
        assertThat(
                        count(
                                "SELECT count(*) FROM "
                                        + ResultStoreSchema.HISTORY_TABLE
                                        + " WHERE success"))
                .isEqualTo(ResultStoreSchema.currentVersion());
        assertThat(count("SELECT count(*) FROM pg_indexes WHERE tablename = 'prediction_history'"))
                .isEqualTo(3);
    }

    @Test
    void aDatabaseFromBeforeMigrationsKeepsItsRowsAndGainsTheHistory() throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement()) {
            s.execute(script("V1__latest_prediction.sql")); // what the walking skeleton created
            s.execute(
                    "INSERT INTO latest_prediction (entity_id, model_name, model_version, event_id, event_time,"
                            + " score, probabilities, inference_time) VALUES ('u1', 'm', '1', 'e1', now(), 0.5,"
                            + " ARRAY[0.5, 0.5], now())");
        }
        ResultStoreSchema.migrate(options);
        assertThat(count("SELECT count(*) FROM latest_prediction")).isEqualTo(1);
        assertThat(count("SELECT count(*) FROM prediction_history")).isZero();
    }

    @Test
    void aDatabaseNewerThanTheJobIsRefused() throws Exception {
        ResultStoreSchema.migrate(options);
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement()) {
            s.execute(
                    "INSERT INTO "
                            + ResultStoreSchema.HISTORY_TABLE
                            + " (installed_rank, version, description,"
                            + " type, script, checksum, installed_by, execution_time, success) VALUES (99, '99',"
                            + " 'from the future', 'SQL', 'V99__future.sql', 0, 'test', 0, true)");
        }
        assertThatThrownBy(() -> ResultStoreSchema.migrate(options))
                .hasMessageContaining("schema version 99, newer than this job's");
    }

    @Test
    void historyIsAppendOnlyAndReplaysAddNothing() throws Exception {
        ResultStoreSchema.migrate(options);
        Prediction v1 = prediction("e1", "1", System.currentTimeMillis());
        Prediction v2 = prediction("e1", "2", System.currentTimeMillis());
        Prediction old =
                prediction("e0", "1", System.currentTimeMillis() - Duration.ofDays(40).toMillis());
        insert(List.of(v1, v2, old));
        insert(List.of(v1, v2, old)); // a replay after a restore
        assertThat(count("SELECT count(*) FROM prediction_history")).isEqualTo(3);
        assertThat(count("SELECT count(*) FROM prediction_history WHERE event_id = 'e1'"))
                .as("one row per version")
                .isEqualTo(2);

        assertThat(ResultStoreSchema.deleteExpiredHistory(options, Duration.ofDays(30)))
                .isEqualTo(1);
        assertThat(count("SELECT count(*) FROM prediction_history WHERE event_id = 'e0'")).isZero();
    }

    private void insert(List<Prediction> batch) throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                PreparedStatement ps = c.prepareStatement(PredictionHistoryTable.INSERT)) {
            var builder = new PredictionHistoryTable.InsertStatementBuilder();
            for (Prediction p : batch) {
                builder.accept(ps, p);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static Prediction prediction(String eventId, String version, long eventTime) {
        return Prediction.newBuilder()
                .setEventId(eventId)
                .setEntityId("u1")
                .setModelName("m")
                .setModelVersion(version)
                .setScore(0.7)
                .setPredictedClass(1)
                .setPredictedLabel("yes")
                .setProbabilities(List.of(0.3, 0.7))
                .setEventTime(eventTime)
                .setInferenceTime(eventTime + 5)
                .build();
    }
}
