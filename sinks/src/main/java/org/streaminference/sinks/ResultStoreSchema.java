package org.streaminference.sinks;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

/**
 * The result store's tables, created and changed only by numbered migrations that the job applies when it starts
 * (never by hand). Applied migrations are recorded in {@code result_store_schema}; a PostgreSQL advisory lock makes
 * concurrent starts (several jobs, a query service) apply each migration once. A database at a newer version than
 * this build knows is refused instead of written with an old layout.
 */
public final class ResultStoreSchema {
    private static final Logger LOG = LoggerFactory.getLogger(ResultStoreSchema.class);
    static final String HISTORY_TABLE = "result_store_schema";
    /** Arbitrary, fixed key of the advisory lock that serializes migrations. */
    private static final long MIGRATION_LOCK = 0x5354524d494e4600L;

    // Migration statements are written out here and never edited once released: a change is a new migration.
    /** V1, as the walking skeleton created it (IF NOT EXISTS: databases from before migrations keep theirs). */
    static final String V1_LATEST_PREDICTION = "CREATE TABLE IF NOT EXISTS latest_prediction ("
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

    static final String V2_PREDICTION_HISTORY = "CREATE TABLE IF NOT EXISTS prediction_history ("
            + " event_id TEXT NOT NULL,"
            + " model_name TEXT NOT NULL,"
            + " model_version TEXT NOT NULL,"
            + " entity_id TEXT NOT NULL,"
            + " event_time TIMESTAMPTZ NOT NULL,"
            + " score DOUBLE PRECISION NOT NULL,"
            + " predicted_class INTEGER,"
            + " predicted_label TEXT,"
            + " probabilities DOUBLE PRECISION[] NOT NULL,"
            + " inference_time TIMESTAMPTZ NOT NULL,"
            + " written_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
            + " PRIMARY KEY (event_id, model_name, model_version))";

    /** One step of the schema: applied in a transaction, in order, once. */
    record Migration(int version, String description, List<String> statements) {}

    static final List<Migration> MIGRATIONS = List.of(
            new Migration(1, "latest_prediction: one row per entity and model", List.of(
                    V1_LATEST_PREDICTION)),
            new Migration(2, "prediction_history: every prediction, idempotent per event, model and version", List.of(
                    V2_PREDICTION_HISTORY,
                    "CREATE INDEX IF NOT EXISTS prediction_history_entity ON " + PredictionHistoryTable.TABLE
                            + " (entity_id, model_name, event_time DESC)",
                    "CREATE INDEX IF NOT EXISTS prediction_history_event_time ON " + PredictionHistoryTable.TABLE
                            + " (event_time)")));

    private ResultStoreSchema() {}

    /** The schema version this build writes. */
    public static int currentVersion() {
        return MIGRATIONS.get(MIGRATIONS.size() - 1).version();
    }

    /** Brings the database to {@link #currentVersion()}; returns the number of migrations applied. */
    public static int migrate(ResultStoreOptions options) throws SQLException {
        try (Connection connection = connect(options)) {
            connection.setAutoCommit(false);
            try (Statement s = connection.createStatement()) {
                s.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
                s.execute("CREATE TABLE IF NOT EXISTS " + HISTORY_TABLE + " (version INTEGER PRIMARY KEY,"
                        + " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
                int current = version(s);
                if (current > currentVersion()) {
                    throw new SQLException("The result store is at schema version " + current + ", newer than this"
                            + " job's " + currentVersion() + ": run a job built from the same or a newer release.");
                }
                int applied = 0;
                for (Migration m : MIGRATIONS) {
                    if (m.version() <= current) {
                        continue;
                    }
                    for (String statement : m.statements()) {
                        s.execute(statement);
                    }
                    try (PreparedStatement record = connection.prepareStatement(
                            "INSERT INTO " + HISTORY_TABLE + " (version, description) VALUES (?, ?)")) {
                        record.setInt(1, m.version());
                        record.setString(2, m.description());
                        record.executeUpdate();
                    }
                    LOG.info("Result store: applied migration {} ({})", m.version(), m.description());
                    applied++;
                }
                connection.commit();
                return applied;
            } catch (SQLException | RuntimeException e) {
                connection.rollback();
                throw e;
            }
        }
    }

    /** The version recorded in the database, 0 for a database the job has not written yet. */
    public static int version(ResultStoreOptions options) throws SQLException {
        try (Connection connection = connect(options); Statement s = connection.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT to_regclass('" + HISTORY_TABLE + "') IS NOT NULL")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return 0;
                }
            }
            return version(s);
        }
    }

    private static int version(Statement s) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT coalesce(max(version), 0) FROM " + HISTORY_TABLE)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Deletes history rows whose event time is older than {@code retention}; returns how many. */
    public static int deleteExpiredHistory(ResultStoreOptions options, Duration retention) throws SQLException {
        try (Connection connection = connect(options);
                PreparedStatement delete = connection.prepareStatement("DELETE FROM " + PredictionHistoryTable.TABLE
                        + " WHERE event_time < now() - make_interval(secs => ?)")) {
            delete.setDouble(1, retention.toMillis() / 1000.0);
            return delete.executeUpdate();
        }
    }

    /**
     * Connects through the PostgreSQL driver directly, not {@link DriverManager}: DriverManager registers drivers
     * once per JVM, so a job submitted again to the same JobManager (a new user-code class loader) found "no
     * suitable driver" (seen on the standalone cluster, restarting from a savepoint).
     */
    static Connection connect(ResultStoreOptions options) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", options.username());
        properties.setProperty("password", options.password());
        Connection connection = new org.postgresql.Driver().connect(options.connectionUrl(), properties);
        if (connection == null) {
            throw new SQLException("not a PostgreSQL JDBC URL: " + ResultStoreOptions.masked(options.jdbcUrl()));
        }
        return connection;
    }
}
