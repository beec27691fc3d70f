package org.streaminference.jobs;

import org.streaminference.cli.ModelsCli;
import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.model.DemoModels;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OutputRole;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.model.trust.ModelTrust;

import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The models CLI driving a running job (MiniCluster, real Kafka) through a whole model lifecycle.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ModelsCliITCase {
    @TempDir static Path dir;

    private static EmbeddedKafkaBroker kafka;
    private static MiniCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        kafka = EmbeddedKafkaBroker.start(dir.resolve("kafka"), 0);
        DefaultTopics.create(kafka, 2, 2);
        cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(2)
                                .build());
        cluster.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (cluster != null) {
            cluster.closeAsync().get(1, TimeUnit.MINUTES);
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private record Result(int exitCode, String out, String err) {}

    private static Result models(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = ModelsCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--bootstrap-servers", kafka.bootstrapServers()));
        int code = cli.execute(all.toArray(new String[0]));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void publishCanaryPromoteRollbackAndListAgainstARunningJob() throws Exception {
        Path demo = dir.resolve("demo");
        Path file1 = DemoModels.write(demo, 1).resolve("model.onnx");
        Path file2 = DemoModels.write(demo, 2).resolve("model.onnx");
        String store = dir.resolve("store").toUri().toString();

        assertThat(
                        ModelsCli.commandLine()
                                .execute(
                                        "keygen",
                                        "--out",
                                        dir.resolve("keys").toString(),
                                        "--name",
                                        "alice"))
                .isZero();
        String key = dir.resolve("keys").resolve("alice.key").toString();
        assertThat(Files.getPosixFilePermissions(dir.resolve("keys").resolve("alice.key")))
                .containsExactlyInAnyOrder(
                        PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);

        Result noTopics =
                models(
                        "publish",
                        "--name",
                        DemoModels.NAME,
                        "--version",
                        "1",
                        "--file",
                        file1.toString(),
                        "--store",
                        store,
                        "--output-kind",
                        "PROBABILITIES",
                        "--control-topic",
                        "no-such-topic",
                        "--signing-key",
                        key,
                        "--wait",
                        "PT0S");
        assertThat(noTopics.exitCode()).isEqualTo(1);
        assertThat(noTopics.err())
                .contains("[no-such-topic] do not exist")
                .contains("nothing was stored");
        assertThat(dir.resolve("store")).doesNotExist();

        Result first =
                models(
                        "publish",
                        "--name",
                        DemoModels.NAME,
                        "--version",
                        "1",
                        "--file",
                        file1.toString(),
                        "--store",
                        store,
                        "--output-kind",
                        "PROBABILITIES",
                        "--labels",
                        "normal,suspicious",
                        "--feature-spec",
                        DemoModels.SPEC,
                        "--signing-key",
                        key,
                        "--wait",
                        "PT0S");
        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(first.out()).contains("signed by key");
        Path stored1 = dir.resolve("store").resolve(DemoModels.NAME).resolve("1");
        ModelManifest manifest =
                new ModelLoader(ModelLoaderConfig.defaults()).readManifest(stored1.toString());
        assertThat(manifest.sha256()).isEqualTo(ModelLoader.sha256Hex(Files.readAllBytes(file1)));
        assertThat(manifest.inputs().get(0).shape()).containsExactly(-1, DemoModels.FEATURES);
        assertThat(manifest.outputs().get(0).role()).isEqualTo(OutputRole.PROBABILITIES);

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(stored1.toUri().toString()));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_TRUSTED_KEYS,
                dir.resolve("keys").resolve("alice.pub").toString());
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        JobID job = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();
        try {
            Result unsigned =
                    models(
                            "publish",
                            "--name",
                            DemoModels.NAME,
                            "--version",
                            "3",
                            "--file",
                            file2.toString(),
                            "--store",
                            store,
                            "--canary",
                            "20",
                            "--wait",
                            "PT60S");
            assertThat(unsigned.exitCode())
                    .as(unsigned.out() + unsigned.err())
                    .isEqualTo(ModelsCli.EXIT_REJECTED);
            assertThat(unsigned.out()).contains("not signed").contains("REJECTED (UNSIGNED)");

            Result canary =
                    models(
                            "publish",
                            "--name",
                            DemoModels.NAME,
                            "--version",
                            "2",
                            "--file",
                            file2.toString(),
                            "--store",
                            store,
                            "--canary",
                            "20",
                            "--signing-key",
                            key,
                            "--wait",
                            "PT60S");
            assertThat(canary.exitCode()).as(canary.out() + canary.err()).isZero();
            assertThat(canary.out())
                    .contains("subtask 0: serves demo-classifier: active 1, canary 2 (20%)")
                    .contains("subtask 1: serves demo-classifier: active 1, canary 2 (20%)");
            ModelManifest inherited =
                    new ModelLoader(ModelLoaderConfig.defaults())
                            .readManifest(
                                    dir.resolve("store")
                                            .resolve(DemoModels.NAME)
                                            .resolve("2")
                                            .toString());
            assertThat(inherited.labels()).containsExactly("normal", "suspicious");
            assertThat(inherited.featureSpec()).isEqualTo(DemoModels.SPEC);

            Result overwrite =
                    models(
                            "publish",
                            "--name",
                            DemoModels.NAME,
                            "--version",
                            "2",
                            "--file",
                            file1.toString(),
                            "--store",
                            store,
                            "--signing-key",
                            key,
                            "--wait",
                            "PT0S");
            assertThat(overwrite.exitCode()).isEqualTo(1);
            assertThat(overwrite.err()).contains("versions are immutable");

            Result unsignedPromote =
                    models("promote", "--name", DemoModels.NAME, "--wait", "PT60S");
            assertThat(unsignedPromote.exitCode()).isEqualTo(ModelsCli.EXIT_REJECTED);
            assertThat(unsignedPromote.out()).contains("REJECTED (UNSIGNED)");

            Result promote =
                    models(
                            "promote",
                            "--name",
                            DemoModels.NAME,
                            "--signing-key",
                            key,
                            "--wait",
                            "PT60S");
            assertThat(promote.exitCode()).as(promote.out()).isZero();
            assertThat(promote.out()).contains("serves demo-classifier: active 2, previous 1");

            Result unknown =
                    models(
                            "canary",
                            "--name",
                            DemoModels.NAME,
                            "--version",
                            "9",
                            "--percent",
                            "5",
                            "--signing-key",
                            key,
                            "--wait",
                            "PT60S");
            assertThat(unknown.exitCode()).isEqualTo(ModelsCli.EXIT_REJECTED);
            assertThat(unknown.out())
                    .contains("REJECTED (INVALID_COMMAND)")
                    .contains("not registered");

            Result wrongRollback =
                    models(
                            "rollback",
                            "--name",
                            DemoModels.NAME,
                            "--to",
                            "3",
                            "--signing-key",
                            key,
                            "--wait",
                            "PT60S");
            assertThat(wrongRollback.exitCode()).isEqualTo(ModelsCli.EXIT_REJECTED);
            assertThat(wrongRollback.out()).contains("the previous version is 1");

            Result rollback =
                    models(
                            "rollback",
                            "--name",
                            DemoModels.NAME,
                            "--to",
                            "1",
                            "--signing-key",
                            key,
                            "--wait",
                            "PT60S");
            assertThat(rollback.exitCode()).as(rollback.out()).isZero();
            assertThat(rollback.out()).contains("serves demo-classifier: active 1");

            String rest = cluster.getRestAddress().get().toString();
            Result list = models("list", "--flink-rest", rest);
            assertThat(list.exitCode()).isZero();
            assertThat(list.out())
                    .contains(job.toHexString())
                    .contains("[job RUNNING]")
                    .contains("demo-classifier: active 1")
                    .contains("(subtasks [0, 1])");

            // a model with external data: the file beside it travels with it, named in the signed
            // manifest
            Path external = DemoModels.writeWithExternalWeights(dir.resolve("exported"), 1, false);
            Result withData =
                    models(
                            "publish",
                            "--name",
                            "big",
                            "--version",
                            "1",
                            "--file",
                            external.resolve("model.onnx").toString(),
                            "--store",
                            store,
                            "--output-kind",
                            "PROBABILITIES",
                            "--signing-key",
                            key,
                            "--wait",
                            "PT0S");
            assertThat(withData.exitCode()).as(withData.out() + withData.err()).isZero();
            Path storedBig = dir.resolve("store").resolve("big").resolve("1");
            assertThat(storedBig.resolve(DemoModels.EXTERNAL_WEIGHTS)).exists();
            var trusted =
                    ModelLoaderConfig.defaults()
                            .withTrust(
                                    ModelTrust.of(
                                            ManifestSignatures.readPublicKeys(
                                                    Files.readString(
                                                            dir.resolve("keys")
                                                                    .resolve("alice.pub"))),
                                            false));
            try (var loaded = new ModelLoader(trusted).load(storedBig.toString())) {
                assertThat(loaded.manifest().files()).containsOnlyKeys(DemoModels.EXTERNAL_WEIGHTS);
            }

            Result missing =
                    models(
                            "publish",
                            "--name",
                            "x",
                            "--version",
                            "1",
                            "--file",
                            "/nonexistent.onnx",
                            "--store",
                            store,
                            "--output-kind",
                            "SCORE",
                            "--wait",
                            "PT0S");
            assertThat(missing.exitCode()).isEqualTo(1);
            assertThat(missing.err()).contains("no model file at /nonexistent.onnx");
        } finally {
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
        }
        String rest = cluster.getRestAddress().get().toString();
        Awaitility.await()
                .atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(200))
                .until(() -> cluster.getJobStatus(job).get().isGloballyTerminalState());
        // Flink's REST API caches a job's details for a few seconds
        Awaitility.await()
                .atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofMillis(500))
                .untilAsserted(
                        () ->
                                assertThat(models("list", "--flink-rest", rest).out())
                                        .as("a cancelled job serves nothing")
                                        .contains(
                                                job.toHexString()
                                                        + ") demo-classifier  [job CANCELED: serves nothing]")
                                        .doesNotContain("subtasks [0, 1]"));
    }
}
