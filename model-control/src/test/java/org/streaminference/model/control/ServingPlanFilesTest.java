package org.streaminference.model.control;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Serving plans as people write them in files, and a key given twice, which YAML parsers disagree
 * about.
 */
class ServingPlanFilesTest {
    @TempDir Path dir;

    @Test
    void aYamlPlanReads() throws Exception {
        Path file =
                Files.writeString(
                        dir.resolve("plan.yaml"),
                        """
                routes:
                  - eventTypes: [purchase]
                    to: [fraud]
                """);
        assertThat(ServingPlans.describe(ServingPlanFiles.read(file.toString())))
                .isEqualTo("purchase -> fraud");
    }

    @Test
    void aKeyGivenTwiceIsRefused() throws Exception {
        Path file =
                Files.writeString(
                        dir.resolve("plan.yaml"),
                        """
                routes:
                  - eventTypes: [purchase]
                    to: [fraud]
                    to: [nothing]
                """);
        assertThatThrownBy(() -> ServingPlanFiles.read(file.toString()))
                .hasMessageContaining("Duplicate field 'to'");
    }
}
