package org.streaminference.jobs;

import org.streaminference.embedded.EmbeddedKafkaBroker;
import org.streaminference.model.BatchingPolicy;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OnnxTensors;
import org.streaminference.model.OutputRole;
import org.streaminference.model.Pooling;
import org.streaminference.model.TextTokenizer;
import org.streaminference.operators.inference.batching.PredictionDecoder;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ServedFeatures;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Models as the usual tools export them, each published with {@code models publish} (the contract
 * inferred from the ONNX signature, nothing hand-edited) and served by the whole pipeline from
 * events carrying their inputs; each prediction equals what the model's own library answers for the
 * same input: scikit-learn's {@code predict} and {@code predict_proba} (recorded by {@code
 * make_exports.py} beside each model), and langchain4j's embedding of the same text for the
 * quantized all-MiniLM-L6-v2 from its Maven jar.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ExportedModelsITCase {
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @TempDir static Path dir;

    private static EmbeddedKafkaBroker kafka;

    @BeforeAll
    static void createControlTopics() throws Exception {
        kafka = SERVICES.kafka();
        kafka.createTopics(1, "model-control", "model-events");
    }

    /**
     * A scikit-learn gradient-boosted classifier in skl2onnx's default form: label int64[N], ZipMap
     * probabilities.
     */
    @Test
    void aTreeClassifierWithZipMapEqualsScikitLearnsPredictProba() throws Exception {
        JsonNode expected = expected("gbt-classifier");
        ModelManifest manifest = publish("gbt-classifier", exported("gbt-classifier"));
        assertThat(manifest.outputs())
                .extracting(o -> o.name() + ":" + o.role())
                .containsExactly("probabilities:PROBABILITIES", "label:LABEL");

        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = vectorEvents("iris", rows);
        events.add(event("too-narrow", Map.of("x", List.of(1f, 2f, 3f)), Map.of(), Map.of()));
        Served served = serve("gbt-classifier", vectorSpec("iris", 4), events);

        assertThat(served.deadLetters())
                .extracting(d -> d.getEventId() + " " + d.getReasonCode())
                .containsExactly("too-narrow INVALID_FIELD");
        assertThat(served.deadLetters().get(0).getMessage())
                .contains("has 3 values; feature 'x' takes 4");
        assertThat(served.predictions()).hasSize(rows.size());
        List<Integer> classes = new ArrayList<>();
        expected.get("classes").forEach(c -> classes.add(c.asInt()));
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("iris-" + i);
            String label = expected.get("predict").get(i).asText();
            assertThat(p.getPredictedLabel()).as(p.getEventId()).isEqualTo(label);
            assertThat(p.getPredictedClass()).isEqualTo(classes.indexOf(Integer.parseInt(label)));
            for (int c = 0; c < classes.size(); c++) {
                double want = expected.get("predict_proba").get(i).get(c).asDouble();
                worst = Math.max(worst, Math.abs(p.getProbabilities().get(c) - want));
                assertThat(p.getProbabilities().get(c)).isCloseTo(want, within(1e-5));
            }
            assertThat(p.getScore()).isEqualTo(p.getProbabilities().get(p.getPredictedClass()));
        }
        System.out.printf(
                "EXPORT gbt-classifier: %d predictions, largest |p - predict_proba| %.2e%n",
                served.predictions().size(), worst);
    }

    /**
     * The classifier exported without ZipMap, its probability columns in the class order [2, 0, 1]
     * of its TreeEnsembleClassifier: {@code models publish} names the columns from the classifier's
     * classlabels, and the int64 label reaches {@code predictedLabel} though no {@code --labels}
     * was given.
     */
    @Test
    void aClassifierWithoutZipMapNamesItsClassesByItsOwnClasslabels() throws Exception {
        JsonNode expected = expected("gbt-classifier-tensor");
        ModelManifest manifest =
                publish("gbt-classifier-tensor", exported("gbt-classifier-tensor"));
        assertThat(manifest.labels())
                .as("the classifier's classlabels, in column order")
                .containsExactly("2", "0", "1");
        JsonNode rows = expected.get("inputs");
        Served served =
                serve(
                        "gbt-classifier-tensor",
                        vectorSpec("iris-tensor", 4),
                        vectorEvents("t", rows));
        assertThat(served.deadLetters()).isEmpty();
        List<Integer> columns = new ArrayList<>();
        expected.get("column_classes").forEach(c -> columns.add(c.asInt()));
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("t-" + i);
            String label = expected.get("predict").get(i).asText();
            assertThat(p.getPredictedLabel()).as(p.getEventId()).isEqualTo(label);
            assertThat(p.getPredictedClass()).isEqualTo(columns.indexOf(Integer.parseInt(label)));
            for (int c = 0; c < columns.size(); c++) {
                assertThat(p.getProbabilities().get(c))
                        .isCloseTo(
                                expected.get("predict_proba").get(i).get(columns.get(c)).asDouble(),
                                within(1e-5));
            }
        }
    }

    /**
     * The same classifier from two exporters, one a ZipMap keyed 0, 1, 2 and one a tensor of
     * classes [2, 0, 1], in one ensemble: combined class by class by label, the ensemble answers
     * what both answer alone (by position it was off by up to half). A classifier ensembled with a
     * regressor is refused when the job starts, naming both.
     */
    @Test
    void theSameClassifierFromTwoExportersIsEnsembledByLabel() throws Exception {
        JsonNode expected = expected("gbt-classifier");
        publish("iris-zipmap", exported("gbt-classifier"));
        publish("iris-tensor", exported("gbt-classifier-tensor"));
        String plan =
                """
                {"routes": [{"to": ["iris-blend"]}],
                 "ensembles": [{"name": "iris-blend", "members": [{"model": "iris-zipmap", "weight": 1},
                                                                  {"model": "iris-tensor", "weight": 3}]}]}""";
        JsonNode rows = expected.get("inputs");
        Served served =
                serve(
                        "iris-blend",
                        List.of("iris-zipmap", "iris-tensor"),
                        plan,
                        vectorSpec("iris-blend", 4),
                        vectorEvents("b", rows));
        assertThat(served.deadLetters()).isEmpty();
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("b-" + i);
            assertThat(p.getModelName()).isEqualTo("iris-blend");
            assertThat(p.getPredictedLabel())
                    .as(p.getEventId())
                    .isEqualTo(expected.get("predict").get(i).asText());
            for (int c = 0; c < 3; c++) { // the ensemble's classes are its first member's: 0, 1, 2
                double want = expected.get("predict_proba").get(i).get(c).asDouble();
                worst = Math.max(worst, Math.abs(p.getProbabilities().get(c) - want));
                assertThat(p.getProbabilities().get(c)).isCloseTo(want, within(1e-5));
            }
        }
        System.out.printf(
                "EXPORT ensemble of two exports: %d predictions, largest |p - predict_proba| %.2e%n",
                served.predictions().size(), worst);

        publish("diabetes", exported("regressor"), "--input-from", "input=wide");
        String mixed =
                """
                {"routes": [{"to": ["odd"]}],
                 "ensembles": [{"name": "odd", "members": [{"model": "iris-zipmap"}, {"model": "diabetes"}]}]}""";
        String twoGroups =
                vectorSpec("odd", 4)
                        + "  - {name: z, kind: vector, field: z, width: 6, group: wide}\n";
        assertThatThrownBy(
                        () ->
                                serve(
                                        "odd",
                                        List.of("iris-zipmap", "diabetes"),
                                        mixed,
                                        twoGroups,
                                        vectorEvents("o", rows)))
                .hasMessageContaining(
                        "ensemble 'odd' cannot combine members that answer in different kinds:"
                                + " iris-zipmap:1 (class probabilities of [0, 1, 2]), diabetes:1 (a score)");
    }

    /** The same classifier trained on class names: a string label and a ZipMap keyed by name. */
    @Test
    void aClassifierOfNamedClassesAnswersWithItsNames() throws Exception {
        JsonNode expected = expected("gbt-classifier-names");
        ModelManifest manifest = publish("gbt-classifier-names", exported("gbt-classifier-names"));
        assertThat(manifest.outputs())
                .extracting(o -> o.name() + ":" + o.elementType() + ":" + o.role())
                .containsExactly("probabilities:MAP_SEQUENCE:PROBABILITIES", "label:STRING:LABEL");
        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = vectorEvents("flower", rows);
        Served served = serve("gbt-classifier-names", vectorSpec("iris-names", 4), events);
        assertThat(served.deadLetters()).isEmpty();
        List<String> classes = new ArrayList<>();
        expected.get("classes").forEach(c -> classes.add(c.asText()));
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("flower-" + i);
            String label = expected.get("predict").get(i).asText();
            assertThat(p.getPredictedLabel()).as(p.getEventId()).isEqualTo(label);
            assertThat(p.getPredictedClass()).isEqualTo(classes.indexOf(label));
            for (int c = 0; c < classes.size(); c++) {
                double want = expected.get("predict_proba").get(i).get(c).asDouble();
                worst = Math.max(worst, Math.abs(p.getProbabilities().get(c) - want));
                assertThat(p.getProbabilities().get(c)).isCloseTo(want, within(1e-5));
            }
        }
        System.out.printf(
                "EXPORT gbt-classifier-names: %d predictions, largest |p - predict_proba| %.2e%n",
                served.predictions().size(), worst);
    }

    /**
     * A PCA: its transform as a one-vector-per-row embedding, its reconstruction passed through as
     * a tensor.
     */
    @Test
    void anEmbeddingPerRowAndAPassedThroughOutputEqualScikitLearn() throws Exception {
        JsonNode expected = expected("pca-embedding");
        ModelManifest manifest =
                publish(
                        "pca-embedding",
                        exported("pca-embedding"),
                        "--output",
                        "embedding",
                        "--output-kind",
                        "EMBEDDING",
                        "--pass-through",
                        "reconstruction");
        assertThat(manifest.outputs())
                .extracting(o -> o.name() + ":" + o.role() + ":" + o.pooling())
                .containsExactly("embedding:EMBEDDING:NONE", "reconstruction:TENSOR:null");
        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = vectorEvents("sample", rows);
        Served served = serve("pca-embedding", vectorSpec("iris-pca", 4), events);
        assertThat(served.deadLetters()).isEmpty();
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("sample-" + i);
            assertThat(p.getScore()).as("no answer output").isEqualTo(0.0);
            assertThat(p.getEmbedding()).hasSize(2);
            for (int d = 0; d < 2; d++) {
                double want = expected.get("transform").get(i).get(d).asDouble();
                worst = Math.max(worst, Math.abs(p.getEmbedding().get(d) - want));
                assertThat((double) p.getEmbedding().get(d)).isCloseTo(want, within(1e-5));
            }
            assertThat(p.getTensors())
                    .singleElement()
                    .satisfies(
                            t -> {
                                assertThat(t.getName()).isEqualTo("reconstruction");
                                assertThat(t.getShape()).containsExactly(4L);
                            });
            for (int d = 0; d < 4; d++) {
                double want = expected.get("inverse_transform").get(i).get(d).asDouble();
                worst = Math.max(worst, Math.abs(p.getTensors().get(0).getValues().get(d) - want));
                assertThat(p.getTensors().get(0).getValues().get(d)).isCloseTo(want, within(1e-5));
            }
        }
        System.out.printf(
                "EXPORT pca-embedding: %d predictions, largest |served - transform/inverse_transform|"
                        + " %.2e%n",
                served.predictions().size(), worst);
    }

    /** A regressor whose output is float[N]. */
    @Test
    void aRegressorWithAFlatOutputEqualsScikitLearnsPredict() throws Exception {
        JsonNode expected = expected("regressor");
        ModelManifest manifest = publish("regressor", exported("regressor"));
        assertThat(manifest.outputs())
                .extracting(o -> o.name() + ":" + o.role())
                .containsExactly("variable:SCORE");
        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = vectorEvents("patient", rows);
        Served served = serve("regressor", vectorSpec("diabetes", 6), events);
        assertThat(served.deadLetters()).isEmpty();
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("patient-" + i);
            double want = expected.get("predict").get(i).asDouble();
            worst = Math.max(worst, Math.abs(p.getScore() - want) / Math.abs(want));
            assertThat(p.getScore())
                    .as(p.getEventId())
                    .isCloseTo(want, within(1e-5 * Math.abs(want)));
            assertThat(p.getPredictedClass()).isNull();
        }
        System.out.printf(
                "EXPORT regressor: %d predictions, largest relative |score - predict| %.2e%n",
                served.predictions().size(), worst);
    }

    /**
     * A float64 regressor (skl2onnx with DoubleTensorType): its features are computed and carried
     * in double precision to its DOUBLE input, so it answers what scikit-learn answers to 1e-12,
     * not what it answers for float32-rounded inputs (2e-6 away for these values); the
     * served-features topic logs what it was given, unrounded.
     */
    @Test
    void aFloat64RegressorGetsItsFeaturesInDoublePrecision() throws Exception {
        JsonNode expected = expected("double-regressor");
        ModelManifest manifest = publish("double-regressor", exported("double-regressor"));
        assertThat(manifest.inputs())
                .extracting(i -> i.elementType().name())
                .containsExactly("DOUBLE");
        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Map<String, Double> numeric = new HashMap<>();
            for (int c = 0; c < 6; c++) {
                numeric.put("x" + c, rows.get(i).get(c).asDouble());
            }
            events.add(event("d-" + i, Map.of(), numeric, Map.of()));
        }
        StringBuilder spec = new StringBuilder("name: float64\nversion: 1\nfeatures:\n");
        for (int c = 0; c < 6; c++) {
            spec.append("  - {name: x")
                    .append(c)
                    .append(", kind: numeric, field: x")
                    .append(c)
                    .append("}\n");
        }
        Served served = serve("double-regressor", spec.toString(), events);
        assertThat(served.deadLetters()).isEmpty();
        double worst = 0;
        double roundedWorst = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("d-" + i);
            double want = expected.get("predict").get(i).asDouble();
            double rounded = expected.get("predict_from_float32_inputs").get(i).asDouble();
            worst = Math.max(worst, Math.abs(p.getScore() - want) / Math.abs(want));
            roundedWorst = Math.max(roundedWorst, Math.abs(rounded - want) / Math.abs(want));
            assertThat(p.getScore())
                    .as(p.getEventId())
                    .isCloseTo(want, within(1e-12 * Math.abs(want)));
        }
        assertThat(roundedWorst)
                .as("float32 inputs would answer measurably otherwise")
                .isGreaterThan(1e-6);
        List<ServedFeatures> logged =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(),
                        "served-features-double-regressor",
                        ServedFeatures::fromByteBuffer);
        assertThat(logged)
                .hasSize(rows.size())
                .allSatisfy(
                        f -> {
                            int i = Integer.parseInt(f.getEventId().substring(2));
                            for (int c = 0; c < 6; c++) {
                                assertThat(f.getDoubleFeatures().get(c))
                                        .isEqualTo(rows.get(i).get(c).asDouble());
                            }
                        });
        System.out.printf(
                "EXPORT double-regressor: %d predictions, largest relative |score - predict| %.2e"
                        + " (float32 inputs: %.2e)%n",
                served.predictions().size(), worst, roundedWorst);
    }

    /** A binary classifier with one sigmoid output [N,1]: class 1 at and above the threshold. */
    @Test
    void aSigmoidClassifierGivesBothClassesAsScikitLearnDoes() throws Exception {
        JsonNode expected = expected("sigmoid-classifier");
        ModelManifest manifest =
                publish(
                        "sigmoid-classifier",
                        exported("sigmoid-classifier"),
                        "--output-kind",
                        "SIGMOID",
                        "--labels",
                        "malignant,benign");
        assertThat(manifest.outputs().get(0).role()).isEqualTo(OutputRole.SIGMOID);
        JsonNode rows = expected.get("inputs");
        List<InputEvent> events = vectorEvents("tumour", rows);
        Served served = serve("sigmoid-classifier", vectorSpec("cancer", 5), events);
        assertThat(served.deadLetters()).isEmpty();
        double worst = 0;
        int ones = 0;
        for (int i = 0; i < rows.size(); i++) {
            Prediction p = served.predictions().get("tumour-" + i);
            int want = expected.get("predict").get(i).asInt();
            ones += want;
            assertThat(p.getPredictedClass()).as(p.getEventId()).isEqualTo(want);
            assertThat(p.getPredictedLabel()).isEqualTo(want == 1 ? "benign" : "malignant");
            double p1 = expected.get("predict_proba").get(i).get(1).asDouble();
            worst = Math.max(worst, Math.abs(p.getProbabilities().get(1) - p1));
            assertThat(p.getProbabilities().get(1)).isCloseTo(p1, within(1e-5));
        }
        assertThat(ones).as("the sample holds both classes").isBetween(1, rows.size() - 1);
        System.out.printf(
                "EXPORT sigmoid-classifier: %d predictions, largest |p1 - predict_proba| %.2e%n",
                served.predictions().size(), worst);
    }

    /** A network with a float input and an int64 input, fed by two groups of one spec. */
    @Test
    void aModelWithAFloatAndAnInt64InputIsFedByTwoFeatureGroups() throws Exception {
        JsonNode expected = expected("multi-input");
        ModelManifest manifest = publish("multi-input", exported("multi-input"));
        assertThat(manifest.inputs())
                .extracting(i -> i.name() + "<-" + i.from() + ":" + i.elementType())
                .containsExactlyInAnyOrder("numeric<-numeric:FLOAT", "category<-category:INT64");
        List<InputEvent> events = new ArrayList<>();
        for (int i = 0; i < expected.get("score").size(); i++) {
            events.add(
                    event(
                            "row-" + i,
                            Map.of("numeric", floats(expected.get("numeric").get(i))),
                            Map.of("category", expected.get("category").get(i).asDouble()),
                            Map.of()));
        }
        events.add(
                event(
                        "half-a-category",
                        Map.of("numeric", List.of(0f, 0f, 0f)),
                        Map.of("category", 1.5),
                        Map.of()));
        Served served =
                serve(
                        "multi-input",
                        """
                name: mixed
                version: 1
                features:
                  - {name: numeric, kind: vector, field: numeric, width: 3, group: numeric}
                  - {name: category, kind: integer, field: category, group: category}
                """,
                        events);
        assertThat(served.deadLetters())
                .extracting(d -> d.getEventId() + " " + d.getReasonCode())
                .containsExactly("half-a-category INVALID_FIELD");
        double worst = 0;
        for (int i = 0; i < expected.get("score").size(); i++) {
            Prediction p = served.predictions().get("row-" + i);
            double want = expected.get("score").get(i).asDouble();
            worst = Math.max(worst, Math.abs(p.getScore() - want));
            assertThat(p.getScore()).as(p.getEventId()).isCloseTo(want, within(1e-6));
        }
        System.out.printf(
                "EXPORT multi-input: %d predictions, largest |score - numpy| %.2e%n",
                served.predictions().size(), worst);
    }

    /**
     * The quantized all-MiniLM-L6-v2 with its tokenizer, from langchain4j's jar on Maven Central:
     * text events in, embeddings out, each equal to langchain4j's own embedding of the same text.
     */
    @Test
    void theQuantizedMiniLmEmbedsTextAsLangchain4jDoes() throws Exception {
        ModelManifest manifest =
                publishMiniLm("minilm", "--pooling", "MEAN", "--normalize", "--batching", "SINGLE");
        assertThat(manifest.batching()).isEqualTo(BatchingPolicy.SINGLE);
        assertThat(manifest.outputs())
                .singleElement()
                .satisfies(
                        o -> {
                            assertThat(o.role()).isEqualTo(OutputRole.EMBEDDING);
                            assertThat(o.pooling()).isEqualTo(Pooling.MEAN);
                        });
        assertThat(manifest.files()).containsKey("tokenizer.json");

        List<String> texts =
                List.of(
                        "The train to Utrecht is delayed by ten minutes.",
                        "Flink keeps per-key state in RocksDB.",
                        "Ik heb honger.",
                        "a",
                        "Stream processing with exactly-once output, at scale, on two cores and a lot of patience.",
                        "Émigré café naïve façade — ünïcödé 🚀",
                        "The quick brown fox jumps over the lazy dog.",
                        "Predictions go to Kafka and PostgreSQL.");
        List<InputEvent> events = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            events.add(event("text-" + i, Map.of(), Map.of(), Map.of("text", texts.get(i))));
        }
        Served served =
                serve(
                        "minilm",
                        """
                name: sentences
                version: 1
                features:
                  - {name: text, kind: text, field: text, group: text}
                """,
                        events);
        assertThat(served.deadLetters()).isEmpty();
        AllMiniLmL6V2QuantizedEmbeddingModel reference = new AllMiniLmL6V2QuantizedEmbeddingModel();
        double worst = 0;
        for (int i = 0; i < texts.size(); i++) {
            Prediction p = served.predictions().get("text-" + i);
            float[] want = reference.embed(texts.get(i)).content().vector();
            assertThat(p.getEmbedding()).as(p.getEventId()).hasSize(384);
            for (int d = 0; d < want.length; d++) {
                worst = Math.max(worst, Math.abs(p.getEmbedding().get(d) - want[d]));
            }
        }
        assertThat(worst).as("largest difference from langchain4j's embedding").isLessThan(1e-5);

        // the result store holds the same vectors, by event and by entity
        try (Connection db = SERVICES.connection();
                Statement s = db.createStatement();
                ResultSet rs =
                        s.executeQuery(
                                "SELECT event_id, embedding FROM prediction_history"
                                        + " WHERE model_name = 'minilm'")) {
            int rows = 0;
            while (rs.next()) {
                Float[] stored = (Float[]) rs.getArray("embedding").getArray();
                assertThat(List.of(stored))
                        .as(rs.getString("event_id"))
                        .isEqualTo(
                                served.predictions().get(rs.getString("event_id")).getEmbedding());
                rows++;
            }
            assertThat(rows).isEqualTo(texts.size());
        }
        System.out.printf(
                "EXPORT minilm: %d embeddings of 384, largest |served - langchain4j| %.2e%n",
                served.predictions().size(), worst);
    }

    /**
     * Why the MiniLM is published with {@code --batching SINGLE}: its dynamically quantized layers
     * take their ranges over the whole batch, so the same text embeds differently beside other
     * texts than alone.
     */
    @Test
    void theQuantizedMiniLmGivesATextAnotherEmbeddingInABatch() throws Exception {
        ModelManifest manifest =
                publishMiniLm("minilm-batched", "--pooling", "MEAN", "--normalize");
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            texts.add(
                    i % 3 == 0
                            ? "short " + i
                            : "A considerably longer sentence, number "
                                    + i
                                    + ", about streams, state and models that answer in milliseconds.");
        }
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults()).load(versionDir("minilm-batched"))) {
            float[][] together = embed(model, texts);
            double worst = 0;
            double leastCosine = 1;
            for (int i = 0; i < texts.size(); i++) {
                float[] alone = embed(model, List.of(texts.get(i)))[0];
                double dot = 0;
                for (int d = 0; d < alone.length; d++) {
                    worst = Math.max(worst, Math.abs(alone[d] - together[i][d]));
                    dot += alone[d] * together[i][d]; // both normalised
                }
                leastCosine = Math.min(leastCosine, dot);
            }
            System.out.printf(
                    "EXPORT minilm batch dependence: largest |batch of %d - alone| %.2e, least cosine"
                            + " %.5f%n",
                    texts.size(), worst, leastCosine);
            // the padding of the short texts is masked out of their mean (0.64 when it is not):
            // quantization noise remains
            assertThat(leastCosine).isGreaterThan(0.95);
            assertThat(manifest.batching()).isEqualTo(BatchingPolicy.DYNAMIC);
            assertThat(worst)
                    .as("a text's embedding depends on its batch neighbours")
                    .isGreaterThan(1e-4);
        }
    }

    /** The tokenizer is part of the version: a changed one is refused like a changed model file. */
    @Test
    void aTokenizerChangedAfterPublishingIsRefused() throws Exception {
        publishMiniLm("minilm-tampered", "--pooling", "CLS");
        Path stored =
                dir.resolve("store")
                        .resolve("minilm-tampered")
                        .resolve("1")
                        .resolve("tokenizer.json");
        String json = Files.readString(stored);
        Files.writeString(stored, json.replace("\"[UNK]\"", "\"[UNKNOWN]\""));
        assertThatThrownBy(
                        () ->
                                new ModelLoader(ModelLoaderConfig.defaults())
                                        .load(versionDir("minilm-tampered")))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(
                        "the tokenizer 'tokenizer.json' does not have the sha256 its manifest names");
        Files.delete(stored);
        assertThatThrownBy(
                        () ->
                                new ModelLoader(ModelLoaderConfig.defaults())
                                        .load(versionDir("minilm-tampered")))
                .isInstanceOf(ModelLoadException.class);
    }

    /** Embeds {@code texts} as one batch, as the operator does. */
    private static float[][] embed(LoadedModel model, List<String> texts) throws Exception {
        TextTokenizer.Tokens tokens = model.tokenizer().encode(texts);
        Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
        for (ModelInput input : model.manifest().inputs()) {
            inputs.put(input.name(), OnnxTensors.ofTokens(model.environment(), input, tokens));
        }
        try (OrtSession.Result result = model.run(inputs)) {
            var decoded =
                    new PredictionDecoder(model.manifest()).decode(result, texts.size(), tokens);
            float[][] out = new float[texts.size()][];
            for (int i = 0; i < out.length; i++) {
                List<Float> e = decoded[i].embedding();
                out[i] = new float[e.size()];
                for (int d = 0; d < e.size(); d++) {
                    out[i][d] = e.get(d);
                }
            }
            return out;
        } finally {
            inputs.values().forEach(OnnxTensor::close);
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private record Served(Map<String, Prediction> predictions, List<DeadLetter> deadLetters) {}

    private static Path exported(String name) throws Exception {
        Path target = Files.createDirectories(dir.resolve("exports").resolve(name));
        try (InputStream in = PipelineTestSupport.resource("/exports/" + name + "/model.onnx")) {
            Files.copy(in, target.resolve("model.onnx"), StandardCopyOption.REPLACE_EXISTING);
        }
        return target.resolve("model.onnx");
    }

    private static JsonNode expected(String name) throws Exception {
        try (InputStream in = PipelineTestSupport.resource("/exports/" + name + "/expected.json")) {
            return JSON.readTree(in);
        }
    }

    private static void copyResource(String name, Path target) throws Exception {
        try (InputStream in =
                AllMiniLmL6V2QuantizedEmbeddingModel.class
                        .getClassLoader()
                        .getResourceAsStream(name)) {
            assertThat(in).as("the langchain4j jar holds " + name).isNotNull();
            Files.copy(in, target);
        }
    }

    /**
     * Publishes the quantized MiniLM from langchain4j's jar, with its tokenizer, as version 1 of
     * {@code name}.
     */
    private static ModelManifest publishMiniLm(String name, String... options) throws Exception {
        Path source = Files.createDirectories(dir.resolve(name + "-export"));
        copyResource("all-minilm-l6-v2-q.onnx", source.resolve("model.onnx"));
        copyResource("all-minilm-l6-v2-q-tokenizer.json", source.resolve("tokenizer.json"));
        List<String> all =
                new ArrayList<>(
                        List.of("--tokenizer", source.resolve("tokenizer.json").toString()));
        all.addAll(List.of(options));
        return publish(name, source.resolve("model.onnx"), all.toArray(new String[0]));
    }

    /**
     * Publishes {@code file} as version 1 of {@code name} with {@code models publish}, and reads
     * its manifest.
     */
    private static ModelManifest publish(String name, Path file, String... options)
            throws Exception {
        List<String> args =
                new ArrayList<>(
                        List.of(
                                "publish",
                                "--name",
                                name,
                                "--version",
                                "1",
                                "--file",
                                file.toString(),
                                "--store",
                                store(),
                                "--bootstrap-servers",
                                kafka.bootstrapServers(),
                                "--wait",
                                "PT0S"));
        args.addAll(List.of(options));
        String out = PipelineTestSupport.models(args.toArray(new String[0]));
        System.out.printf("PUBLISHED models %s%n  %s", String.join(" ", args.subList(0, 7)), out);
        return new ModelLoader(ModelLoaderConfig.defaults()).readManifest(versionDir(name));
    }

    private static String store() {
        return dir.resolve("store").toUri().toString();
    }

    private static String versionDir(String name) {
        return dir.resolve("store").resolve(name).resolve("1").toUri().toString();
    }

    private static InputEvent event(
            String id,
            Map<String, List<Float>> vectors,
            Map<String, Double> numeric,
            Map<String, String> categorical) {
        return InputEvent.newBuilder()
                .setEventId(id)
                .setEntityId("entity-" + Math.abs(id.hashCode() % 5))
                .setEventTime(1_760_000_000_000L)
                .setEventType("export-test")
                .setNumericFields(numeric)
                .setCategoricalFields(categorical)
                .setVectorFields(vectors)
                .build();
    }

    /** An event per row, id {@code prefix-<row>}, carrying the row as vector field {@code x}. */
    private static List<InputEvent> vectorEvents(String prefix, JsonNode rows) {
        List<InputEvent> events = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            events.add(
                    event(prefix + "-" + i, Map.of("x", floats(rows.get(i))), Map.of(), Map.of()));
        }
        return events;
    }

    /** A spec of one feature: vector field {@code x} of {@code width} values. */
    private static String vectorSpec(String name, int width) {
        return """
                name: %s
                version: 1
                features:
                  - {name: x, kind: vector, field: x, width: %d}
                """
                .formatted(name, width);
    }

    private static List<Float> floats(JsonNode row) {
        List<Float> out = new ArrayList<>();
        row.forEach(v -> out.add((float) v.asDouble()));
        return out;
    }

    /**
     * Runs the whole pipeline (bounded) over {@code events} with the published version and the
     * spec.
     */
    private static Served serve(String name, String specYaml, List<InputEvent> events)
            throws Exception {
        return serve(name, List.of(name), null, specYaml, events);
    }

    /**
     * Runs the whole pipeline (bounded) over {@code events} with the published versions of {@code
     * models}, the serving plan (JSON; null for none) and the spec.
     */
    private static Served serve(
            String name, List<String> models, String plan, String specYaml, List<InputEvent> events)
            throws Exception {
        String eventsTopic = "events-" + name;
        String predictionsTopic = "predictions-" + name;
        String deadLettersTopic = "dead-letters-" + name;
        kafka.createTopics(
                2,
                eventsTopic,
                predictionsTopic,
                deadLettersTopic,
                "predictions-shadow-" + name,
                "served-features-" + name);
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (InputEvent e : events) {
            records.add(
                    new ProducerRecord<>(
                            eventsTopic,
                            e.getEntityId().getBytes(StandardCharsets.UTF_8),
                            PipelineTestSupport.bytes(e.toByteBuffer())));
        }
        PipelineTestSupport.produce(kafka.bootstrapServers(), records, 0);
        Path specFile = Files.writeString(dir.resolve(name + ".yaml"), specYaml);

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        options.set(PipelineOptions.EVENTS_TOPIC, eventsTopic);
        options.set(PipelineOptions.PREDICTIONS_TOPIC, predictionsTopic);
        options.set(PipelineOptions.DEAD_LETTERS_TOPIC, deadLettersTopic);
        options.set(PipelineOptions.SHADOW_PREDICTIONS_TOPIC, "predictions-shadow-" + name);
        options.set(PipelineOptions.SERVED_FEATURES_TOPIC, "served-features-" + name);
        options.set(PipelineOptions.GROUP_ID, "exports-" + name);
        options.set(PipelineOptions.SOURCE_BOUNDED, true);
        options.set(
                PipelineOptions.MODEL_URI,
                models.stream().map(ExportedModelsITCase::versionDir).toList());
        if (plan != null) {
            options.set(
                    PipelineOptions.MODEL_SERVING_PLAN,
                    Files.writeString(dir.resolve(name + "-plan.json"), plan).toString());
        }
        options.set(PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(dir.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.FEATURES_SPEC, specFile.toString());
        options.set(PipelineOptions.RESULT_STORE_JDBC_URL, SERVICES.jdbcUrl());
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(
                env, options); // as the job starts: the spec file, the model's checks, Flyway
        env.execute("exported-" + name);

        List<Prediction> predictions =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(), predictionsTopic, Prediction::fromByteBuffer);
        List<DeadLetter> deadLetters =
                PipelineTestSupport.readCommitted(
                        kafka.bootstrapServers(), deadLettersTopic, DeadLetter::fromByteBuffer);
        assertThat(predictions.size() + deadLetters.size())
                .as("events in = predictions + dead letters")
                .isEqualTo(events.size());
        Map<String, Prediction> byId =
                predictions.stream()
                        .collect(Collectors.toMap(Prediction::getEventId, Function.identity()));
        assertThat(byId).hasSize(predictions.size());
        return new Served(new HashMap<>(byId), deadLetters);
    }
}
