package org.streaminference.jobs;

import org.apache.flink.util.FileUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The short soak ({@link SoakRun.Plan#quick()}, about two minutes of stream): a lull longer than
 * the watermark idleness, a broker outage, a new model version and a TaskManager kill while events
 * flow, one group of entities silent past the entityTtl; then every answer is compared with a
 * recomputation from the events sent. The stream is one timeline, so it runs once (before the
 * steps); each step checks one thing the timeline must have kept. The long soak is {@code
 * bench/run.sh soak}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SoakITCase {
    private Path dir;
    private SoakRun.Report report;

    @BeforeAll
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void runTheTimeline() throws Exception {
        dir = Files.createTempDirectory("soak");
        try (SoakRun soak = new SoakRun(dir, SoakRun.Plan.quick())) {
            report = soak.run();
        }
        System.out.println("Soak: " + report.summary());
        report.mismatches().forEach(m -> System.out.println("  mismatch: " + m));
    }

    @AfterAll
    void deleteTheWorkDirectory() throws Exception {
        FileUtils.deleteDirectory(dir.toFile());
    }

    @Test
    @Order(1)
    void everyDisturbanceOfThePlanHappened() {
        assertThat(report.lulls()).isEqualTo(1);
        assertThat(report.brokerOutages()).isEqualTo(1);
        assertThat(report.taskManagerKills()).isEqualTo(1);
    }

    @Test
    @Order(2)
    void everyAnswerEqualsItsRecomputationFromTheEventsSent() {
        assertThat(report.mismatches()).as(report.summary()).isEmpty();
        assertThat(report.predictionsCompared())
                .as("every valid event that is not late was compared")
                .isEqualTo(report.validEvents() - report.lateEvents());
    }

    @Test
    @Order(3)
    void theSwappedInVersionAnsweredBesideTheFirst() {
        assertThat(report.predictionsByVersion())
                .as("both versions answered")
                .containsOnlyKeys("1", "2");
    }

    @Test
    @Order(4)
    void silentEntitiesExpiredAndTheirLatestPredictionsWithThem() {
        assertThat(report.expiriesExpected())
                .as("the silent group's entities expired")
                .isPositive();
        assertThat(report.expiriesSeen()).isEqualTo(report.expiriesExpected());
        assertThat(report.silentRowsExpired())
                .as("latest_prediction rows went with their silent entities")
                .isEqualTo(report.cycles());
    }
}
