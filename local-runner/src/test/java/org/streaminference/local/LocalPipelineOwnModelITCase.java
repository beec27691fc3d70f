package org.streaminference.local;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./run-local.sh} with a user's own spec, ONNX file and events: the model is published with
 * the contract its signature gives, every event in the file gets its answer, and a line that is not
 * an event is named.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class LocalPipelineOwnModelITCase {

    @TempDir Path dir;

    @Test
    void aUsersModelSpecAndEventsRunLocally() throws Exception {
        Path model = dir.resolve("iris.onnx");
        try (InputStream in =
                getClass().getResourceAsStream("/exports/gbt-classifier/model.onnx")) {
            Files.copy(in, model);
        }
        Path spec =
                Files.writeString(
                        dir.resolve("iris.yaml"),
                        """
                name: iris
                version: 1
                features:
                  - {name: measurements, kind: vector, field: measurements, width: 4}
                """);
        Path events =
                Files.writeString(
                        dir.resolve("iris.jsonl"),
                        """
                {"eventId": "f-1", "entityId": "garden-1", "vectorFields": {"measurements": [5.1, 3.5, 1.4, 0.2]}}
                {"eventId": "f-2", "entityId": "garden-2", "vectorFields": {"measurements": [6.7, 3.0, 5.2, 2.3]}}

                {"entityId": "garden-3", "vectorFields": {"measurements": [1.0, 2.0]}}
                {"entityId": "garden-4", "colour": "blue"}
                not json
                """);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int code =
                new CommandLine(
                                new LocalPipeline(
                                        new PrintStream(printed, true, StandardCharsets.UTF_8)))
                        .execute(
                                "--feature-spec",
                                spec.toString(),
                                "--model-file",
                                model.toString(),
                                "--model-name",
                                "iris",
                                "--events",
                                events.toString(),
                                "--kafka-port",
                                "0",
                                "--postgres-port",
                                "0",
                                "--work-dir",
                                dir.resolve("run").toString());
        String out = printed.toString(StandardCharsets.UTF_8);
        assertThat(code).as(out).isZero();
        assertThat(out)
                .contains(
                        "outputs [probabilities:MAP_SEQUENCE[-1] as PROBABILITIES, label:INT64[-1] as LABEL]")
                .contains("line 5: Unrecognized field \"colour\"")
                .contains("line 6: Unrecognized token 'not'")
                .contains(
                        "Reconciliation: events in 3 = events answered 3 (predictions 2 + dead letters 1) (balanced);"
                                + " dead letters by reason {INVALID_FIELD=1}")
                .containsPattern("garden-1 +iris +1 .* 0 ")
                .containsPattern("garden-2 +iris +1 .* 2 ");
    }
}
