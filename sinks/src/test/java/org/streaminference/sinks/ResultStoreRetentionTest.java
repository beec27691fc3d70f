package org.streaminference.sinks;

import org.streaminference.schemas.Prediction;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The result store stays bounded while the job runs, against a real PostgreSQL: latest_prediction
 * rows fall out when their event time is the retention behind the job's watermark (an entity's row
 * goes with its feature state), history rows when they are the history retention old, in chunks; a
 * database that is away fails one pass, not the job.
 */
class ResultStoreRetentionTest {
    private static final long T0 = 1_760_000_000_000L;
    private static EmbeddedPostgres postgres;
    private static ResultStoreConfig store;

    @BeforeAll
    static void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        store =
                new ResultStoreConfig(
                        postgres.getJdbcUrl("postgres", "postgres"), "postgres", "", 100, 100, 3);
        ResultStoreSchema.migrate(store);
    }

    @AfterAll
    static void stop() throws Exception {
        postgres.close();
    }

    private static Prediction prediction(String entity, long eventTime) {
        return Prediction.newBuilder()
                .setEventId(entity + "@" + eventTime)
                .setEntityId(entity)
                .setModelName("m")
                .setModelVersion("1")
                .setScore(0.5)
                .setPredictedClass(1)
                .setPredictedLabel("yes")
                .setProbabilities(List.of(0.5, 0.5))
                .setEventTime(eventTime)
                .setInferenceTime(eventTime + 5)
                .build();
    }

    private static Set<String> column(String sql) throws Exception {
        Set<String> out = new HashSet<>();
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @Test
    void latestRowsGoWithTheirEntityByTheWatermarkAndHistoryByItsAge() throws Exception {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
                Statement s = c.createStatement()) {
            s.execute(
                    "TRUNCATE "
                            + LatestPredictionTable.TABLE
                            + ", "
                            + PredictionHistoryTable.TABLE);
        }
        List<Prediction> written = new ArrayList<>();
        for (int e = 0; e < 25; e++) { // entity e's newest event is e minutes after T0
            written.add(prediction("old-" + e, T0 + e * 60_000L));
        }
        written.add(
                prediction(
                        "now",
                        System.currentTimeMillis() - 1_000)); // history of the wall clock's today
        ResultStoreTestWrites.write(postgres.getPostgresDatabase(), written);

        Metrics metrics = new Metrics();
        ResultStoreRetention retention =
                new ResultStoreRetention(
                        store,
                        new ResultStoreRetention.Config(
                                Duration.ofMinutes(10),
                                Duration.ofDays(1),
                                Duration.ofMinutes(1),
                                4),
                        metrics);
        retention.runOnce();
        assertThat(column("SELECT entity_id FROM latest_prediction"))
                .as("no watermark yet: nothing expires")
                .hasSize(26);
        assertThat(column("SELECT entity_id FROM prediction_history"))
                .as("history older than a day: gone")
                .containsExactly("now");

        // the job's event time is T0 + 30 min: entities whose newest event is before T0 + 20 min
        // have expired
        retention.watermark(T0 + 30 * 60_000L);
        retention.runOnce(); // 20 rows, in chunks of 4
        Set<String> left = column("SELECT entity_id FROM latest_prediction");
        assertThat(left)
                .containsExactlyInAnyOrder("old-20", "old-21", "old-22", "old-23", "old-24", "now");
        assertThat(metrics.counters.get("resultStoreRowsExpired").getCount()).isEqualTo(20);

        // a row written again by a newer event stays; the retention keeps no other state
        ResultStoreTestWrites.write(
                postgres.getPostgresDatabase(), List.of(prediction("old-0", T0 + 40 * 60_000L)));
        retention.watermark(T0 + 45 * 60_000L);
        retention.runOnce();
        assertThat(column("SELECT entity_id FROM latest_prediction"))
                .containsExactlyInAnyOrder("old-0", "now");
    }

    @Test
    void aDatabaseThatIsAwayFailsOnePassAndNotTheJob() throws Exception {
        ResultStoreConfig away =
                new ResultStoreConfig(
                        "jdbc:postgresql://localhost:1/postgres", "postgres", "", 100, 100, 3);
        Metrics metrics = new Metrics();
        ResultStoreRetention retention =
                new ResultStoreRetention(
                        away,
                        new ResultStoreRetention.Config(
                                Duration.ofMinutes(10), null, Duration.ofMinutes(1), 100),
                        metrics);
        retention.watermark(T0);
        retention.runOnce(); // logged and counted; tried again at the next interval
        assertThat(metrics.counters.get("resultStoreRetentionFailures").getCount()).isEqualTo(1);
    }

    /** Keeps the counters it hands out, to read them. */
    private static final class Metrics extends UnregisteredMetricsGroup {
        final Map<String, Counter> counters = new HashMap<>();

        @Override
        public Counter counter(String name) {
            return counters.computeIfAbsent(name, n -> new SimpleCounter());
        }
    }
}
