package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.routing.EnsembleCompatibility;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.ServingPlan;
import org.streaminference.schemas.UserCodeRelease;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreSchema;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.util.ParameterTool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Entry point of the job jar, for {@code flink run} and the REST API. Options come the Flink way:
 * from the cluster's configuration (its {@code config.yaml}, or the FlinkDeployment's {@code
 * flinkConfiguration}), from {@code --config-dir DIR} (a directory holding a config.yaml), and from
 * {@code --key value} arguments, later ones winning.
 */
@PublicEvolving
public final class StreamInferenceJob {
    public static final String JOB_NAME = "stream-inference";
    private static final Logger LOG = LoggerFactory.getLogger(StreamInferenceJob.class);

    private StreamInferenceJob() {}

    public static void main(String[] args) throws Exception {
        Configuration arguments = options(args);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(arguments);
        try {
            Configuration options = withClusterConfiguration(env.getConfiguration(), arguments);
            applyParallelismArgument(env, arguments);
            prepare(env, options);
        } finally {
            // Where main() runs in the JobManager of a session cluster, the starting model's check
            // loaded ONNX Runtime
            // and the migrations the JDBC driver with a class loader of their own: they are
            // released before the job
            // is submitted. A JDBC driver still registered then would be registered again from the
            // job's own class
            // loader on the JobManager (DriverManager initializes a registered driver's class in
            // each caller's
            // loader to check that it may see it, and the JDBC sink's classes ask), where nothing
            // releases it.
            UserCodeRelease.releaseThisJob();
        }
        StreamGraph graph = env.getStreamGraph();
        graph.setJobName(JOB_NAME);
        graph.registerJobStatusHook(new UserCodeReleaseHook());
        env.execute(graph);
    }

    /**
     * The job's options: the configuration the environment was started with (the cluster's {@code
     * config.yaml} for a job submitted to a session cluster, the FlinkDeployment's {@code
     * flinkConfiguration} in application mode), overridden by the program's arguments. Reading the
     * arguments alone would silently ignore the cluster's job options, its model location policy
     * among them.
     */
    static Configuration withClusterConfiguration(ReadableConfig cluster, Configuration arguments) {
        Configuration options = new Configuration();
        if (cluster instanceof Configuration c) {
            options.addAll(c);
        } else {
            options.addAll(Configuration.fromMap(cluster.toMap()));
        }
        options.addAll(arguments);
        return options;
    }

    /**
     * A program argument {@code --parallelism.default N} sets the job's parallelism, whatever else
     * does. A parallelism given in a REST submission ({@code POST /jars/:id/run} with {@code
     * "parallelism": N}) is taken as it is, 1 included: Flink's REST handler writes {@code
     * parallelism.default: 1} into the job's configuration when the request names none (the
     * option's default, not the cluster's), and a job cannot tell that from an explicit 1, so the
     * explicit request wins. Before, the job replaced a 1 with the cluster's {@code
     * parallelism.default}, and an explicit 1 could not be asked for.
     */
    static void applyParallelismArgument(StreamExecutionEnvironment env, Configuration arguments) {
        if (arguments.contains(CoreOptions.DEFAULT_PARALLELISM)) {
            env.setParallelism(arguments.get(CoreOptions.DEFAULT_PARALLELISM));
        }
    }

