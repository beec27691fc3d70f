package org.streaminference.operators.inference;

import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.OutputRole;
import org.streaminference.model.TensorSignature;
import org.streaminference.operators.inference.batching.BatchRecord;
import org.streaminference.operators.inference.batching.BatchRunner;
import org.streaminference.operators.inference.batching.InferenceMetrics;
import org.streaminference.operators.inference.batching.PredictionDecoder;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DoubleList;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.tracing.RecordTracing;

import ai.onnx.proto.OnnxMl;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The exported contract is kept: a fixed batch dimension stays fixed (batch 1 runs a row at a time,
 * a fixed batch of N is padded to N rows), a manifest that misstates it is refused or corrected,
 * and a version that runs only when its batches are split is counted ({@code
 * splitBatchesSucceeded}), because that means its contract is wrong. Real ONNX models: the
 * fixed-batch network of {@code make_exports.py} and variants of it written here.
 */
class ExportedContractTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;

    /** A pending record as the batch runner sees it. */
    private static final class Row implements BatchRecord {
        final EnrichedEvent event;
        Prediction prediction;
        DeadLetter deadLetter;

        Row(int i, float[] floats) {
            double[] features = new double[floats.length];
            for (int f = 0; f < floats.length; f++) {
                features[f] = floats[f];
            }
            event =
                    EnrichedEvent.newBuilder()
                            .setEvent(
                                    InputEvent.newBuilder()
                                            .setEventId("e" + i)
                                            .setEntityId("u" + i)
                                            .setEventTime(1000L)
                                            .setEventType("t")
                                            .build())
                            .setSource(new SourcePosition("events", 0, (long) i, null, null))
                            .setFeatures(new DoubleList(features))
                            .build();
        }

        @Override
        public EnrichedEvent event() {
            return event;
        }

        @Override
        public long enqueuedNanos() {
            return System.nanoTime();
        }

        @Override
        public boolean complete(Prediction prediction, DeadLetter deadLetter) {
            this.prediction = prediction;
            this.deadLetter = deadLetter;
            return true;
        }

        @Override
        public boolean isDone() {
            return prediction != null || deadLetter != null;
        }
    }

    private static JsonNode expected() throws Exception {
        try (InputStream in =
                ExportedContractTest.class.getResourceAsStream(
                        "/exports/fixed-batch/expected.json")) {
            return JSON.readTree(in);
        }
    }

    private static OnnxMl.ModelProto exported() throws Exception {
        try (InputStream in =
                ExportedContractTest.class.getResourceAsStream("/exports/fixed-batch/model.onnx")) {
            return OnnxMl.ModelProto.parseFrom(in.readAllBytes());
        }
    }

    /** The model with its input and output's first dimension set to {@code batch} (0: dynamic). */
    private static OnnxMl.ModelProto withBatch(OnnxMl.ModelProto model, long batch) {
        OnnxMl.GraphProto.Builder graph = model.getGraph().toBuilder();
        graph.setInput(0, firstDimension(graph.getInput(0), batch));
        graph.setOutput(0, firstDimension(graph.getOutput(0), batch));
        return model.toBuilder().setGraph(graph).build();
    }

    private static OnnxMl.ValueInfoProto firstDimension(OnnxMl.ValueInfoProto value, long batch) {
        OnnxMl.TensorShapeProto.Dimension dim =
                batch > 0
                        ? OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(batch).build()
                        : OnnxMl.TensorShapeProto.Dimension.newBuilder()
                                .setDimParam("batch")
                                .build();
        OnnxMl.TypeProto.Tensor.Builder tensor = value.getType().getTensorType().toBuilder();
        tensor.setShape(tensor.getShape().toBuilder().setDim(0, dim));
        return value.toBuilder().setType(value.getType().toBuilder().setTensorType(tensor)).build();
    }

    /**
     * A model whose signature says its batch is dynamic but which runs only one row at a time: it
     * reshapes its input to [1, 16] first, as a hand-edited or traced export may.
     */
    private static OnnxMl.ModelProto oneRowInside(OnnxMl.ModelProto model) {
        OnnxMl.ModelProto dynamic = withBatch(model, 0);
        OnnxMl.GraphProto.Builder graph = dynamic.getGraph().toBuilder();
        graph.addInitializer(
                OnnxMl.TensorProto.newBuilder()
                        .setName("one_row")
                        .addDims(2)
                        .setDataType(OnnxMl.TensorProto.DataType.INT64.getNumber())
                        .addInt64Data(1)
                        .addInt64Data(16));
        List<OnnxMl.NodeProto> nodes = new ArrayList<>(graph.getNodeList());
        nodes.set(0, nodes.get(0).toBuilder().setInput(0, "reshaped").build());
        nodes.add(
                0,
                OnnxMl.NodeProto.newBuilder()
                        .setOpType("Reshape")
                        .addInput("input")
                        .addInput("one_row")
                        .addOutput("reshaped")
                        .build());
        graph.clearNode().addAllNode(nodes);
        return dynamic.toBuilder().setGraph(graph).build();
    }

    /**
     * Writes the model as a version with a manifest declaring {@code declaredBatch} (-1: dynamic).
     */
    private String version(String name, OnnxMl.ModelProto model, long declaredBatch)
            throws Exception {
        Path versionDir = dir.resolve(name).resolve("1");
        Files.createDirectories(versionDir);
        byte[] bytes = model.toByteArray();
        Files.write(versionDir.resolve("model.onnx"), bytes);
        DemoModels.writeManifest(
                versionDir,
                ModelManifest.builder()
                        .name(name)
                        .version("1")
                        .modelFile("model.onnx")
                        .sha256(ModelLoader.sha256Hex(bytes))
                        .input(
                                new TensorSignature(
                                        "input", "FLOAT", new long[] {declaredBatch, 16}))
                        .output(
                                new TensorSignature(
                                        "output", "FLOAT", new long[] {declaredBatch, 2}),
                                OutputRole.PROBABILITIES)
                        .build());
        return versionDir.toString();
    }

    private static InferenceMetrics metrics() {
        return new InferenceMetrics(new UnregisteredMetricsGroup(), "m", "1");
    }

    /** Runs the rows in batches of at most {@code batchSize}, as the operator would cut them. */
    private static List<Row> run(LoadedModel model, InferenceMetrics metrics, int batchSize)
            throws Exception {
        JsonNode inputs = expected().get("inputs");
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            float[] f = new float[16];
            for (int j = 0; j < 16; j++) {
                f[j] = (float) inputs.get(i).get(j).asDouble();
            }
            rows.add(new Row(i, f));
        }
        BatchRunner runner =
                new BatchRunner(
                        model,
                        null,
                        new PredictionDecoder(model.manifest()),
                        metrics,
                        batchSize,
                        1,
                        RecordTracing.off());
        for (int start = 0; start < rows.size(); start += batchSize) {
            runner.run(rows.subList(start, Math.min(rows.size(), start + batchSize)));
        }
        return rows;
    }

    private static void assertAnswersAreNumpys(List<Row> rows) throws Exception {
        JsonNode want = expected().get("probabilities");
        for (int i = 0; i < rows.size(); i++) {
            assertThat(rows.get(i).deadLetter).as("row %d", i).isNull();
            for (int c = 0; c < 2; c++) {
                assertThat(rows.get(i).prediction.getProbabilities().get(c))
                        .isCloseTo(want.get(i).get(c).asDouble(), within(1e-6));
            }
        }
    }

    @Test
    void
            aFixedBatchOfOneRunsARowAtATimeAsTheManifestSaysOrAsTheModelSaysWhereAnOldManifestCalledItDynamic()
                    throws Exception {
        ModelLoader loader = new ModelLoader(ModelLoaderConfig.defaults());
        for (long declared : new long[] {1, -1}) {
            try (LoadedModel model =
                    loader.load(version("fixed" + (declared + 1), exported(), declared))) {
                assertThat(model.fixedBatch()).isEqualTo(1);
                InferenceMetrics metrics = metrics();
                // the operator cuts batches of at most the fixed batch (ServedVersion): one row
                // each
                List<Row> rows = run(model, metrics, Math.max(1, model.fixedBatch()));
                assertAnswersAreNumpys(rows);
                assertThat(metrics.executions.getCount())
                        .as("one run per row")
                        .isEqualTo(rows.size());
                assertThat(metrics.splitBatchesSucceeded.getCount()).isZero();
            }
        }
    }

    @Test
    void aFixedBatchOfFourIsPaddedToFourRowsAndItsPaddingNeverAnswers() throws Exception {
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults())
                        .load(version("fixed4", withBatch(exported(), 4), 4))) {
            assertThat(model.fixedBatch()).isEqualTo(4);
            InferenceMetrics metrics = metrics();
            List<Row> rows = run(model, metrics, 3); // 12 rows in batches of 3, each padded to 4
            assertAnswersAreNumpys(rows);
            assertThat(metrics.executions.getCount()).isEqualTo(4);
            assertThat(metrics.splitBatchesSucceeded.getCount()).isZero();
        }
    }

    @Test
    void aManifestThatMisstatesTheFixedBatchIsRefused() throws Exception {
        ModelLoader loader = new ModelLoader(ModelLoaderConfig.defaults());
        assertThatThrownBy(() -> loader.load(version("wrong", exported(), 4)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(
                        "the manifest declares a fixed batch of 4 but the model's batch is fixed at 1");
        assertThatThrownBy(() -> loader.load(version("dynamic", withBatch(exported(), 0), 2)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(
                        "the manifest declares a fixed batch of 2 but the model's batch is dynamic");
    }

    @Test
    void aVersionThatRunsOnlyWhenItsBatchesAreSplitIsCounted() throws Exception {
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults())
                        .load(version("one-row-inside", oneRowInside(exported()), -1))) {
            assertThat(model.fixedBatch()).as("its signature says dynamic").isZero();
            InferenceMetrics metrics = metrics();
            List<Row> rows = run(model, metrics, 4);
            assertAnswersAreNumpys(
                    rows); // right, but only by splitting every batch down to single rows
            assertThat(metrics.splitBatchesSucceeded.getCount())
                    .as("each of the 3 batches")
                    .isEqualTo(3);
            assertThat(metrics.executions.getCount())
                    .as("4+2+2+1+1+1+1 runs per batch of 4, one retry")
                    .isGreaterThan(rows.size());
        }
        try (LoadedModel model =
                new ModelLoader(ModelLoaderConfig.defaults())
                        .load(version("dynamic", withBatch(exported(), 0), -1))) {
            InferenceMetrics metrics = metrics();
            assertAnswersAreNumpys(run(model, metrics, 4));
            assertThat(metrics.splitBatchesSucceeded.getCount())
                    .as("a dynamic batch runs whole")
                    .isZero();
            assertThat(metrics.executions.getCount()).isEqualTo(3);
        }
    }
}
