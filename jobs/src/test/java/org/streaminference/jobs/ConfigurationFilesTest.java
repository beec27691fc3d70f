package org.streaminference.jobs;

import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.query.QueryServiceOptions;
import org.streaminference.sinks.ResultStoreOptions;

import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The shipped config.yaml agrees with the options the job really has, and the features guide shows
 * the demo's spec as the job ships it (docs/configuration.md's tables are
 * ConfigurationReferenceTest's).
 */
class ConfigurationFilesTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    void flinkConfUsesOnlyKnownJobOptionsAndRocksDb(@TempDir Path dir) throws Exception {
        Configuration conf =
                GlobalConfiguration.loadConfiguration(ROOT.resolve("flink-conf").toString());
        assertThat(conf.get(PipelineOptions.MODEL_TRUSTED_KEYS))
                .as("production names its trusted keys")
                .isEqualTo("/etc/streaminference/model-keys/trusted.pub");
        assertThat(conf.get(PipelineOptions.MODEL_ALLOW_UNSIGNED)).isFalse();
        Path keys =
                Files.writeString(
                        dir.resolve("trusted.pub"),
                        ManifestSignatures.publicKeyPem(
                                ManifestSignatures.generateKeyPair().getPublic()));
        conf.set(
                PipelineOptions.MODEL_TRUSTED_KEYS,
                keys.toString()); // the secret is not mounted here
        Set<String> known =
                PipelineOptions.all().stream().map(ConfigOption::key).collect(Collectors.toSet());
        Set<String> jobKeys =
                conf.keySet().stream()
                        .filter(
                                k ->
                                        k.startsWith("kafka.")
                                                || k.startsWith("model.")
                                                || k.startsWith("result-store.")
                                                || k.startsWith("inference.")
                                                || k.startsWith("validation.")
                                                || k.startsWith("features."))
                        .collect(Collectors.toSet());
        assertThat(known).containsAll(jobKeys);
        assertThat(jobKeys).isNotEmpty();

        assertThat(conf.get(StateBackendOptions.STATE_BACKEND)).isEqualTo("rocksdb");
        assertThat(conf.get(CheckpointingOptions.CHECKPOINTING_INTERVAL))
                .isEqualTo(Duration.ofSeconds(10));
        assertThat(conf.get(ExecutionOptions.BUFFER_TIMEOUT)).isEqualTo(Duration.ZERO);
        assertThat(PipelineSettings.batching(conf).maxBatchSize()).isEqualTo(64);
        assertThat(conf.get(PipelineOptions.SINK_DELIVERY_GUARANTEE))
                .isEqualTo(DeliveryGuarantee.EXACTLY_ONCE);
        assertThat(conf.get(PipelineOptions.SINK_TRANSACTION_TIMEOUT))
                .isLessThanOrEqualTo(Duration.ofMinutes(15));
        assertThat(PipelineSettings.modelLoader(conf).allowedRoots())
                .containsExactly("file:///opt/models/", "s3://models/");
        assertThat(PipelineSettings.modelLoader(conf).allowedSchemes())
                .containsExactly("file", "s3");
        assertThat(PipelineSettings.modelLoader(conf).trust().keyIds()).hasSize(1);

