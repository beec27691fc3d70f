package org.streaminference.local;

import org.streaminference.cli.ModelsCli;
import org.streaminference.embedded.DemoEventGenerator;
import org.streaminference.embedded.DemoEvents;
import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.features.spec.InvalidFeatureSpecException;
import org.streaminference.gateway.PredictGateway;
import org.streaminference.gateway.PredictGatewayOptions;
import org.streaminference.gateway.RequestFields;
import org.streaminference.jobs.MonitoringOptions;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.jobs.PipelineSettings;
import org.streaminference.jobs.PipelineStages;
import org.streaminference.jobs.StreamInferenceJob;
import org.streaminference.model.DemoModels;
import org.streaminference.model.ModelLoader;
import org.streaminference.query.ApiKeys;
import org.streaminference.query.QueryService;
import org.streaminference.query.QueryServiceOptions;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.sinks.LatestPredictionTable;
import org.streaminference.sinks.ResultStoreOptions;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs the whole pipeline on one machine with nothing installed: a real Kafka broker and a real
 * PostgreSQL started from Maven artifacts, the job on a Flink MiniCluster, the demo models, and a
 * demo event generator. Prints a status line a second; Ctrl-C (or the end of --duration) shuts
 * everything down in order.
 */
@Command(
        name = "run-local",
        mixinStandardHelpOptions = true,
        description =
                "Runs the stream inference pipeline locally on embedded Kafka, PostgreSQL and Flink.")
@Internal
public final class LocalPipeline implements Callable<Integer> {
    @Option(
            names = "--rate",
            defaultValue = "200",
            description = "Events produced per second (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(
            names = "--entities",
            defaultValue = "1000",
            description = "Distinct entities (default ${DEFAULT-VALUE}).")
    int entities;

    @Option(
            names = "--duration",
            defaultValue = "0",
            description = "Seconds to run; 0 runs until Ctrl-C (default ${DEFAULT-VALUE}).")
    long durationSeconds;

    @Option(
            names = "--bad-fraction",
            defaultValue = "0.01",
            description =
                    "Fraction of deliberately bad events, to show the dead-letter path (default ${DEFAULT-VALUE}).")
    double badFraction;

    @Option(
            names = "--model-version",
            defaultValue = "1",
            description = "Demo model version to serve: 1 or 2.")
    int modelVersion;

    @Option(
            names = "--parallelism",
            defaultValue = "2",
            description = "Flink parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(
            names = "--kafka-port",
            defaultValue = "9092",
            description = "Kafka client port; 0 picks a free one.")
    int kafkaPort;

    @Option(
            names = "--postgres-port",
            defaultValue = "5433",
            description = "PostgreSQL port; 0 picks a free one.")
    int postgresPort;

    @Option(
            names = "--query-port",
            defaultValue = "8080",
            description = "Port of the query service started beside the job; 0 picks a free one.")
    int queryPort;

    @Option(
            names = "--gateway-port",
            defaultValue = "8090",
            description =
                    "HTTP port of the predict gateway started beside the job (synchronous predictions);"
                            + " 0 picks a free one.")
    int gatewayPort;

    @Option(
            names = "--grpc-port",
            defaultValue = "9090",
            description = "gRPC port of the predict gateway; 0 picks a free one.")
    int grpcPort;

    @Option(
            names = "--feature-spec",
            description = "Your feature spec (YAML) instead of the demo's.")
    Path featureSpec;

    @Option(
            names = "--model-file",
            description =
                    "Your ONNX model instead of the demo's: published into the local"
                            + " store with 'models publish' (the contract inferred from its signature) and served.")
    Path modelFile;

    @Option(
            names = "--model-name",
            defaultValue = "my-model",
            description =
                    "The name --model-file is published" + " under (default ${DEFAULT-VALUE}).")
    String modelName;

    @Option(
            names = "--publish-option",
            description =
                    "An option for 'models publish' of --model-file, e.g."
                            + " --publish-option=--tokenizer=tokenizer.json --publish-option=--output-kind=SIGMOID (repeatable).")
    List<String> publishOptions = new ArrayList<>();

