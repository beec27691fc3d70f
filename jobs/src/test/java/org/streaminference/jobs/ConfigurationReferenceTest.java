package org.streaminference.jobs;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/configuration.md's tables are what the ConfigOptions say. When an option changes, run {@code
 * mvn -pl jobs -am test -Dtest=ConfigurationReferenceTest -Dsurefire.failIfNoSpecifiedTests=false
 * -Dconfiguration.reference.write=true} to write them again.
 */
class ConfigurationReferenceTest {
    private static final Path FILE =
            Path.of("..").toAbsolutePath().normalize().resolve("docs/configuration.md");

    @Test
    void theConfigurationReferenceIsGeneratedFromTheOptions() throws Exception {
        String doc = Files.readString(FILE);
        int begin = doc.indexOf(ConfigurationReference.BEGIN);
        int end = doc.indexOf(ConfigurationReference.END);
        assertThat(begin).as("%s holds the generated tables' markers", FILE).isNotNegative();
        assertThat(end).isGreaterThan(begin);
        String generated = ConfigurationReference.generate();
        String current = doc.substring(begin, end + ConfigurationReference.END.length());
        if (Boolean.getBoolean("configuration.reference.write") && !current.equals(generated)) {
            Files.writeString(
                    FILE,
                    doc.substring(0, begin)
                            + generated
                            + doc.substring(end + ConfigurationReference.END.length()));
            current = generated;
        }
        assertThat(current)
                .as(
                        "docs/configuration.md is out of date with the ConfigOptions; write it again"
                                + " with -Dconfiguration.reference.write=true (see this test's Javadoc)")
                .isEqualTo(generated);
    }
}
