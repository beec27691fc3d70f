package org.streaminference.sinks;

import org.apache.flink.annotation.Internal;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;

/**
 * The result store's tables, created and changed only by numbered migrations that the job applies
 * when it starts (never by hand): Flyway, with the SQL scripts in {@code db/result-store} of this
 * module, recorded in {@value #HISTORY_TABLE}. Flyway's PostgreSQL advisory lock makes concurrent
 * starts (several jobs, a query service) apply each migration once. A database at a newer version
 * than this build knows is refused instead of written with an old layout.
 */
@Internal
public final class ResultStoreSchema {
    private static final Logger LOG = LoggerFactory.getLogger(ResultStoreSchema.class);
    static final String HISTORY_TABLE = "result_store_schema_history";

    /**
     * Where releases before Flyway recorded their migrations; such a database is baselined at its
     * version.
     */
    static final String LEGACY_HISTORY_TABLE = "result_store_schema";

    static final String LOCATION = "classpath:db/result-store";

    private ResultStoreSchema() {}

    /**
     * The schema version this build writes: its newest migration script (a test checks they agree).
     */
    static final int CURRENT_VERSION = 4;

    public static int currentVersion() {
        return CURRENT_VERSION;
    }

    /**
     * Brings the database to {@link #currentVersion()}; returns the number of migrations applied.
     */
    public static int migrate(ResultStoreConfig options) throws SQLException {
        int legacy = legacyVersion(options);
        Flyway flyway = flyway(options, Integer.toString(legacy));
        int current = appliedVersion(flyway);
        if (current > currentVersion()) {
            throw new SQLException(
                    "The result store is at schema version "
                            + current
                            + ", newer than this job's "
                            + currentVersion()
                            + ": run a job built from the same or a newer release.");
        }
        try {
            MigrateResult result = flyway.migrate();
            result.migrations.forEach(
                    m ->
                            LOG.info(
                                    "Result store: applied migration {} ({})",
                                    m.version,
                                    m.description));
            return result.migrationsExecuted;
        } catch (FlywayException e) {
            throw new SQLException("Migrating the result store failed: " + e.getMessage(), e);
        }
    }

    /** The version recorded in the database, 0 for a database the job has not written yet. */
    public static int version(ResultStoreConfig options) throws SQLException {
        return Math.max(appliedVersion(flyway(options, "0")), legacyVersion(options));
    }

    private static int appliedVersion(Flyway flyway) throws SQLException {
        try {
            int version = 0;
            for (MigrationInfo applied : flyway.info().applied()) {
                if (applied.getVersion() != null && applied.getState().isApplied()) {
                    version =
                            Math.max(version, Integer.parseInt(applied.getVersion().getVersion()));
                }
            }
            return version;
        } catch (FlywayException e) {
            throw new SQLException(
                    "Reading the result store's schema history failed: " + e.getMessage(), e);
        }
    }

    /**
     * Flyway over the result store. A database that already has tables but no Flyway history is
     * baselined at {@code baseline}: the version a release before Flyway recorded, or 0 (every
     * migration creates its objects only if they do not exist, so a database from before migrations
     * keeps its rows). A newer database is refused by {@link #migrate} before Flyway runs.
     */
    private static Flyway flyway(ResultStoreConfig options, String baseline) {
        FluentConfiguration config =
                Flyway.configure(ResultStoreSchema.class.getClassLoader())
                        .locations(LOCATION)
                        .table(HISTORY_TABLE)
                        .baselineOnMigrate(true)
                        .baselineVersion(baseline)
                        .baselineDescription("before Flyway")
                        .dataSource(new DriverDataSource(options));
        return config.load();
    }

    /** The version a release before Flyway recorded in {@value #LEGACY_HISTORY_TABLE}, or 0. */
    private static int legacyVersion(ResultStoreConfig options) throws SQLException {
        try (Connection connection = connect(options);
                Statement s = connection.createStatement()) {
            try (ResultSet rs =
                    s.executeQuery(
                            "SELECT to_regclass('" + LEGACY_HISTORY_TABLE + "') IS NOT NULL")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return 0;
                }
            }
            try (ResultSet rs =
                    s.executeQuery(
                            "SELECT coalesce(max(version), 0) FROM " + LEGACY_HISTORY_TABLE)) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    /** Deletes history rows whose event time is older than {@code retention}; returns how many. */
    public static int deleteExpiredHistory(ResultStoreConfig options, Duration retention)
            throws SQLException {
        try (Connection connection = connect(options);
                PreparedStatement delete =
                        connection.prepareStatement(
                                "DELETE FROM "
                                        + PredictionHistoryTable.TABLE
                                        + " WHERE event_time < now() - make_interval(secs => ?)")) {
            delete.setDouble(1, retention.toMillis() / 1000.0);
            return delete.executeUpdate();
        }
    }

    /**
     * Connects through the PostgreSQL driver directly, not {@link java.sql.DriverManager}: it
     * registers drivers once per JVM, so a job submitted again to the same JobManager (a new
     * user-code class loader) found "no suitable driver" (seen on the standalone cluster,
     * restarting from a savepoint).
     */
    static Connection connect(ResultStoreConfig options) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", options.username());
        properties.setProperty("password", options.password());
        Connection connection = new Driver().connect(options.connectionUrl(), properties);
        if (connection == null) {
            throw new SQLException(
                    "not a PostgreSQL JDBC URL: " + ResultStoreConfig.masked(options.jdbcUrl()));
        }
        return connection;
    }

    /** Connections for Flyway, made the same way as {@link #connect} (the driver directly). */
    private static final class DriverDataSource implements DataSource {
        private final ResultStoreConfig options;

        DriverDataSource(ResultStoreConfig options) {
            this.options = options;
        }

        @Override
        public Connection getConnection() throws SQLException {
            return connect(options);
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            return connect(options);
        }

        @Override
        public PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(PrintWriter out) {}

        @Override
        public void setLoginTimeout(int seconds) {}

        @Override
        public int getLoginTimeout() {
            return 0;
        }

        @Override
        public java.util.logging.Logger getParentLogger() throws SQLFeatureNotSupportedException {
            throw new SQLFeatureNotSupportedException();
        }

        @Override
        public <T> T unwrap(Class<T> iface) throws SQLException {
            throw new SQLException("not a wrapper");
        }

        @Override
        public boolean isWrapperFor(Class<?> iface) {
            return false;
        }
    }
}