    @Option(
            names = "--events",
            description =
                    "A file of your events, one JSON object per line (fields of"
                            + " InputEvent: entityId, eventId, eventTime, eventType, numericFields, categoricalFields, vectorFields),"
                            + " sent once instead of the demo generator's; the run ends when each has its answer.")
    Path eventsFile;

    @Option(
            names = "--work-dir",
            defaultValue = ".local-run",
            description = "Where broker, database, models and logs live; cleared at start.")
    Path workDir;

    private final PrintStream out;
    private volatile boolean stopRequested;

    public LocalPipeline() {
        this(System.out);
    }

    /** A run that reports to {@code out}. */
    LocalPipeline(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new LocalPipeline()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        // Handle Ctrl-C ourselves: JVM shutdown hooks (Flink's, the embedded PostgreSQL's) would
        // all run at once and
        // tear the pipeline down before the job commits what is in flight. A second Ctrl-C exits at
        // once.
        SignalHandler stop =
                signal -> {
                    if (stopRequested) {
                        Runtime.getRuntime().halt(130);
                    }
                    stopRequested = true;
                    out.println("Stopping (Ctrl-C again to exit at once) ...");
                };
        Signal.handle(new Signal("INT"), stop);
        Signal.handle(new Signal("TERM"), stop);
        return run();
    }

    private int run() throws Exception {
        deleteRecursively(workDir);
        Files.createDirectories(workDir);
        out.printf(
                "Stream inference, local run. Logs: %s%n",
                workDir.resolve("local-run.log").toAbsolutePath());

        out.print("Starting Kafka ... ");
        try (EmbeddedKafkaBroker kafka =
                EmbeddedKafkaBroker.start(workDir.resolve("kafka"), kafkaPort)) {
            out.println(kafka.bootstrapServers());
            out.print("Starting PostgreSQL ... ");
            try (EmbeddedPostgres postgres =
                    EmbeddedPostgres.builder()
                            .setPort(postgresPort == 0 ? 0 : postgresPort)
                            .setDataDirectory(workDir.resolve("postgres"))
                            .setCleanDataDirectory(true)
                            .start()) {
                String jdbcUrl = postgres.getJdbcUrl("postgres", "postgres");
                out.println(jdbcUrl);
                return runPipeline(kafka, postgres, jdbcUrl);
            }
        } finally {
            out.println("Stopped.");
        }
    }

    private int runPipeline(EmbeddedKafkaBroker kafka, EmbeddedPostgres postgres, String jdbcUrl)
            throws Exception {
        Configuration options = jobOptions(kafka, jdbcUrl);
        String profileTopic = options.get(PipelineOptions.FEATURES_REFERENCE_TOPIC);
        kafka.createTopics(2, profileTopic);
        int profiles =
                featureSpec != null
                        ? 0
                        : DemoEvents.produceProfiles(
                                kafka.bootstrapServers(), profileTopic, entities);
        out.printf(
                "Feature spec %s; %d entity profiles on '%s'; served feature vectors on '%s'%n",
                PipelineStages.featureSpec(options).id(),
                profiles,
                profileTopic,
                options.get(PipelineOptions.SERVED_FEATURES_TOPIC));

        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, options);
        StreamInferenceJob.prepare(env, options);
        out.printf(
                "Starting the job on a Flink MiniCluster (parallelism %d), models %s%n",
                parallelism, String.join(", ", options.get(PipelineOptions.MODEL_URI)));
        JobClient job = env.executeAsync(StreamInferenceJob.JOB_NAME);
        if (eventsFile != null) {
            return runOnFile(kafka, postgres, jdbcUrl, options, job);
        }

