package org.streaminference.cli;

import org.streaminference.model.drift.Distribution;
import org.streaminference.model.drift.DriftBaseline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code models baseline}: computes a version's training baseline from its training rows (CSV with
 * a header, or JSON lines), for {@code models publish --baseline}. Columns are named as the feature
 * spec names its float values ({@code amount}, {@code country=DE}, {@code pixels[3]}: a JSON array
 * field gives one value per element); the predictions on the training rows, where the file has
 * them, are the prediction's baseline.
 */
@Command(
        name = "baseline",
        mixinStandardHelpOptions = true,
        description =
                "Compute a training baseline (baseline.json) from training rows, for 'models publish"
                        + " --baseline'.")
final class BaselineCommand implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--rows",
            required = true,
            description =
                    "Training rows: a .csv file with a header, or JSON" + " lines (.jsonl, .json).")
    Path rows;

    @Option(names = "--out", required = true, description = "The baseline file to write.")
    Path out;

    @Option(
            names = "--features",
            split = ",",
            description =
                    "The columns to watch (default: every numeric column"
                            + " except the prediction's).")
    List<String> features;

    @Option(
            names = "--score-column",
            description = "The column holding the model's score on each row.")
    String scoreColumn;

    @Option(
            names = "--class-column",
            description =
                    "The column holding the model's predicted class (label or"
                            + " index) on each row.")
    String classColumn;

    @Option(
            names = "--bins",
            defaultValue = "10",
            description =
                    "Bins of equal training share per value (default:"
                            + " ${DEFAULT-VALUE}); a value with at most 10 distinct values gets one bin each.")
    int bins;

    @Option(
            names = "--max-rows",
            defaultValue = "1000000",
            description = "Rows read at most (default:" + " ${DEFAULT-VALUE}).")
    int maxRows;

    @Override
    public Integer call() throws Exception {
        if (scoreColumn != null && classColumn != null) {
            throw new IllegalArgumentException("give --score-column or --class-column, not both");
        }
        Map<String, List<Double>> numbers = new LinkedHashMap<>();
        Map<String, Long> classes = new LinkedHashMap<>();
        long count = read(numbers, classes);
        if (count == 0) {
            throw new IllegalArgumentException(rows + " has no rows");
        }
        Map<String, Distribution> distributions = new LinkedHashMap<>();
        List<String> columns =
                features != null
                        ? features
                        : numbers.keySet().stream()
                                .filter(c -> !c.equals(scoreColumn) && !c.equals(classColumn))
                                .toList();
        for (String column : columns) {
            List<Double> values = numbers.get(column);
            if (values == null || values.isEmpty()) {
                throw new IllegalArgumentException(
                        "column '" + column + "' has no numeric values in " + rows);
            }
            distributions.put(
                    column,
                    Distribution.of(
                            values.stream().mapToDouble(Double::doubleValue).toArray(), bins));
        }
        DriftBaseline.Predictions prediction = null;
        if (scoreColumn != null) {
            List<Double> scores = numbers.get(scoreColumn);
            if (scores == null || scores.isEmpty()) {
                throw new IllegalArgumentException(
                        "score column '" + scoreColumn + "' has no numeric values");
            }
            prediction =
                    new DriftBaseline.Predictions(
                            Distribution.of(
                                    scores.stream().mapToDouble(Double::doubleValue).toArray(),
                                    bins),
                            null);
        } else if (classColumn != null) {
            long total = classes.values().stream().mapToLong(Long::longValue).sum();
            if (total == 0) {
                throw new IllegalArgumentException(
                        "class column '" + classColumn + "' has no values");
            }
            Map<String, Double> shares = new LinkedHashMap<>();
            classes.forEach((c, n) -> shares.put(c, (double) n / total));
            prediction = new DriftBaseline.Predictions(null, shares);
        }
        DriftBaseline baseline = new DriftBaseline(count, distributions, prediction);
        Files.write(out, baseline.toJson());
        PrintWriter print = spec.commandLine().getOut();
        print.printf(
                "Baseline of %d features%s from %d rows written to %s.%n",
                distributions.size(), prediction == null ? "" : " and the prediction", count, out);
        return 0;
    }

    /** Reads every numeric cell by column, and the class column's values; returns the rows read. */
    private long read(Map<String, List<Double>> numbers, Map<String, Long> classes)
            throws IOException {
        String name = rows.getFileName().toString().toLowerCase(Locale.ROOT);
        long count = 0;
        if (name.endsWith(".csv")) {
            CsvMapper csv = new CsvMapper();
            try (MappingIterator<Map<String, String>> it =
                    csv.readerForMapOf(String.class)
                            .with(CsvSchema.emptySchema().withHeader())
                            .readValues(rows.toFile())) {
                while (it.hasNext() && count < maxRows) {
                    Map<String, String> row = it.next();
                    count++;
                    for (Map.Entry<String, String> cell : row.entrySet()) {
                        if (cell.getKey().equals(classColumn)) {
                            classes.merge(cell.getValue(), 1L, Long::sum);
                            continue;
                        }
                        Double value = parse(cell.getValue());
                        if (value != null) {
                            numbers.computeIfAbsent(cell.getKey(), k -> new ArrayList<>())
                                    .add(value);
                        }
                    }
                }
            }
            return count;
        }
        ObjectMapper json = new ObjectMapper();
        try (var lines = Files.lines(rows)) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.isBlank()) {
                    continue;
                }
                if (count >= maxRows) {
                    break;
                }
                JsonNode row = json.readTree(line);
                if (!row.isObject()) {
                    throw new IllegalArgumentException(
                            "line " + (count + 1) + " of " + rows + " is not an object");
                }
                count++;
                Map<String, Double> values = new HashMap<>();
                row.fields()
                        .forEachRemaining(
                                field -> {
                                    JsonNode v = field.getValue();
                                    if (field.getKey().equals(classColumn)) {
                                        classes.merge(v.asText(), 1L, Long::sum);
                                    } else if (v.isNumber()) {
                                        values.put(field.getKey(), v.doubleValue());
                                    } else if (v.isArray()) {
                                        for (int i = 0; i < v.size(); i++) {
                                            if (v.get(i).isNumber()) {
                                                values.put(
                                                        field.getKey() + "[" + i + "]",
                                                        v.get(i).doubleValue());
                                            }
                                        }
                                    }
                                });
                values.forEach((k, v) -> numbers.computeIfAbsent(k, c -> new ArrayList<>()).add(v));
            }
        }
        return count;
    }

    private static Double parse(String cell) {
        if (cell == null || cell.isBlank()) {
            return null;
        }
        try {
            double value = Double.parseDouble(cell.trim());
            return Double.isFinite(value) ? value : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
