package org.streaminference.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The short soak ({@link SoakRun.Plan#quick()}, about two minutes of stream): a lull longer than the watermark
 * idleness, a broker outage, a new model version and a TaskManager kill while events flow, one group of entities
 * silent past the entityTtl; then every answer is compared with a recomputation from the events sent. The long soak
 * is {@code bench/run.sh soak}.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SoakITCase {
    @TempDir
    Path dir;

    @Test
    void everyAnswerEqualsItsRecomputationThroughLullsOutagesRestartsAndASwap() throws Exception {
        SoakRun.Report report;
        try (SoakRun soak = new SoakRun(dir, SoakRun.Plan.quick())) {
            report = soak.run();
        }
        System.out.println("Soak: " + report.summary());
        report.mismatches().forEach(m -> System.out.println("  mismatch: " + m));
        assertThat(report.mismatches()).as(report.summary()).isEmpty();
        assertThat(report.predictionsCompared()).as("every valid event that is not late was compared")
                .isEqualTo(report.validEvents() - report.lateEvents());
        assertThat(report.predictionsByVersion()).as("both versions answered").containsOnlyKeys("1", "2");
        assertThat(report.expiriesExpected()).as("the silent group's entities expired").isPositive();
        assertThat(report.expiriesSeen()).isEqualTo(report.expiriesExpected());
        assertThat(report.silentRowsExpired()).as("latest_prediction rows went with their silent entities")
                .isEqualTo(report.cycles());
        assertThat(report.lulls()).isEqualTo(1);
        assertThat(report.brokerOutages()).isEqualTo(1);
        assertThat(report.taskManagerKills()).isEqualTo(1);
    }
}
