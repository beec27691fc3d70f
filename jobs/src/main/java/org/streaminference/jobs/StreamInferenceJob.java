package org.streaminference.jobs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.streaminference.sinks.ResultStoreOptions;
import org.streaminference.sinks.ResultStoreSchema;

/**
 * Entry point of the job jar, for {@code flink run} and the REST API. Options come the Flink way: from the
 * cluster's {@code config.yaml}, from {@code --config-dir DIR} (a directory holding a config.yaml), and from
 * {@code --key value} arguments, later ones winning.
 */
public final class StreamInferenceJob {
    public static final String JOB_NAME = "stream-inference";
    private static final Logger LOG = LoggerFactory.getLogger(StreamInferenceJob.class);

    private StreamInferenceJob() {}

    public static void main(String[] args) throws Exception {
        Configuration options = options(args);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(options);
        prepare(env, options);
        env.execute(JOB_NAME);
    }

    /**
     * Reads and checks the feature spec (an invalid one fails here, before anything else), applies the job's
     * defaults, migrates the result store and adds the pipeline to {@code env}.
     */
    public static void prepare(StreamExecutionEnvironment env, Configuration options) throws Exception {
        PipelineStages stages = PipelineStages.standard(options);
        StreamInferencePipeline.applyDefaults(env, options);
        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            ResultStoreOptions store = StreamInferencePipeline.resultStoreOptions(options);
            ResultStoreSchema.migrate(store);
            int expired = ResultStoreSchema.deleteExpiredHistory(store,
                    options.get(PipelineOptions.RESULT_STORE_HISTORY_RETENTION));
            LOG.info("Result store at schema version {}; {} history rows past the retention deleted",
                    ResultStoreSchema.currentVersion(), expired);
        }
        StreamInferencePipeline.build(env, options, stages);
    }

    /** Reads {@code --config-dir DIR} (if given) and then the {@code --key value} arguments. */
    public static Configuration options(String[] args) {
        ParameterTool params = ParameterTool.fromArgs(args);
        Configuration options = new Configuration();
        if (params.has("config-dir")) {
            options.addAll(GlobalConfiguration.loadConfiguration(params.get("config-dir")));
        }
        java.util.Map<String, String> arguments = new java.util.HashMap<>(params.toMap());
        arguments.remove("config-dir");
        options.addAll(Configuration.fromMap(arguments));
        return options;
    }
}
