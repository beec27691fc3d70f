package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.util.FileUtils;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

/** A real Kafka broker and a real PostgreSQL for one test class, started from Maven artifacts. */
final class EmbeddedServicesExtension implements BeforeAllCallback, AfterAllCallback {
    private EmbeddedKafkaBroker kafka;
    private EmbeddedPostgres postgres;
    private Path dir;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        dir = Files.createTempDirectory("streaminference-it");
        kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0);
        postgres =
                EmbeddedPostgres.builder()
                        .setDataDirectory(dir.resolve("pg"))
                        .setCleanDataDirectory(true)
                        .start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
        FileUtils.deleteDirectory(dir.toFile());
    }

    EmbeddedKafkaBroker kafka() {
        return kafka;
    }

    String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    Connection connection() throws SQLException {
        return postgres.getPostgresDatabase().getConnection();
    }

    /** A scratch directory that lives as long as the services. */
    Path dir() {
        return dir;
    }
}
