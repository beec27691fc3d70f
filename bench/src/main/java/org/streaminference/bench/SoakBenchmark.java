package org.streaminference.bench;

import org.streaminference.jobs.SoakRun;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.concurrent.Callable;

/**
 * The long soak: {@link SoakRun} (the whole job on real Kafka and PostgreSQL in a MiniCluster) for
 * half an hour or more of stream, cycle after cycle of a lull longer than the watermark idleness, a
 * broker outage, a new model version, a TaskManager kill and a PostgreSQL outage, then every answer
 * compared with its recomputation from the events sent. Not a speed measurement: the report is
 * about values. CI runs the two-minute plan ({@code SoakITCase}).
 */
@Command(
        name = "soak-benchmark",
        mixinStandardHelpOptions = true,
        description =
                "The whole job through lulls, outages, restarts and swaps; every answer checked.")
final class SoakBenchmark implements Callable<Integer> {
    @Option(
            names = "--cycles",
            defaultValue = "7",
            description =
                    "Cycles of lull, broker outage, publish, TaskManager kill, database outage "
                            + "(default ${DEFAULT-VALUE}: about 32 minutes with the default lengths).")
    int cycles;

    @Option(
            names = "--steady",
            defaultValue = "PT30S",
            description = "Each steady stretch (default ${DEFAULT-VALUE}).")
    Duration steady;

    @Option(
            names = "--lull",
            defaultValue = "PT75S",
            description =
                    "Each lull without events, at least twice the idleness (default ${DEFAULT-VALUE}).")
    Duration lull;

    @Option(
            names = "--idleness",
            defaultValue = "PT30S",
            description =
                    "features.watermark-idleness of the job (default ${DEFAULT-VALUE}, the job's own).")
    Duration idleness;

    @Option(
            names = "--broker-outage",
            defaultValue = "PT25S",
            description = "Each broker outage (default ${DEFAULT-VALUE}).")
    Duration brokerOutage;

    @Option(
            names = "--database-outage",
            defaultValue = "PT20S",
            description = "Each PostgreSQL outage (default ${DEFAULT-VALUE}).")
    Duration databaseOutage;

    @Option(
            names = "--rate",
            defaultValue = "60",
            description = "Events a second (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(
            names = "--entities",
            defaultValue = "300",
            description = "Entities (default ${DEFAULT-VALUE}).")
    int entities;

    @Option(names = "--seed", defaultValue = "20261206", description = "The producer's seed.")
    long seed;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where the report goes.")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SoakBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        SoakRun.Plan plan =
                new SoakRun.Plan(
                        cycles,
                        steady,
                        lull,
                        brokerOutage,
                        databaseOutage,
                        rate,
                        entities,
                        idleness,
                        seed);
        System.out.printf(
                "Soak: %d cycles, about %.0f minutes of stream%n",
                cycles, plan.length().toSeconds() / 60.0);
        Path work = Files.createTempDirectory("soak-bench");
        SoakRun.Report report;
        try (SoakRun soak = new SoakRun(work, plan)) {
            report = soak.run();
        }
        System.out.println("Soak: " + report.summary());
        report.mismatches().forEach(m -> System.out.println("  mismatch: " + m));

        int cores = Runtime.getRuntime().availableProcessors();
        StringBuilder md =
                new StringBuilder(
                                "# Soak: every answer checked through lulls, outages, restarts and swaps\n\n")
                        .append("`bench/run.sh soak")
                        .append(cycles == 7 ? "" : " --cycles " + cycles)
                        .append("` on ")
                        .append(cores)
                        .append(" cores, ")
                        .append(LocalDate.now())
                        .append(". The whole job (`StreamInferenceJob`,")
                        .append(
                                " parallelism 2) in a MiniCluster on a real Kafka broker and a real PostgreSQL; a producer in")
                        .append(" real time (event time = the wall clock), ")
                        .append(rate)
                        .append(" events/s over ")
                        .append(entities)
                        .append(
                                " entities, about 5% out of order, 0.5% late beyond the bound, every 300th")
                        .append(" record not Avro. Each cycle: ")
                        .append(steady.toSeconds())
                        .append(" s steady, a lull of ")
                        .append(lull.toSeconds())
                        .append(" s (the job's watermark idleness is ")
                        .append(idleness.toSeconds())
                        .append(" s), the broker stopped for ")
                        .append(brokerOutage.toSeconds())
                        .append(
                                " s while the producer buffers, a new model version published, a TaskManager killed and a")
                        .append(" new one started, PostgreSQL stopped for ")
                        .append(databaseOutage.toSeconds())
                        .append(
                                " s; a tenth of the entities silent past the spec's entityTtl (30 s) in each cycle.\n\n")
                        .append(
                                "Afterwards every served feature vector is compared with `ReferenceFeatures` (a plain")
                        .append(
                                " recomputation over each entity's events, sharing none of the feature engine's state logic),")
                        .append(
                                " every prediction with ONNX Runtime run directly on those features with the version it")
                        .append(
                                " names, every dead letter with the reason its record was made to have, and")
                        .append(" `latest_prediction` with each entity's newest event.\n\n")
                        .append("| | |\n|---|---|\n")
                        .append(
                                row(
                                        "minutes run",
                                        String.format("%.1f", report.ran().toMillis() / 60_000.0)))
                        .append(
                                row(
                                        "records sent",
                                        String.format(
                                                "%,d (%,d valid events, %,d bad records, %,d late events)",
                                                report.recordsSent(),
                                                report.validEvents(),
                                                report.badRecords(),
                                                report.lateEvents())))
                        .append(row("lulls", Integer.toString(report.lulls())))
                        .append(
                                row(
                                        "faults",
                                        String.format(
                                                "%d broker outages, %d TaskManager kills, %d database outages",
                                                report.brokerOutages(),
                                                report.taskManagerKills(),
                                                report.databaseOutages())))
                        .append(
                                row(
                                        "model versions published",
                                        report.versionsPublished().toString()))
                        .append(
                                row(
                                        "predictions compared",
                                        String.format(
                                                "%,d (by version %s)",
                                                report.predictionsCompared(),
                                                report.predictionsByVersion())))
                        .append(
                                row(
                                        "largest probability difference",
                                        String.format(
                                                "%.3g", report.largestPredictionDifference())))
                        .append(
                                row(
                                        "largest feature difference (relative)",
                                        String.format("%.3g", report.largestFeatureDifference())))
                        .append(
                                row(
                                        "state expiries expected / seen",
                                        String.format(
                                                "%,d / %,d",
                                                report.expiriesExpected(), report.expiriesSeen())))
                        .append(
                                row(
                                        "latest_prediction rows expired with their silent entities",
                                        report.silentRowsExpired()
                                                + " of "
                                                + report.cycles()
                                                + " silences"))
                        .append(row("dead letters", report.deadLettersByReason().toString()))
                        .append(row("mismatches", String.format("%,d", report.mismatchCount())))
                        .append('\n');
        if (!report.mismatches().isEmpty()) {
            md.append("First mismatches:\n\n");
            report.mismatches().forEach(m -> md.append("* ").append(m).append('\n'));
        }
        Files.createDirectories(out);
        Path file = out.resolve("soak-" + LocalDate.now() + "-" + cores + "cores.md");
        Files.writeString(file, md);
        System.out.println("Report: " + file);
        return report.mismatchCount() == 0 ? 0 : 1;
    }

    private static String row(String what, String value) {
        return "| " + what + " | " + value + " |\n";
    }
}
