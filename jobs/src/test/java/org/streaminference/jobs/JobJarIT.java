package org.streaminference.jobs;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job jar holds the job and what it needs on a cluster, and nothing that runs beside it: not
 * the models CLI, the local runner, the query service or the embedded services (each has its own
 * module and classpath), not Flink or its logging (the cluster's), and ONNX Runtime's native
 * library for linux-x64 only (the REST upload limit).
 */
class JobJarIT {

    @Test
    void theJobJarHoldsTheJobAndWhatItNeedsOnly() throws Exception {
        Path jar = StandaloneCluster.jobJar();
        try (JarFile file = new JarFile(jar.toFile())) {
            List<String> entries = file.stream().map(ZipEntry::getName).toList();
            assertThat(entries)
                    .as("the job and the modules it is made of")
                    .contains(
                            "org/streaminference/jobs/StreamInferenceJob.class",
                            "org/streaminference/operators/inference/MicroBatchInferenceOperator.class",
                            "org/streaminference/features/FeatureEnrichmentFunction.class",
                            "org/streaminference/model/ModelLoader.class",
                            "org/streaminference/model/control/CommandVerifier.class",
                            "org/streaminference/sinks/ResultStoreSinks.class",
                            "org/streaminference/tracing/RecordTracing.class",
                            "org/streaminference/schemas/Prediction.class");
            assertThat(entries)
                    .as("the libraries the job needs on a cluster")
                    .contains(
                            "org/apache/flink/connector/kafka/source/KafkaSource.class",
                            "org/apache/kafka/clients/consumer/KafkaConsumer.class",
                            "org/apache/flink/connector/jdbc/core/datastream/sink/JdbcSink.class",
                            "org/postgresql/Driver.class",
                            "ai/onnxruntime/OrtSession.class",
                            "ai/onnx/proto/OnnxMl.class",
                            "com/google/protobuf/InvalidProtocolBufferException.class",
                            "ai/onnxruntime/native/linux-x64/libonnxruntime.so");
            assertThat(entries)
                    .as("what runs beside the job, and what the cluster provides")
                    .noneMatch(
                            e ->
                                    e.startsWith("org/streaminference/cli/")
                                            || e.startsWith("org/streaminference/local/")
                                            || e.startsWith("org/streaminference/query/")
                                            || e.startsWith("org/streaminference/gateway/")
                                            || e.startsWith("io/grpc/")
                                            || e.startsWith("org/streaminference/embedded/")
                                            || e.startsWith("org/streaminference/model/DemoModels")
                                            || e.startsWith("picocli/")
                                            || e.startsWith("io/javalin/")
                                            || e.startsWith("kafka/server/")
                                            || e.startsWith("io/zonky/")
                                            || e.startsWith(
                                                    "org/apache/flink/streaming/api/environment/")
                                            || e.startsWith("org/apache/logging/log4j/")
                                            || e.startsWith("org/slf4j/")
                                            || e.startsWith("ai/onnxruntime/native/osx")
                                            || e.startsWith("ai/onnxruntime/native/win"));
        }
    }
}
