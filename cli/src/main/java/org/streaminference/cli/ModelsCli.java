package org.streaminference.cli;

import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ServingPlanFiles;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.TopicOptions;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code models}: publish model versions and move traffic between them in running jobs. Commands go
 * to the control topic; the jobs' answers are read back from the model-events topic.
 */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description =
                "Publish model versions to a model store and control what running stream-inference jobs serve"
                        + " (every command signed with --signing-key); check that a job's counts reconcile; replay dead"
                        + " letters after a fix.",
        subcommands = {
            KeygenCommand.class,
            BaselineCommand.class,
            PublishCommand.class,
            ModelsCli.Canary.class,
            ModelsCli.Shadow.class,
            ModelsCli.Promote.class,
            ModelsCli.Rollback.class,
            ModelsCli.Retire.class,
            ModelsCli.Plan.class,
            ListCommand.class,
            ReconcileCommand.class,
            ReplayCommand.class
        })
@PublicEvolving
public final class ModelsCli {
    /** The exit code of a command a running job rejected (its model event names the reason). */
    public static final int EXIT_REJECTED = 2;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new ModelsCli());
        cli.setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                    commandLine
                            .getErr()
                            .println(
                                    "error: "
                                            + (e.getMessage() == null
                                                    ? e.toString()
                                                    : e.getMessage()));
                    return 1;
                });
        return cli;
    }

    /**
     * Where the control and model-events topics are; read from the job's config.yaml where one is
     * given.
     */
    static final class Connection {
        @CommandLine.Mixin JobTopics topics;

        @Option(
                names = "--control-topic",
                description = "Control topic (default: from config.yaml, else" + " model-control).")
        String controlTopic;

        @Option(
                names = "--events-topic",
                description =
                        "Model-events topic (default: from config.yaml, else" + " model-events).")
        String eventsTopic;

        @Option(
                names = "--wait",
                defaultValue = "PT30S",
                description =
                        "How long to wait for running jobs to"
                                + " answer (ISO-8601, e.g. PT1M); PT0S does not wait (default ${DEFAULT-VALUE}).")
        Duration wait;

        private Configuration config() {
            return topics.config();
        }

        String bootstrapServers() {
            return topics.bootstrapServers(config());
        }

        String controlTopic() {
            return controlTopic != null
                    ? controlTopic
                    : config().get(TopicOptions.MODEL_CONTROL_TOPIC);
        }

        String eventsTopic() {
            return eventsTopic != null
                    ? eventsTopic
                    : config().get(TopicOptions.MODEL_EVENTS_TOPIC);
        }

        ControlTopic open() {
            return new ControlTopic(bootstrapServers(), controlTopic(), eventsTopic());
        }
    }

    /** Sends one command and reports the jobs' answers. */
    abstract static class ControlCommand implements Callable<Integer> {
        @CommandLine.Mixin Connection connection;

        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--signing-key",
                description =
                        "The publisher's key file from 'models keygen'. The command"
                                + " is signed with it: jobs obey only commands signed by a key in their model.trusted-keys (unsigned"
                                + " ones only with model.allow-unsigned).")
        Path signingKey;

        abstract ModelCommand command() throws Exception;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PublisherKey key = signingKey == null ? null : PublisherKey.read(signingKey);
            ModelCommand command = command();
            ModelCommands.validate(command);
            try (ControlTopic control = connection.open()) {
                return control.sendAndReport(command, key, connection.wait, out);
            }
        }
    }

    /** A command about one model. */
    abstract static class SendCommand extends ControlCommand {
        @Option(names = "--name", required = true, description = "Model name.")
        String name;
    }

    @Command(
            name = "canary",
            mixinStandardHelpOptions = true,
            description =
                    "Route a share of entities to a published version (sticky per entity); --percent 0 ends it.")
    static final class Canary extends SendCommand {
        @Option(names = "--version", required = true, description = "A published version.")
        String version;

        @Option(names = "--percent", required = true, description = "Share of entities, 0-100.")
        int percent;

        @Override
        ModelCommand command() {
            return ModelCommands.setCanary(name, version, percent);
        }
    }

    @Command(
            name = "shadow",
            mixinStandardHelpOptions = true,
            description =
                    "Score every record with a published version too, on the shadow-predictions topic.")
    static final class Shadow extends SendCommand {
        @CommandLine.ArgGroup(multiplicity = "1")
        Target target;

        static final class Target {
            @Option(names = "--version", description = "A published version.")
            String version;

            @Option(names = "--off", description = "End the shadow.")
            boolean off;
        }

        @Override
        ModelCommand command() {
            return ModelCommands.setShadow(name, target.off ? null : target.version);
        }
    }

    @Command(
            name = "promote",
            mixinStandardHelpOptions = true,
            description =
                    "Make the canary the active version; the active one is kept as the previous version.")
    static final class Promote extends SendCommand {
        @Override
        ModelCommand command() {
            return ModelCommands.promote(name);
        }
    }

    @Command(
            name = "rollback",
            mixinStandardHelpOptions = true,
            description =
                    "Make the previous version active again (it is still loaded: the switch is immediate).")
    static final class Rollback extends SendCommand {
        @Option(
                names = "--to",
                required = true,
                description =
                        "The version to go back to: the previous version"
                                + " ('models list' shows it). Jobs refuse a rollback to any other version, so going back is always"
                                + " a decision naming its version.")
        String version;

        @Override
        ModelCommand command() {
            return ModelCommands.rollback(name, version);
        }
    }

    @Command(
            name = "retire",
            mixinStandardHelpOptions = true,
            description =
                    "Forget a version that is not active; jobs release it once its last record is answered.")
    static final class Retire extends SendCommand {
        @Option(names = "--version", required = true, description = "The version to retire.")
        String version;

        @Override
        ModelCommand command() {
            return ModelCommands.retire(name, version);
        }
    }

    @Command(
            name = "plan",
            mixinStandardHelpOptions = true,
            description =
                    "Set what running jobs serve: the models, the routes that send each event to one or several"
                            + " of them, and weighted ensembles (a JSON or YAML file; see docs/lifecycle-and-serving-plans.md). It takes effect at once;"
                            + " models it adds serve from their first publish, models it drops are released.")
    static final class Plan extends ControlCommand {
        @Option(names = "--file", required = true, description = "The serving plan, JSON or YAML.")
        String file;

        @Override
        ModelCommand command() throws Exception {
            return ModelCommands.setPlan(ServingPlanFiles.read(file));
        }
    }
}
