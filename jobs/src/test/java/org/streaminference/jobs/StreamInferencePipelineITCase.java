package org.streaminference.jobs;

import org.streaminference.model.DemoModels;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The whole pipeline on a Flink MiniCluster with a real Kafka broker and a real PostgreSQL: a few
 * thousand events, some of them bad, in; exactly one prediction per valid event and one dead letter
 * per bad one out, each prediction equal to ONNX Runtime run directly on the features this test
 * computes on its own.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class StreamInferencePipelineITCase {
    private static final int PARALLELISM = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(PARALLELISM);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @Test
    void everyEventEndsUpExactlyOnceAsPredictionOrDeadLetter() throws Exception {
        DefaultTopics.create(SERVICES.kafka(), 3, 2);
        Path modelDir = DemoModels.write(SERVICES.dir().resolve("models"), 2);
        PipelineTestSupport.TestInput input =
                PipelineTestSupport.input("events", 3_000, 60, 11, "it");
        Map<String, String> positions =
                PipelineTestSupport.produce(SERVICES.bootstrapServers(), input.records(), 0);

        Configuration options = new Configuration();

        // no Kryo anywhere: every record, state and side output has a Flink or Avro serializer, or
        // the job fails

        options.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(PARALLELISM);
        StreamInferenceJob.prepare(env, options);
        env.execute("pipeline-it"); // bounded: returns once every record is processed and committed

        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
        List<DeadLetter> deadLetters =
                PipelineTestSupport.readCommitted(
                        SERVICES.bootstrapServers(), "dead-letters", DeadLetter::fromByteBuffer);
        try (Connection db = SERVICES.connection()) {
            PipelineTestSupport.assertOutputsExact(
                    input, positions, predictions, deadLetters, modelDir, "2", db);
        }
    }
}
