package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpecs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * No Kryo in the job: with {@code pipeline.generic-types: false} Flink refuses any type it would
 * serialize with Kryo, so building the whole job graph (profiles joined, model commands, drift
 * monitor) proves every record between operators has a Flink or Avro serializer; {@code
 * StreamInferencePipelineITCase} and {@code ExactlyOnceRecoveryITCase} run the job that way, state
 * and restore included.
 */
class NoGenericTypesTest {
    @Test
    void theJobGraphHasNoGenericType() {
        Configuration options = new Configuration();
        options.set(PipelineOptions.GENERIC_TYPES, false);
        options.set(org.streaminference.jobs.PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, "kafka:9092");
        options.set(
                org.streaminference.jobs.PipelineOptions.MODEL_URI,
                List.of("s3://models/demo-classifier/1"));
        options.set(
                org.streaminference.jobs.PipelineOptions.MODEL_ALLOWED_ROOTS,
                List.of("s3://models/"));
        options.set(org.streaminference.jobs.PipelineOptions.MODEL_ALLOW_UNSIGNED, true);
        options.set(
                org.streaminference.jobs.PipelineOptions.RESULT_STORE_JDBC_URL,
                "jdbc:postgresql://db:5432/x");
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        assertThatCode(
                        () -> {
                            StreamInferencePipeline.build(
                                    env,
                                    options,
                                    PipelineStages.forSpec(options, FeatureSpecs.demo(), true));
                            env.getStreamGraph().getJobGraph();
                        })
                .doesNotThrowAnyException();
    }

    @Test
    void aGenericTypeFailsTheGraph() {
        Configuration options = new Configuration();
        options.set(PipelineOptions.GENERIC_TYPES, false);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        // a stage that hands a type Flink does not know (here AtomicLong) to the next one, as a
        // careless change would
        env.fromSequence(1, 2).map(AtomicLong::new).returns(AtomicLong.class).print();
        assertThatCode(() -> env.getStreamGraph().getJobGraph())
                .hasMessageContaining("Generic types have been disabled");
    }
}
