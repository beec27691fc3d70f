package org.streaminference.query;

import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The query service's command line: options the Flink way, checked; keys made for the keys file.
 */
class QueryServiceCliTest {

    @Test
    void serveTakesKnownOptionsOverTheConfigFile(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.yaml"), "query.port: 9000\nquery.host: 127.0.0.1\n");
        Configuration options =
                QueryServiceCli.options(
                        dir.toString(),
                        List.of(
                                "--query.port",
                                "9100",
                                "--result-store.jdbc-url",
                                "jdbc:postgresql://db/results"));
        assertThat(options.get(QueryServiceOptions.PORT)).isEqualTo(9100);
        assertThat(options.get(QueryServiceOptions.HOST)).isEqualTo("127.0.0.1");
        assertThat(options.getString("result-store.jdbc-url", null))
                .isEqualTo("jdbc:postgresql://db/results");

        assertThatThrownBy(() -> QueryServiceCli.options(null, List.of("--query.prot", "1")))
                .hasMessageContaining("Unknown option '--query.prot'")
                .hasMessageContaining("--query.port");
        assertThatThrownBy(() -> QueryServiceCli.options(null, List.of("--query.port")))
                .hasMessageContaining("needs a value");

        StringWriter err = new StringWriter();
        CommandLine cli = QueryServiceCli.commandLine();
        cli.setErr(new PrintWriter(err));
        assertThat(cli.execute("serve", "--query.prot", "1")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option '--query.prot'");
    }

    @Test
    void createKeyPrintsAKeyAndALineTheServiceAccepts(@TempDir Path dir) throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = QueryServiceCli.commandLine();
        cli.setOut(new PrintWriter(out));
        assertThat(cli.execute("create-key", "dashboard", "predictions:read,models:read")).isZero();
        String key =
                out.toString()
                        .lines()
                        .filter(l -> l.startsWith("API key"))
                        .findFirst()
                        .orElseThrow()
                        .replaceAll(".*: ", "");
        String line =
                out.toString()
                        .lines()
                        .filter(l -> l.startsWith("Line for"))
                        .findFirst()
                        .orElseThrow()
                        .replaceFirst("Line for query.api-keys-file: ", "");
        Files.writeString(dir.resolve("keys"), line + "\n");
        ApiKeysFile keys =
                new ApiKeysFile(dir.resolve("keys"), Clock.systemUTC()); // as the service reads it
        assertThat(keys.authenticate(key))
                .hasValueSatisfying(k -> assertThat(k.name()).isEqualTo("dashboard"));

        StringWriter err = new StringWriter();
        CommandLine bad = QueryServiceCli.commandLine();
        bad.setErr(new PrintWriter(err));
        assertThat(bad.execute("create-key", "dashboard", "predictions:write")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown scope");
    }
}