        conf.removeConfig(PipelineOptions.MODEL_TRUSTED_KEYS);
        assertThatThrownBy(() -> PipelineSettings.modelLoader(conf))
                .hasMessageContaining("'model.trusted-keys' is required");
        conf.set(PipelineOptions.MODEL_ALLOW_UNSIGNED, true);
        conf.removeConfig(PipelineOptions.MODEL_ALLOWED_ROOTS);
        assertThatThrownBy(() -> PipelineSettings.modelLoader(conf))
                .hasMessageContaining("'model.allowed-roots' is required");
    }

    @Test
    void theFeaturesGuideShowsTheDemoFeatureSpecAsTheJobShipsIt() throws Exception {
        String guide = Files.readString(ROOT.resolve("docs/features.md"));
        String shipped =
                Files.readString(
                        ROOT.resolve(
                                "feature-enrichment/src/main/resources"
                                        + FeatureSpecs.DEMO_RESOURCE));
        assertThat(guide)
                .as("the features guide's complete example is the demo's spec")
                .contains("```yaml\n" + shipped + "```");
    }

    @Test
    void argumentsOverrideTheConfigDirectory() {
        Configuration options =
                StreamInferenceJob.options(
                        new String[] {
                            "--config-dir",
                            ROOT.resolve("flink-conf").toString(),
                            "--model.uri",
                            "/models/x/7"
                        });
        assertThat(options.get(PipelineOptions.MODEL_URI)).isEqualTo(List.of("/models/x/7"));
        assertThat(options.get(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS)).isEqualTo("kafka:9092");
    }

    @Test
    void theResultStorePasswordComesFromTheOptionTheFileOrTheEnvironment(@TempDir Path dir)
            throws Exception {
        Configuration options = new Configuration();
        assertThat(ResultStoreOptions.password(options, Map.of())).isEmpty();
        assertThat(
                        ResultStoreOptions.password(
                                options, Map.of("RESULT_STORE_PASSWORD", "from-env")))
                .isEqualTo("from-env");
        Path file = dir.resolve("password");
        Files.writeString(file, "from-file\n");
        options.set(PipelineOptions.RESULT_STORE_PASSWORD_FILE, file.toString());
        assertThat(
                        ResultStoreOptions.password(
                                options, Map.of("RESULT_STORE_PASSWORD", "from-env")))
                .isEqualTo("from-file");
        options.set(PipelineOptions.RESULT_STORE_PASSWORD, "explicit");
        assertThat(ResultStoreOptions.password(options, Map.of())).isEqualTo("explicit");

        Configuration missing = new Configuration();
        missing.set(PipelineOptions.RESULT_STORE_PASSWORD_FILE, dir.resolve("absent").toString());
        Assertions.assertThatThrownBy(() -> ResultStoreOptions.password(missing, Map.of()))
                .hasMessageContaining("result-store.password-file");
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, "jdbc:postgresql://db/results");
        assertThat(PipelineSettings.resultStore(options).password()).isEqualTo("explicit");
        assertThat(PipelineSettings.resultStore(options).toString()).doesNotContain("explicit");
    }

    /**
     * Every Flink key in the shipped config.yaml is a real Flink option (a misspelt key is silently
     * ignored).
     */
    @Test
    void flinkConfSetsRealFlinkOptionsForProduction() {
        Configuration conf =
                GlobalConfiguration.loadConfiguration(ROOT.resolve("flink-conf").toString());
        List<ConfigOption<?>> flink =
                List.of(
                        StateBackendOptions.STATE_BACKEND,
                        CheckpointingOptions.INCREMENTAL_CHECKPOINTS,
                        ExecutionOptions.BUFFER_TIMEOUT,
                        CheckpointingOptions.CHECKPOINTING_INTERVAL,
                        CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE,
                        CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                        CheckpointingOptions.SAVEPOINT_DIRECTORY,
                        CheckpointingOptions.MIN_PAUSE_BETWEEN_CHECKPOINTS,
                        CheckpointingOptions.CHECKPOINTING_TIMEOUT,
                        CheckpointingOptions.ENABLE_UNALIGNED,
                        CheckpointingOptions.ALIGNED_CHECKPOINT_TIMEOUT,
                        CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                        RestartStrategyOptions.RESTART_STRATEGY,
                        RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF,
                        RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF,
                        RestartStrategyOptions
                                .RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER,
                        RestartStrategyOptions
                                .RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD,
                        RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS,
                        CoreOptions.DEFAULT_PARALLELISM,
                        JobManagerOptions.TOTAL_PROCESS_MEMORY,
                        TaskManagerOptions.NUM_TASK_SLOTS,
                        TaskManagerOptions.TOTAL_PROCESS_MEMORY,
                        TaskManagerOptions.MANAGED_MEMORY_FRACTION,
                        TaskManagerOptions.TASK_OFF_HEAP_MEMORY);
        Set<String> known = new HashSet<>();
        flink.forEach(o -> known.add(o.key()));
        PipelineOptions.all().forEach(o -> known.add(o.key()));
        QueryServiceOptions.all().forEach(o -> known.add(o.key()));
        for (String key : conf.keySet()) {
            if (key.startsWith("metrics.reporter.prom.")) {
                continue; // reporter options are read by the reporter plugin, by name
            }
            assertThat(known).as("%s is an option Flink or the job knows", key).contains(key);
        }
        for (ConfigOption<?> option : flink) {
            assertThat(conf.getOptional(option))
                    .as("config.yaml sets %s", option.key())
                    .isPresent();
        }
        assertThat(conf.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY)).startsWith("s3://");
        assertThat(conf.getString("metrics.reporter.prom.factory.class", null))
                .isEqualTo("org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
    }
}