    /**
     * Everything the job does before its graph is built, then the graph: reads and checks the
     * feature spec (an invalid one fails here, before anything else), checks the starting model,
     * asks the broker what a bounded job can read, migrates the result store; then adds the
     * pipeline to {@code env}, which has no side effects.
     */
    public static void prepare(StreamExecutionEnvironment env, Configuration options)
            throws Exception {
        FeatureSpec spec = PipelineStages.featureSpec(options);
        PipelineStages stages =
                PipelineStages.forSpec(
                        options, spec, ReferenceDataTopic.joinProfiles(options, spec));
        checkStartingModel(
                options, new FeatureContract(spec.id(), spec.layout(), spec.valueNames()));
        checkTracing(options);
        StreamInferencePipeline.applyDefaults(env, options);
        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            ResultStoreConfig store = PipelineSettings.resultStore(options);
            ResultStoreSchema.migrate(store);
            int expired =
                    ResultStoreSchema.deleteExpiredHistory(
                            store, options.get(PipelineOptions.RESULT_STORE_HISTORY_RETENTION));
            LOG.info(
                    "Result store at schema version {}; {} history rows past the retention deleted",
                    ResultStoreSchema.currentVersion(),
                    expired);
        }
        StreamInferencePipeline.build(env, options, stages);
    }

    /**
     * Tracing, where it is on, starts with the configured exporter; otherwise the start fails
     * saying why.
     */
    static void checkTracing(Configuration options) {
        try {
            RecordTracing.check(
                    PipelineSettings.tracing(options), StreamInferenceJob.class.getClassLoader());
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    MonitoringOptions.TRACING_EXPORTER.key() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Loads the version {@code model.uri} names, with every check a TaskManager makes, on CPU: a
     * starting model that cannot be served fails the start with its reason, instead of a job that
     * restarts forever.
     *
     * @throws IllegalConfigurationException with the check the model failed
     */
    static void checkStartingModel(Configuration options, FeatureContract contract) {
        Set<String> names = new HashSet<>();
        Map<String, EnsembleCompatibility.Member> answers = new HashMap<>();
        for (String uri : PipelineSettings.startingModels(options)) {
            try (LoadedModel model =
                    new ModelLoader(PipelineSettings.modelLoader(options).onCpu()).load(uri)) {
                contract.check(model);
                answers.put(
                        model.manifest().name(),
                        new EnsembleCompatibility.Member(
                                model.manifest().id(), model.answerContract()));
                if (!names.add(model.manifest().name())) {
                    throw new IllegalConfigurationException(
                            PipelineOptions.MODEL_URI.key()
                                    + " names two versions of"
                                    + " model '"
                                    + model.manifest().name()
                                    + "': one version per model");
                }
                LOG.info("Starting model {} at {} passes its checks", model.manifest().id(), uri);
            } catch (IllegalConfigurationException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalConfigurationException(
                        "The starting model ("
                                + PipelineOptions.MODEL_URI.key()
                                + " = "
                                + uri
                                + ") cannot be served: "
                                + (e instanceof ModelLoadException ? e.getMessage() : e),
                        e);
            }
        }
        ServingPlan plan = PipelineSettings.servingPlan(options);
        Set<String> served = plan == null ? names : ServingPlans.servedModels(plan);
        if (plan == null && names.size() > 1) {
            throw new IllegalConfigurationException(
                    PipelineOptions.MODEL_URI.key()
                            + " names "
                            + names.size()
                            + " models "
                            + names
                            + ": a job that serves several needs "
                            + PipelineOptions.MODEL_SERVING_PLAN.key()
                            + " to say which events reach which");
        }
        for (String name : names) {
            if (!served.contains(name)) {
                throw new IllegalConfigurationException(
                        "The starting model '"
                                + name
                                + "' ("
                                + PipelineOptions.MODEL_URI.key()
                                + ") is not served by the serving plan ("
                                + PipelineOptions.MODEL_SERVING_PLAN.key()
                                + "), which serves "
                                + served);
            }
        }
        for (Ensemble ensemble : plan == null ? List.<Ensemble>of() : plan.getEnsembles()) {
            List<EnsembleCompatibility.Member> members = new ArrayList<>();
            for (EnsembleMember member : ensemble.getMembers()) {
                var answer = answers.get(member.getModel());
                if (answer != null
                        && (member.getVersion() == null
                                || answer.name()
                                        .equals(member.getModel() + ":" + member.getVersion()))) {
                    members.add(answer);
                }
            }
            String problem = EnsembleCompatibility.problem(ensemble.getName(), members);
            if (problem != null) {
                throw new IllegalConfigurationException(
                        "The serving plan ("
                                + PipelineOptions.MODEL_SERVING_PLAN.key()
                                + ") cannot serve the starting models ("
                                + PipelineOptions.MODEL_URI.key()
                                + "): "
                                + problem);
            }
        }
    }

    /** Reads {@code --config-dir DIR} (if given) and then the {@code --key value} arguments. */
    public static Configuration options(String[] args) {
        ParameterTool params = ParameterTool.fromArgs(args);
        Configuration options = new Configuration();
        if (params.has("config-dir")) {
            options.addAll(GlobalConfiguration.loadConfiguration(params.get("config-dir")));
        }
        Map<String, String> arguments = new HashMap<>(params.toMap());
        arguments.remove("config-dir");
        options.addAll(Configuration.fromMap(arguments));
        return options;
    }
}
