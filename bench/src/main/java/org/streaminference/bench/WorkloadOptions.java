package org.streaminference.bench;

import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The options both benchmarks share: which models, how many records, where the peer models and
 * results are.
 */
final class WorkloadOptions {
    /** The benchmark's models. */
    enum Model {
        tiny,
        heavy,
        crayfish
    }

    @Option(
            names = "--models",
            split = ",",
            defaultValue = "tiny,heavy,crayfish",
            description = "Models to run: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    List<Model> models;

    @Option(
            names = "--scale",
            defaultValue = "1.0",
            description = "Multiplies every record count (0.2 for a quick run).")
    double scale;

    @Option(
            names = "--shared",
            defaultValue = "../shared",
            description = "Where the peer models are.")
    Path shared;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    /** The chosen models, comma-separated, as given. */
    String modelList() {
        return String.join(",", models.stream().map(Enum::name).toList());
    }

    /**
     * Writes the chosen models under {@code dir}, each with its record count (before {@code
     * --scale}); a model that is not there (the Crayfish model without ../shared) is skipped with a
     * message.
     */
    List<BenchModels.Workload> workloads(
            Path dir, long tinyRecords, long heavyRecords, long crayfishRecords)
            throws IOException {
        List<BenchModels.Workload> workloads = new ArrayList<>();
        for (Model model : models) {
            BenchModels.Workload w =
                    switch (model) {
                        case tiny -> BenchModels.tiny(dir, (long) (tinyRecords * scale));
                        case heavy -> BenchModels.heavy(dir, (long) (heavyRecords * scale));
                        case crayfish ->
                                BenchModels.crayfish(dir, shared, (long) (crayfishRecords * scale));
                    };
            if (w == null) {
                System.out.println("crayfish: skipped, " + shared + "/peer-models is absent");
            } else {
                workloads.add(w);
            }
        }
        return workloads;
    }
}
