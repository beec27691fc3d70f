package org.streaminference.gateway;

import org.streaminference.query.QueryServiceCli;
import org.streaminference.schemas.TopicOptions;

import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * The predict gateway's command line: {@code serve} with options the Flink way ({@code --config-dir
 * DIR}, then {@code --key value} for {@code gateway.*}, the topics and {@code features.spec},
 * checked against the known ones). API keys are made with {@code query-service.sh create-key NAME
 * predict,models:read}.
 */
@Internal
@Command(
        name = "predict-gateway",
        mixinStandardHelpOptions = true,
        description =
                "Synchronous and hybrid predictions through the running job (REST, gRPC, OIP).",
        subcommands = {PredictGatewayCli.Serve.class})
public final class PredictGatewayCli {

    public static CommandLine commandLine() {
        return new CommandLine(new PredictGatewayCli());
    }

    @Command(
            name = "serve",
            mixinStandardHelpOptions = true,
            description =
                    "Serve predictions. Options: --config-dir DIR (a config.yaml), then --<option> <value>"
                            + " for gateway.*, kafka.* topics and features.spec (docs/configuration.md).")
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
                Set<String> known = new TreeSet<>();
                PredictGatewayOptions.all().stream().map(ConfigOption::key).forEach(known::add);
                TopicOptions.all().stream().map(ConfigOption::key).forEach(known::add);
                options = QueryServiceCli.options(configDir, overrides, known);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            PredictGateway gateway = PredictGateway.start(options);
            Runtime.getRuntime()
                    .addShutdownHook(new Thread(gateway::close, "predict-gateway-shutdown"));
            return 0;
        }
    }
}
