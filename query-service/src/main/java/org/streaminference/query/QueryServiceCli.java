package org.streaminference.query;

import org.streaminference.sinks.ResultStoreOptions;

import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * The query service's command line, with picocli like the {@code models} CLI: {@code serve} runs
 * the service with options the Flink way ({@code --config-dir DIR}, then {@code --key value} for
 * any {@code query.*} or {@code result-store.*} option, checked against the known ones); {@code
 * create-key} prints a new API key.
 */
@Internal
@Command(
        name = "query-service",
        mixinStandardHelpOptions = true,
        description = "The HTTP query service over the result store.",
        subcommands = {QueryServiceCli.Serve.class, QueryServiceCli.CreateKey.class})
public final class QueryServiceCli {

    public static CommandLine commandLine() {
        return new CommandLine(new QueryServiceCli());
    }

    @Command(
            name = "serve",
            mixinStandardHelpOptions = true,
            description =
                    "Serve predictions over HTTP. Options: --config-dir DIR (a config.yaml), then"
                            + " --<option> <value> for query.* and result-store.* options (docs/configuration.md).")
    static final class Serve implements Callable<Integer> {
        @Option(
                names = "--config-dir",
                description = "Directory holding a Flink config.yaml with the options.")
        String configDir;

        @Unmatched List<String> overrides = new ArrayList<>();

        @Spec CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Configuration options;
            try {
                options = options(configDir, overrides);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            QueryService service = QueryService.start(options);
            Runtime.getRuntime()
                    .addShutdownHook(new Thread(service::close, "query-service-shutdown"));
            return 0;
        }
    }

    @Command(
            name = "create-key",
            mixinStandardHelpOptions = true,
            description = "Print a new API key (shown once) and its line for query.api-keys-file.")
    static final class CreateKey implements Callable<Integer> {
        @Parameters(index = "0", description = "Who the key is for (a name in logs).")
        String name;

        @Parameters(
                index = "1",
                split = ",",
                description =
                        "Scopes: predictions:read, models:read, predict (the predict gateway).")
        Set<String> scopes;

        @Spec CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            String key = ApiKeys.generate();
            try {
                String line = ApiKeys.line(name, key, new TreeSet<>(scopes));
                out.println("API key (shown once; give it to the client): " + key);
                out.println("Line for query.api-keys-file: " + line);
                return 0;
            } catch (IllegalArgumentException e) {
                spec.commandLine().getErr().println(e.getMessage());
                return 2;
            }
        }
    }

    /**
     * The service's configuration: {@code configDir}'s config.yaml (if given), overridden by {@code
     * --key value} pairs, each of which must name a known option.
     *
     * @throws IllegalArgumentException naming an unknown option or a missing value
     */
    static Configuration options(String configDir, List<String> overrides) {
        Set<String> known = new TreeSet<>();
        QueryServiceOptions.all().forEach(o -> known.add(o.key()));
        ResultStoreOptions.all().stream().map(ConfigOption::key).forEach(known::add);
        return options(configDir, overrides, known);
    }

    /**
     * A tool's configuration: {@code configDir}'s config.yaml (if given), overridden by {@code
     * --key value} pairs, each of which must be one of {@code known} (the predict gateway's too).
     *
     * @throws IllegalArgumentException naming an unknown option or a missing value
     */
    public static Configuration options(
            String configDir, List<String> overrides, Set<String> known) {
        Configuration options =
                configDir == null
                        ? new Configuration()
                        : GlobalConfiguration.loadConfiguration(configDir);
        for (int i = 0; i < overrides.size(); i++) {
            String arg = overrides.get(i);
            String key = arg.startsWith("--") ? arg.substring(2) : null;
            if (key == null || !known.contains(key)) {
                throw new IllegalArgumentException(
                        "Unknown option '"
                                + arg
                                + "'. Options: --config-dir, "
                                + known.stream()
                                        .map(k -> "--" + k)
                                        .collect(Collectors.joining(", ")));
            }
            if (i + 1 >= overrides.size()) {
                throw new IllegalArgumentException("Option '" + arg + "' needs a value");
            }
            options.setString(key, overrides.get(++i));
        }
        return options;
    }
}