        DemoEventGenerator generator =
                new DemoEventGenerator(
                        kafka.bootstrapServers(),
                        options.get(PipelineOptions.EVENTS_TOPIC),
                        new DemoEvents(System.nanoTime(), entities, "local"),
                        rate,
                        badFraction,
                        42);
        ResultCounter counter =
                new ResultCounter(
                        kafka.bootstrapServers(),
                        options.get(PipelineOptions.PREDICTIONS_TOPIC),
                        options.get(PipelineOptions.DEAD_LETTERS_TOPIC));
        Thread generatorThread = new Thread(generator, "demo-generator");
        Thread counterThread = new Thread(counter, "result-counter");
        counterThread.start();
        generatorThread.start();
        out.printf(
                "Producing %.0f events/s over %d entities to topic '%s'%s%n",
                rate,
                entities,
                options.get(PipelineOptions.EVENTS_TOPIC),
                durationSeconds > 0 ? " for " + durationSeconds + " s" : "; Ctrl-C stops");
        printModelCommands();
        String apiKey = QueryService.newApiKey();
        try (QueryService queryService = startQueryService(options, apiKey);
                PredictGateway gateway = startGateway(options, apiKey)) {
            long start = System.nanoTime();
            reportUntilStopped(start, job, generator, counter);
            generator.close();
            generatorThread.join();
            drain(start, job, generator, counter);
            printResults(jdbcUrl, postgres.getPort(), kafka.bootstrapServers(), options);
            printQueryExample(queryService.port(), apiKey);
        }
        counter.close();
        counterThread.join();
        job.cancel().get(30, TimeUnit.SECONDS);
        return 0;
    }

    /** The job's options for the local run, with its topics created. */
    private Configuration jobOptions(EmbeddedKafkaBroker kafka, String jdbcUrl) throws Exception {
        Path modelDir = DemoModels.write(workDir.resolve("models"), 1).getParent();
        DemoModels.write(workDir.resolve("models"), 2);
        Path served = modelDir.resolve(Integer.toString(modelVersion));

        Configuration options = new Configuration();
        if (featureSpec != null) {
            options.set(PipelineOptions.FEATURES_SPEC, featureSpec.toAbsolutePath().toString());
        }
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(served.toAbsolutePath().toUri().toString()));
        // the local run is where unsigned versions are allowed (with a warning per load); the store
        // is its only root
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of(workDir.resolve("models").toAbsolutePath().toUri().toString()));
        options.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true);
        // Flink's REST endpoint (the MiniCluster's) listens on loopback only: it can run jobs
        options.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        options.set(RestOptions.ADDRESS, "127.0.0.1");
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, jdbcUrl);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(2));
        // checkpoints on disk, as a cluster keeps them: Flink's default keeps them in the
        // JobManager's memory, where
        // the feature state of a few hundred thousand entities (over 5 MB) fails every checkpoint
        // and the job loops
        options.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        options.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                workDir.resolve("checkpoints").toAbsolutePath().toUri().toString());
        // drift of a model published with a baseline is reported within a second, not the
        // production 10 s
        options.set(MonitoringOptions.DRIFT_REPORT_INTERVAL, DRIFT_REPORT_INTERVAL);
        kafka.createTopics(
                2,
                options.get(PipelineOptions.EVENTS_TOPIC),
                options.get(PipelineOptions.PREDICTIONS_TOPIC),
                options.get(PipelineOptions.DEAD_LETTERS_TOPIC),
                options.get(PipelineOptions.SHADOW_PREDICTIONS_TOPIC));
        options.set(PipelineOptions.SERVED_FEATURES_TOPIC, "served-features");
        // synchronous predictions through the job: the gateway writes partition 0, reads its
        // answers
        options.set(PipelineOptions.PREDICT_REQUESTS_TOPIC, "predict-requests");
        kafka.createTopics(
                2,
                options.get(PipelineOptions.PREDICT_REQUESTS_TOPIC),
                options.get(PipelineOptions.PREDICT_REPLIES_TOPIC));
        kafka.createTopics(
                1,
                options.get(PipelineOptions.MODEL_CONTROL_TOPIC),
                options.get(PipelineOptions.MODEL_EVENTS_TOPIC),
                options.get(PipelineOptions.SERVED_FEATURES_TOPIC));
        if (modelFile != null) {
            served = publishUsersModel(kafka);
            options.set(
                    PipelineOptions.MODEL_URI, List.of(served.toAbsolutePath().toUri().toString()));
        } else {
            options.set(
                    PipelineOptions.MODEL_SERVING_PLAN,
                    demoServingPlan(options).toAbsolutePath().toString());
        }
        return options;
    }

    private void printModelCommands() {
        int other = modelVersion == 1 ? 2 : 1;
        out.printf(
                "Swap models while it runs, from another terminal (docs/lifecycle-and-serving-plans.md):%n"
                        + "  ./models.sh publish --name %s --version %d --store %s --file %s --canary 20%n"
                        + "  ./models.sh promote --name %s ; ./models.sh rollback --name %s --to %d ; ./models.sh list%n",
                DemoModels.NAME,
                other,
                workDir.resolve("models"),
                workDir.resolve("models")
                        .resolve(DemoModels.NAME)
                        .resolve(Integer.toString(other))
                        .resolve("model.onnx"),
                DemoModels.NAME,
                DemoModels.NAME,
                modelVersion);
    }

    /**
     * The query service over the run's result store, on loopback, with one API key written to the
     * work directory.
     */
    private QueryService startQueryService(Configuration options, String apiKey) throws Exception {
        Path keysFile = workDir.resolve("api-keys");
        Files.writeString(keysFile, QueryService.keysFileLine("local", apiKey) + "\n");
        Configuration queryOptions = new Configuration(options);
        queryOptions.set(QueryServiceOptions.HOST, "127.0.0.1");
        queryOptions.set(QueryServiceOptions.PORT, queryPort);
        queryOptions.set(QueryServiceOptions.API_KEYS_FILE, keysFile.toString());
        queryOptions.set(ResultStoreOptions.RESULT_STORE_PASSWORD, "");
        QueryService queryService = QueryService.start(queryOptions);
        out.printf(
                "Query service on http://localhost:%d (API key in %s):%n"
                        + "  curl -H 'Authorization: Bearer %s' http://localhost:%d/v1/predictions/%s%s%n",
                queryService.port(),
                keysFile,
                apiKey,
                queryService.port(),
                DemoEvents.entityId(42),
                modelFile == null ? "?model=" + ENSEMBLE : "");
        return queryService;
    }

    /**
     * The predict gateway on loopback, on partition 0 of the request topic, with the run's API key
     * (scopes predict and models:read).
     */
    private PredictGateway startGateway(Configuration options, String apiKey) throws Exception {
        Path keysFile = workDir.resolve("gateway-keys");
        Files.writeString(
                keysFile,
                ApiKeys.line("local", apiKey, Set.of(ApiKeys.PREDICT, ApiKeys.MODELS_READ)) + "\n");
        Configuration gatewayOptions = new Configuration(options);
        gatewayOptions.set(PredictGatewayOptions.PORT, gatewayPort);
        gatewayOptions.set(PredictGatewayOptions.GRPC_PORT, grpcPort);
        gatewayOptions.set(PredictGatewayOptions.API_KEYS_FILE, keysFile.toString());
        options.getOptional(PipelineOptions.FEATURES_SPEC)
                .ifPresent(spec -> gatewayOptions.set(PredictGatewayOptions.FEATURES_SPEC, spec));
        PredictGateway gateway = PredictGateway.start(gatewayOptions);
        String model = modelFile == null ? DemoModels.NAME : modelName;
        out.printf(
                "Predict gateway on http://localhost:%d and gRPC localhost:%d: ask the running job%n"
                        + "  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\%n"
                        + "    -d '%s' \\%n"
                        + "    http://localhost:%d/v1/models/%s/predict%n",
                gateway.port(),
                gateway.grpcPort(),
                apiKey,
                exampleRequest(options),
                gateway.port(),
                model);
        return gateway;
    }

    /** A request body for the run's feature spec: a demo event's values, nested by their paths. */
    private static String exampleRequest(Configuration options) throws Exception {
        InputEvent event = new DemoEvents(7, 100, "example").next(System.currentTimeMillis());
        EventFields fields = PipelineStages.featureSpec(options).eventFields();
        ObjectNode values = EXAMPLE_JSON.createObjectNode();
        for (String f : fields.numeric()) {
            RequestFields.parentOf(values, f)
                    .put(RequestFields.leaf(f), event.getNumericFields().getOrDefault(f, 1.0));
        }
        for (String f : fields.categorical()) {
            RequestFields.parentOf(values, f)
                    .put(RequestFields.leaf(f), event.getCategoricalFields().getOrDefault(f, "x"));
        }
        for (String f : fields.vectors()) {
            var array = RequestFields.parentOf(values, f).putArray(RequestFields.leaf(f));
            List<Float> v = event.getVectorFields().get(f);
            (v == null ? List.of(0f) : v).forEach(array::add);
        }
        ObjectNode request = EXAMPLE_JSON.createObjectNode();
        request.put("entity_id", DemoEvents.entityId(42));
        request.set("fields", values);
        return EXAMPLE_JSON.writeValueAsString(request);
    }

    private static final ObjectMapper EXAMPLE_JSON = new ObjectMapper();

    /**
     * A status line a second until the duration is over, Ctrl-C, or the job or the generator stops.
     */
    private void reportUntilStopped(
            long start, JobClient job, DemoEventGenerator generator, ResultCounter counter)
            throws Exception {
        long lastIn = 0;
        while (!stopRequested
                && (durationSeconds <= 0 || elapsedSeconds(start) < durationSeconds)) {
            sleepUntilNextSecond(start);
            if (job.getJobStatus().get().isGloballyTerminalState()) {
                out.println("The job stopped: " + job.getJobStatus().get() + " (see the log)");
                return;
            }
            long in = generator.produced();
            out.println(statusLine(elapsedSeconds(start), in, in - lastIn, counter));
            lastIn = in;
            if (generator.failure() != null) {
                out.println("The generator failed: " + generator.failure());
                return;
            }
        }
    }

    /**
     * Waits (up to 30 s) for the job to commit the answers of every event sent, then reconciles the
     * counts.
     */
    private void drain(
            long start, JobClient job, DemoEventGenerator generator, ResultCounter counter)
            throws Exception {
        out.println("Stopped producing; waiting for the job to commit the rest (up to 30 s) ...");
        long drainDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (counter.eventsAnswered() < generator.produced()
                && System.nanoTime() < drainDeadline
                && !job.getJobStatus().get().isGloballyTerminalState()) {
            Thread.sleep(200); // polling the consumer's count, bounded by the deadline
        }
        out.println(statusLine(elapsedSeconds(start), generator.produced(), 0, counter));
        out.printf(
                "%s (%d events were sent bad on purpose)%n",
                reconciliation(generator.produced(), counter), generator.bad());
        if (counter.unreadable() > 0) {
            out.printf(
                    "%d output records did not decode as Prediction or DeadLetter%n",
                    counter.unreadable());
        }
    }

    /** The second demo model: the same features, another network. */
    static final String SECOND_MODEL = "demo-risk";

    /** The demo's ensemble of both models. */
    static final String ENSEMBLE = "demo-blend";

    /**
     * The demo serves two models and an ensemble of them: the second model's version is written to
     * the store beside the first, {@code model.uri} lists both, and the serving plan the job starts
     * with sends purchases to both models and the ensemble, refunds to the second model and every
     * other event to the first.
     */
    private Path demoServingPlan(Configuration options) throws IOException {
        Path second = DemoModels.writeAs(workDir.resolve("models"), SECOND_MODEL, 2);
        options.set(
                PipelineOptions.MODEL_URI,
                List.of(
                        options.get(PipelineOptions.MODEL_URI).get(0),
                        second.toAbsolutePath().toUri().toString()));
        Path plan = workDir.resolve("serving-plan.yaml");
        Files.writeString(
                plan,
                String.join(
                        "\n",
                        "# The local run's serving plan (model.serving-plan); './models.sh plan --file' replaces it while",
                        "# the job runs. Routes are tried in order: the first that matches an event sends it to each target.",
                        "routes:",
                        "  - eventTypes: [purchase]",
                        "    to: [" + DemoModels.NAME + ", " + SECOND_MODEL + ", " + ENSEMBLE + "]",
                        "  - eventTypes: [refund]",
                        "    to: [" + SECOND_MODEL + "]",
                        "  - to: [" + DemoModels.NAME + "]",
                        "ensembles:",
                        "  - name: " + ENSEMBLE,
                        "    members:",
                        "      - {model: " + DemoModels.NAME + ", weight: 2}",
                        "      - {model: " + SECOND_MODEL + ", weight: 1}",
                        ""));
        out.printf(
                "Serving plan %s: purchases to %s, %s and the ensemble %s (2:1); refunds to %s; the rest to %s%n",
                plan, DemoModels.NAME, SECOND_MODEL, ENSEMBLE, SECOND_MODEL, DemoModels.NAME);
        return plan;
    }

    /**
     * Publishes --model-file into the local store with {@code models publish}, as a user would, and
     * returns its directory.
     */
    private Path publishUsersModel(EmbeddedKafkaBroker kafka) {
        Path store = workDir.resolve("models");
        List<String> args =
                new ArrayList<>(
                        List.of(
                                "publish",
                                "--name",
                                modelName,
                                "--version",
                                "1",
                                "--file",
                                modelFile.toAbsolutePath().toString(),
                                "--store",
                                store.toAbsolutePath().toUri().toString(),
                                "--bootstrap-servers",
                                kafka.bootstrapServers(),
                                "--wait",
                                "PT0S"));
        if (featureSpec != null
                && publishOptions.stream().noneMatch(o -> o.startsWith("--feature-spec"))) {
            try {
                args.add(
                        "--feature-spec="
                                + FeatureSpecs.load(featureSpec.toAbsolutePath().toString()).id());
            } catch (InvalidFeatureSpecException e) {
                throw new IllegalArgumentException("--feature-spec: " + e.getMessage());
            }
        }
        args.addAll(publishOptions);
        out.println("models " + String.join(" ", args));
        CommandLine publish = ModelsCli.commandLine();
        publish.setOut(new PrintWriter(out, true));
        publish.setErr(new PrintWriter(out, true));
        int code = publish.execute(args.toArray(new String[0]));
        if (code != 0) {
            throw new IllegalArgumentException(
                    "models publish refused "
                            + modelFile
                            + " (exit "
                            + code
                            + ", see"
                            + " above); fix the model or give what it asks for with --publish-option");
        }
        return store.resolve(modelName).resolve("1");
    }

    /** Sends the user's events once, waits until each has its answer, and shows what came out. */
    private int runOnFile(
            EmbeddedKafkaBroker kafka,
            EmbeddedPostgres postgres,
            String jdbcUrl,
            Configuration options,
            JobClient job)
            throws Exception {
        JsonLinesEvents.Read read = JsonLinesEvents.read(eventsFile, System.currentTimeMillis());
        read.problems().forEach(p -> out.println("Not sent: " + eventsFile + " " + p));
        ResultCounter counter =
                new ResultCounter(
                        kafka.bootstrapServers(),
                        options.get(PipelineOptions.PREDICTIONS_TOPIC),
                        options.get(PipelineOptions.DEAD_LETTERS_TOPIC));
        Thread counterThread = new Thread(counter, "result-counter");
        counterThread.start();
        JsonLinesEvents.produce(
                kafka.bootstrapServers(), options.get(PipelineOptions.EVENTS_TOPIC), read.events());
        out.printf(
                "Sent %d events from %s; waiting for their answers (Ctrl-C stops) ...%n",
                read.events().size(), eventsFile);
        long start = System.nanoTime();
        while (!stopRequested
                && counter.eventsAnswered() < read.events().size()
                && !job.getJobStatus().get().isGloballyTerminalState()) {
            sleepUntilNextSecond(start);
            out.println(statusLine(elapsedSeconds(start), read.events().size(), 0, counter));
        }
        out.println(reconciliation(read.events().size(), counter));
        printDrift(options);
        printResults(jdbcUrl, postgres.getPort(), kafka.bootstrapServers(), options);
        counter.close();
        counterThread.join();
        job.cancel().get(30, TimeUnit.SECONDS);
        return 0;
    }

    /** How often the local job reports drift sketches. */
    private static final Duration DRIFT_REPORT_INTERVAL = Duration.ofSeconds(1);

    /**
     * For a model published with a training baseline: after the sketches of the last events had
     * time to reach the drift monitor (two report intervals), what {@code models list} says of it,
     * its last drift included.
     */
    private void printDrift(Configuration options) throws Exception {
        String uri = options.get(PipelineOptions.MODEL_URI).get(0);
        if (new ModelLoader(PipelineSettings.modelLoader(options)).readManifest(uri).baseline()
                == null) {
            return;
        }
        Thread.sleep(
                2
                        * DRIFT_REPORT_INTERVAL
                                .toMillis()); // the monitor's next evaluation, not a condition to
        // poll
        String[] list = {
            "list",
            "--bootstrap-servers",
            options.get(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS),
            "--events-topic",
            options.get(PipelineOptions.MODEL_EVENTS_TOPIC)
        };
        out.printf("The model has a training baseline; ./models.sh %s:%n", String.join(" ", list));
        var cli = ModelsCli.commandLine();
        PrintWriter writer = new PrintWriter(out, true);
        cli.setOut(writer);
        cli.setErr(writer);
        cli.execute(list);
        writer.flush();
    }

    /**
     * Events in against what came out, as a downstream consumer counts them: every event answered
     * (by one prediction or dead letter per model its route names), none twice.
     */
    private static String reconciliation(long in, ResultCounter counter) {
        boolean balanced = in == counter.eventsAnswered() && counter.duplicates() == 0;
        return String.format(
                "Reconciliation: events in %d = events answered %d (predictions %d + dead letters %d%s)"
                        + " %s; dead letters by reason %s%s",
                in,
                counter.eventsAnswered(),
                counter.predictions(),
                counter.deadLetters(),
                counter.duplicates() == 0 ? "" : ", " + counter.duplicates() + " repeated",
                balanced ? "(balanced)" : "(NOT balanced)",
                counter.deadLettersByReason(),
                counter.requests() == 0
                        ? ""
                        : "; besides, "
                                + counter.requests()
                                + " answers to update-mode predict requests");
    }

    private static String statusLine(long seconds, long in, long perSecond, ResultCounter counter) {
        return String.format(
                "[%4ds] events in %,9d (%,6d/s) | predictions %,9d | dead letters %,7d | in flight %,6d"
                        + " | %s",
                seconds,
                in,
                perSecond,
                counter.predictions(),
                counter.deadLetters(),
                in - counter.eventsAnswered(),
                counter.recentVersions());
    }

    private void printResults(String jdbcUrl, int port, String bootstrap, Configuration options) {
        String query =
                "SELECT entity_id, model_name, model_version, event_time, predicted_label, round(score::numeric, 4)"
                        + " AS score FROM "
                        + LatestPredictionTable.TABLE
                        + " ORDER BY updated_at DESC LIMIT 5";
        out.println();
        out.printf(
                "Results: Kafka %s topics '%s' and '%s' (read_committed); PostgreSQL table %s at %s%n",
                bootstrap,
                options.get(PipelineOptions.PREDICTIONS_TOPIC),
                options.get(PipelineOptions.DEAD_LETTERS_TOPIC),
                LatestPredictionTable.TABLE,
                jdbcUrl);
        out.printf(
                "While it runs, query them with:%n  psql postgresql://postgres@localhost:%d/postgres -c \"%s\"%n",
                port, query);
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(query)) {
            out.printf(
                    "%-14s %-16s %-7s %-28s %-11s %s%n",
                    "entity_id", "model_name", "version", "event_time", "label", "score");
            while (rs.next()) {
                out.printf(
                        "%-14s %-16s %-7s %-28s %-11s %s%n",
                        rs.getString(1),
                        rs.getString(2),
                        rs.getString(3),
                        rs.getObject(4, OffsetDateTime.class),
                        rs.getString(5),
                        rs.getBigDecimal(6));
            }
        } catch (Exception e) {
            out.println("Could not query the result store: " + e.getMessage());
        }
    }

    /** Asks the query service for one entity, as a user would with curl. */
    private void printQueryExample(int port, String apiKey) {
        String url = "http://localhost:" + port + "/v1/predictions/" + DemoEvents.entityId(42);
        try {
            HttpResponse<String> response =
                    HttpClient.newHttpClient()
                            .send(
                                    HttpRequest.newBuilder(URI.create(url))
                                            .header("Authorization", "Bearer " + apiKey)
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
            out.printf("%ncurl %s ->%n%d %s%n", url, response.statusCode(), response.body());
        } catch (Exception e) {
            out.println("Could not query the query service: " + e.getMessage());
        }
    }

    private static long elapsedSeconds(long startNanos) {
        return TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNanos);
    }

    private static void sleepUntilNextSecond(long startNanos) throws InterruptedException {
        long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        Thread.sleep(1000 - elapsedMillis % 1000); // the status line's one-second cadence
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
