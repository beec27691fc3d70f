package org.streaminference.operators.validation;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job's idea of Python's fingerprint against Python itself: Debian's python3-avro computes the
 * canonical form, and the repository's example producer ({@code schemas/examples/python}) its
 * fingerprint. Skipped, with a message, where that Python is not installed.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ParsingFormsTest {
    static final Path EXAMPLES = Path.of("..", "schemas", "examples", "python");

    /** A python3 with the avro module, or null. */
    static String pythonWithAvro() throws Exception {
        for (String python : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p =
                        new ProcessBuilder(python, "-c", "import avro.schema")
                                .redirectErrorStream(true)
                                .start();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return python;
                }
            } catch (IOException e) {
                // not there
            }
        }
        return null;
    }

    @Test
    void theFingerprintOfPythonsProducersIsTheOneTheJobAcceptsBesideJavas() throws Exception {
        String python = pythonWithAvro();
        Assumptions.assumeTrue(
                python != null, "no python3 with the avro module (Debian's python3-avro): skipped");
        List<Schema> schemas =
                List.of(
                        UserEventDecodersTest.PAYMENT, // timestamp-millis
                        new Schema.Parser()
                                .parse(
                                        """
                        {"type": "record", "name": "R", "namespace": "n", "fields": [
                          {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
                          {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
                          {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}], "default": null},
                          {"name": "plain", "type": {"type": "long"}},
                          {"name": "inner", "type": {"type": "record", "name": "I", "fields": [{"name": "x", "type": "double"}]}},
                          {"name": "again", "type": "I"},
                          {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
                          {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "string"}}}]}"""));
        for (Schema schema : schemas) {
            Path file = Files.createTempFile("schema", ".avsc");
            Files.writeString(file, schema.toString());
            Process p =
                    new ProcessBuilder(
                                    python,
                                    "-c",
                                    "import sys; sys.path.insert(0, sys.argv[1]);"
                                            + " import avro.schema, avro_single_object as so;"
                                            + " s = avro.schema.parse(open(sys.argv[2]).read());"
                                            + " print(s.canonical_form); print('%016x' % so.fingerprint(s))",
                                    EXAMPLES.toAbsolutePath().toString(),
                                    file.toString())
                            .redirectErrorStream(true)
                            .start();
            List<String> lines =
                    new ArrayList<>(
                            new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                                    .lines()
                                    .toList());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(String.join("\n", lines)).isZero();
            assertThat(ParsingForms.pythonForm(schema))
                    .as(schema.getFullName())
                    .isEqualTo(lines.get(0));
            assertThat(Long.toHexString(ParsingForms.pythonFingerprint(schema)))
                    .isEqualTo(lines.get(1).replaceFirst("^0+(?=.)", ""));
            Files.delete(file);
        }
        // where the schema has no attributed primitive the forms agree, and so do the fingerprints
        Schema plain =
                new Schema.Parser()
                        .parse(
                                "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"t\",\"type\":\"long\"}]}");
        assertThat(ParsingForms.pythonFingerprint(plain))
                .isEqualTo(SchemaNormalization.parsingFingerprint64(plain));
        assertThat(ParsingForms.pythonFingerprint(UserEventDecodersTest.PAYMENT))
                .isNotEqualTo(
                        SchemaNormalization.parsingFingerprint64(UserEventDecodersTest.PAYMENT));
        assertThat(new File(EXAMPLES.toFile(), "produce_events.py")).exists();
    }
}
