package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.schemas.FeatureDrift;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Drift monitoring end to end: the baseline computed by {@code models baseline} from the
 * scikit-learn classifier's training rows, attached by {@code models publish --baseline}, and the
 * whole job serving iris measurements drawn from those rows, once as they are and once with one
 * measurement moved halfway through: only the second raises a DRIFT model event, naming that
 * measurement.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DriftMonitoringITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int EVENTS = 3_000;
    private static final String MODEL = "iris-drift";

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @TempDir static Path dir;

    private static EmbeddedKafkaBroker kafka;
    private static List<float[]> trainingRows;

    @BeforeAll
    static void publishWithABaseline() throws Exception {
        kafka = SERVICES.kafka();
        kafka.createTopics(1, "model-control", "model-events");
        Path export = Files.createDirectories(dir.resolve("export"));
        Path rows = export.resolve("train.jsonl");
        try (InputStream model =
                        PipelineTestSupport.resource("/exports/gbt-classifier/model.onnx");
                InputStream train =
                        PipelineTestSupport.resource("/exports/gbt-classifier/train.jsonl")) {
            Files.copy(model, export.resolve("model.onnx"));
            Files.copy(train, rows);
        }
        trainingRows = new ArrayList<>();
        for (String line : Files.readAllLines(rows)) {
            JsonNode x = JSON.readTree(line).get("x");
            trainingRows.add(
                    new float[] {
                        (float) x.get(0).asDouble(),
                        (float) x.get(1).asDouble(),
                        (float) x.get(2).asDouble(),
                        (float) x.get(3).asDouble()
                    });
        }

        Path baseline = dir.resolve("baseline.json");
        String out =
                PipelineTestSupport.models(
                        "baseline",
                        "--rows",
                        rows.toString(),
                        "--class-column",
                        "label",
                        "--out",
                        baseline.toString());
        assertThat(out).contains("Baseline of 4 features and the prediction from 150 rows");
        DriftBaseline written = DriftBaseline.parse(Files.readAllBytes(baseline));
        assertThat(written.features().keySet()).containsExactly("x[0]", "x[1]", "x[2]", "x[3]");
        assertThat(written.prediction().classes().keySet())
                .containsExactlyInAnyOrder("0", "1", "2");

        PipelineTestSupport.models(
                "publish",
                "--name",
                MODEL,
                "--version",
                "1",
                "--file",
                export.resolve("model.onnx").toString(),
                "--baseline",
                baseline.toString(),
                "--store",
                store(),
                "--bootstrap-servers",
                kafka.bootstrapServers(),
                "--wait",
                "PT0S");
        ModelManifest manifest =
                new ModelLoader(ModelLoaderConfig.defaults()).readManifest(versionDir(MODEL));
        assertThat(manifest.baseline()).isEqualTo("baseline.json");
        assertThat(manifest.files()).containsKey("baseline.json");
    }

    @Test
    void iris_measurementsAsTrainedRaiseNoDrift() throws Exception {
        List<ModelEvent> drift = serve("stationary", new Random(21), -1);
        assertThat(drift).as("DRIFT events of a stream drawn from the training rows").isEmpty();
        System.out.printf("DRIFT end to end: %d iris events as trained: no DRIFT event%n", EVENTS);
    }

    @Test
    void aMovedMeasurementRaisesDriftForThatMeasurementOnly() throws Exception {
        List<ModelEvent> drift = serve("shifted", new Random(22), EVENTS / 2);
        assertThat(drift).as("one DRIFT event, from the monitor").hasSize(1);
        ModelEvent event = drift.get(0);
        assertThat(event.getModel()).isEqualTo(MODEL);
        assertThat(event.getVersion()).isEqualTo("1");
        assertThat(event.getDrift())
                .extracting(FeatureDrift::getFeature)
                .filteredOn(f -> f.startsWith("x["))
                .containsExactly("x[1]");
        System.out.printf(
                "DRIFT end to end: sepal width moved by 1 cm after %d of %d events: %s%n",
                EVENTS / 2, EVENTS, event.getMessage());
        String list =
                PipelineTestSupport.models(
                        "list",
                        "--bootstrap-servers",
                        kafka.bootstrapServers(),
                        "--events-topic",
                        "model-events-shifted");
        assertThat(list).contains("last drift").contains("x[1] (PSI");
    }

    @Test
    void aBaselineOfOtherFeaturesOrChangedAfterPublishingIsRefused() throws Exception {
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults()).load(versionDir(MODEL))) {
            assertThat(model.baseline().features()).hasSize(4);
            FeatureContract otherSpec =
                    new FeatureContract(
                            "iris:1",
                            FeatureLayout.floats(4),
                            List.of("sepal_length", "sepal_width", "petal_length", "petal_width"));
            assertThatThrownBy(() -> otherSpec.check(model))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining(
                            "the baseline names feature 'x[0]', which is not a float feature value"
                                    + " of this job");
        }

        String tampered = MODEL + "-tampered";
        Path baseline = dir.resolve("baseline.json");
        PipelineTestSupport.models(
                "publish",
                "--name",
                tampered,
                "--version",
                "1",
                "--file",
                dir.resolve("export").resolve("model.onnx").toString(),
                "--baseline",
                baseline.toString(),
                "--store",
                store(),
                "--bootstrap-servers",
                kafka.bootstrapServers(),
                "--wait",
                "PT0S");
        Path stored = dir.resolve("store").resolve(tampered).resolve("1").resolve("baseline.json");
        Files.writeString(
                stored, Files.readString(stored).replace("\"rows\" : 150", "\"rows\" : 151"));
        assertThatThrownBy(
                        () ->
                                new ModelLoader(ModelLoaderConfig.defaults())
                                        .load(versionDir(tampered)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(
                        "the baseline 'baseline.json' does not have the sha256 its manifest names");
    }

    /**
     * Serves {@value #EVENTS} events drawn from the training rows, 10 ms of event time apart; from
     * {@code shiftAt} on (when not negative) sepal width, {@code x[1]}, is 1 cm larger. Returns the
     * DRIFT events of the run.
     */
    private static List<ModelEvent> serve(String run, Random random, int shiftAt) throws Exception {
        String eventsTopic = "events-" + run;
        String predictionsTopic = "predictions-" + run;
        String modelEventsTopic = "model-events-" + run;
        kafka.createTopics(
                2, eventsTopic, predictionsTopic, "dead-letters-" + run, "shadow-" + run);
        kafka.createTopics(1, modelEventsTopic);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        long start = 1_760_000_000_000L;
        for (int i = 0; i < EVENTS; i++) {
            float[] row = trainingRows.get(random.nextInt(trainingRows.size())).clone();
            if (shiftAt >= 0 && i >= shiftAt) {
                row[1] += 1f;
            }
            InputEvent event =
                    InputEvent.newBuilder()
                            .setEventId(run + "-" + i)
                            .setEntityId("plant-" + (i % 7))
                            .setEventTime(start + i * 10L)
                            .setEventType("iris")
                            .setNumericFields(Map.of())
                            .setCategoricalFields(Map.of())
                            .setVectorFields(Map.of("x", List.of(row[0], row[1], row[2], row[3])))
                            .build();
            records.add(
                    new ProducerRecord<>(
                            eventsTopic,
                            event.getEntityId().getBytes(StandardCharsets.UTF_8),
                            PipelineTestSupport.bytes(event.toByteBuffer())));
        }
        PipelineTestSupport.produce(kafka.bootstrapServers(), records, 0);
        Path spec =
                Files.writeString(
                        dir.resolve(run + ".yaml"),
                        """
                name: iris
                version: 1
                features:
                  - {name: x, kind: vector, field: x, width: 4}
                """);

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, eventsTopic);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, predictionsTopic);
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, "dead-letters-" + run);
        options.set(PipelineOptions.SHADOW_PREDICTIONS_TOPIC, "shadow-" + run);
        options.set(PipelineOptions.MODEL_EVENTS_TOPIC, modelEventsTopic);
        options.set(PipelineOptions.GROUP_ID, "drift-" + run);
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        options.set(PipelineOptions.MODEL_URI, List.of(versionDir(MODEL)));
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.FEATURES_SPEC, spec.toString());
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        // 100 events per second of event time: slices of 100 events, a window of 1,000
        options.set(MonitoringOptions.DRIFT_SLICE, Duration.ofSeconds(1));
        options.set(MonitoringOptions.DRIFT_WINDOW, Duration.ofSeconds(10));
        options.set(MonitoringOptions.DRIFT_MIN_EVENTS, 500L);
        options.set(MonitoringOptions.DRIFT_REPORT_INTERVAL, Duration.ofMillis(200));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        env.execute("drift-" + run);

        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(), predictionsTopic, Prediction::fromByteBuffer);
        assertThat(predictions).hasSize(EVENTS);
        List<ModelEvent> events =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(),
                        modelEventsTopic,
                        DriftMonitoringITCase::modelEvent);
        return events.stream().filter(e -> e.getType() == ModelEventType.DRIFT).toList();
    }

    private static ModelEvent modelEvent(ByteBuffer bytes) throws Exception {
        byte[] json = new byte[bytes.remaining()];
        bytes.get(json);
        return ModelEvents.fromJson(json);
    }

    private static String store() {
        return dir.resolve("store").toUri().toString();
    }

    private static String versionDir(String name) {
        return dir.resolve("store").resolve(name).resolve("1").toUri().toString();
    }
}
