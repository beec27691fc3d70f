package org.streaminference.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ONNX Runtime 1.29.0 kills the JVM with SIGSEGV when the process command line is longer than about
 * 4 KB, as a Flink TaskManager's (long classpath, many -D options) is. This runs a model in a JVM
 * with such a command line.
 */
class LongCommandLineTest {

    @TempDir Path models;

    /** Entry point of the child JVM: loads the demo model and runs it once. */
    public static void main(String[] args) throws Exception {
        try (LoadedModel model = new ModelLoader(ModelLoaderConfig.defaults()).load(args[0])) {
            System.out.println("ran " + model.manifest().id());
        }
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void modelRunsInAJvmWithALongCommandLine() throws Exception {
        Path dir = DemoModels.write(models, 1);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process =
                new ProcessBuilder(
                                List.of(
                                        java,
                                        "-Dpadding=" + "x".repeat(8192),
                                        "-cp",
                                        System.getProperty("java.class.path"),
                                        LongCommandLineTest.class.getName(),
                                        dir.toString()))
                        .redirectErrorStream(true)
                        .start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(90, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("child JVM output:%n%s", output).isZero();
        assertThat(output).contains("ran demo-classifier:1");
    }
}
