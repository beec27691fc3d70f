package org.streaminference.jobs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ParameterTool;
import org.streaminference.sinks.LatestPredictionTable;

/**
 * Entry point of the job jar, for {@code flink run} and the REST API. Options come the Flink way: from the
 * cluster's {@code config.yaml}, from {@code --config-dir DIR} (a directory holding a config.yaml), and from
 * {@code --key value} arguments, later ones winning.
 */
public final class StreamInferenceJob {
    public static final String JOB_NAME = "stream-inference";

    private StreamInferenceJob() {}

    public static void main(String[] args) throws Exception {
        Configuration options = options(args);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(options);
        prepare(env, options);
        env.execute(JOB_NAME);
    }

    /** Applies the job's defaults, creates the result table and adds the pipeline to {@code env}. */
    public static void prepare(StreamExecutionEnvironment env, Configuration options) throws Exception {
        StreamInferencePipeline.applyDefaults(env, options);
        if (options.get(PipelineOptions.RESULT_STORE_ENABLED)) {
            LatestPredictionTable.createIfAbsent(StreamInferencePipeline.resultStoreOptions(options));
        }
        StreamInferencePipeline.build(env, options);
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
