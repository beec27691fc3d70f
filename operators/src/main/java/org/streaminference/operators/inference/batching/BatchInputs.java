package org.streaminference.operators.inference.batching;

import org.streaminference.model.ElementType;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.ModelInput;
import org.streaminference.model.OnnxTensors;
import org.streaminference.model.TextTokenizer;
import org.streaminference.schemas.DoubleList;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.FeatureLayout;
import org.streaminference.schemas.FeatureProblem;
import org.streaminference.schemas.ReasonCode;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a batch's input tensors from its records, as the manifest says each input is fed: a
 * feature group's values gathered from each record (float groups into a reused direct buffer per
 * inference thread, so the common case costs one copy), or the tokenizer's ids and masks for the
 * batch's texts, padded to its longest.
 */
@Internal
final class BatchInputs {

    /**
     * One batch's tensors and, where a tokenizer ran, its tokens (embedding pooling reads the
     * mask); {@code rows} the tensors' rows: the records', then padding up to a fixed batch.
     */
    static final class Batch implements AutoCloseable {
        final Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        TextTokenizer.Tokens tokens;
        int rows;

        @Override
        public void close() {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    private final InferenceModel model;
    private final List<ModelInput> inputs;

    /** Per input: the group that feeds it; null for the tokenizer's inputs. */
    private final FeatureLayout.Group[] groups;

    /**
     * Per input: the largest index its group reads, and whether the group is a whole float array in
     * order.
     */
    private final int[] maxIndex;

    private final boolean[] whole;
    private final FeatureLayout.Group text;
    private final int floatWidth;
    private final int integerWidth;
    private final int textWidth;

    /**
     * The batch size the model fixes, to which every batch is padded; 0 where its batch is dynamic.
     */
    private final int fixedBatch;

    /**
     * The feature groups the model reads, and which of its inputs (or the tokenizer) reads each,
     * for messages.
     */
    private final Map<String, String> readers = new LinkedHashMap<>();

    private final ThreadLocal<ByteBuffer[]> buffers;

    /**
     * @param layout the feature spec's groups; null feeds a single input with every float feature
     *     in order
     */
    BatchInputs(InferenceModel model, FeatureLayout layout, int maxBatchSize) {
        this.model = model;
        this.inputs = model.manifest().inputs();
        this.fixedBatch = model.fixedBatch();
        int capacityRows = Math.max(maxBatchSize, fixedBatch);
        FeatureLayout effective =
                layout != null
                        ? layout
                        : inputs.size() == 1 && !inputs.get(0).fromTokenizer()
                                ? FeatureLayout.floats(inputs.get(0).tensor().valuesPerRow())
                                : null;
        if (effective == null) {
            throw new IllegalArgumentException(
                    model.manifest().id()
                            + " has several inputs, so the job must say"
                            + " which feature groups it computes");
        }
        this.floatWidth = effective.width(FeatureLayout.ValueType.FLOAT);
        this.integerWidth = effective.width(FeatureLayout.ValueType.INT64);
        this.textWidth = effective.width(FeatureLayout.ValueType.STRING);
        this.groups = new FeatureLayout.Group[inputs.size()];
        this.maxIndex = new int[inputs.size()];
        this.whole = new boolean[inputs.size()];
        int[] capacity = new int[inputs.size()];
        for (int i = 0; i < inputs.size(); i++) {
            ModelInput input = inputs.get(i);
            if (!input.fromTokenizer()) {
                groups[i] = effective.group(input.from());
                if (groups[i] == null) {
                    throw new IllegalArgumentException(
                            model.manifest().id()
                                    + ": no feature group '"
                                    + input.from()
                                    + "' feeds input '"
                                    + input.name()
                                    + "'");
                }
                maxIndex[i] = Arrays.stream(groups[i].indices()).max().orElse(-1);
                whole[i] =
                        groups[i].type() == FeatureLayout.ValueType.FLOAT
                                && groups[i].isWhole(maxIndex[i] + 1);
                if (input.elementType() != ElementType.STRING) {
                    capacity[i] =
                            capacityRows
                                    * groups[i].width()
                                    * OnnxTensors.bytesPer(input.elementType());
                }
            }
        }
        this.text =
                model.manifest().tokenizer() == null
                        ? null
                        : effective.group(model.manifest().tokenizer().from());
        for (int i = 0; i < inputs.size(); i++) {
            if (groups[i] != null) {
                readers.putIfAbsent(groups[i].name(), "input '" + inputs.get(i).name() + "'");
            }
        }
        if (text != null) {
            readers.putIfAbsent(text.name(), "the tokenizer");
        }
        this.buffers =
                ThreadLocal.withInitial(
                        () -> {
                            ByteBuffer[] b = new ByteBuffer[capacity.length];
                            for (int i = 0; i < b.length; i++) {
                                b[i] =
                                        capacity[i] == 0
                                                ? null
                                                : ByteBuffer.allocateDirect(capacity[i])
                                                        .order(ByteOrder.nativeOrder());
                            }
                            return b;
                        });
    }

    /** Why a record cannot feed the model. */
    record Rejection(ReasonCode reason, String message) {}

    /**
     * Why a record cannot feed the model (a field a feature of a group it reads is missing or
     * unusable, a group's values missing from it, a non-finite value), or null when it can. Only
     * the groups the model reads are checked: an event that lacks a field only another model needs
     * is served here.
     */
    Rejection invalid(EnrichedEvent event) {
        if (event.getFeatures().size() != floatWidth
                || event.getIntegerFeatures().size() != integerWidth
                || event.getTextFeatures().size() != textWidth) {
            return new Rejection(
                    ReasonCode.INVALID_FIELD,
                    "invalid shape: the record has "
                            + event.getFeatures().size()
                            + " float, "
                            + event.getIntegerFeatures().size()
                            + " integer and "
                            + event.getTextFeatures().size()
                            + " text features but "
                            + model.manifest().id()
                            + " is fed "
                            + floatWidth
                            + ", "
                            + integerWidth
                            + " and "
                            + textWidth
                            + " by this job's features");
        }
        for (FeatureProblem problem : event.getProblems()) {
            String reader = readers.get(problem.getGroup());
            if (reader != null) {
                return new Rejection(
                        problem.getReason(),
                        problem.getMessage()
                                + " (feature group '"
                                + problem.getGroup()
                                + "', which "
                                + reader
                                + " of "
                                + model.manifest().id()
                                + " reads)");
            }
        }
        for (int i = 0; i < groups.length; i++) {
            if (groups[i] != null) {
                Rejection problem = invalid(event, groups[i], maxIndex[i], inputs.get(i).name());
                if (problem != null) {
                    return problem;
                }
            }
        }
        return text == null ? null : invalid(event, text, text.indices()[0], null);
    }

    /**
     * @param input the input the group feeds, or null for the tokenizer (named only in a
     *     rejection's message)
     */
    private static Rejection invalid(
            EnrichedEvent event, FeatureLayout.Group g, int maxIndex, String input) {
        int length =
                switch (g.type()) {
                    case FLOAT -> event.getFeatures().size();
                    case INT64 -> event.getIntegerFeatures().size();
                    default -> event.getTextFeatures().size();
                };
        if (maxIndex >= length) {
            String consumer = input == null ? "the tokenizer" : "input '" + input + "'";
            return new Rejection(
                    ReasonCode.INVALID_FIELD,
                    "invalid shape: "
                            + consumer
                            + " takes "
                            + g.width()
                            + " "
                            + g.type()
                            + " values of feature group '"
                            + g.name()
                            + "' but the record has "
                            + length);
        }
        if (g.type() == FeatureLayout.ValueType.FLOAT) {
            List<Double> features = event.getFeatures();
            if (features
                    instanceof DoubleList packed) { // as the features stage makes them: no boxing
                double[] values = packed.array();
                for (int index : g.indices()) {
                    if (!Double.isFinite(values[index])) {
                        return new Rejection(
                                ReasonCode.NON_FINITE_FEATURE,
                                "feature " + index + " is " + values[index]);
                    }
                }
                return null;
            }
            for (int index : g.indices()) {
                Double f = features.get(index);
                if (f == null || !Double.isFinite(f)) {
                    return new Rejection(
                            ReasonCode.NON_FINITE_FEATURE, "feature " + index + " is " + f);
                }
            }
        }
        return null;
    }

    /**
     * The batch's tensors: its records' values, then, for a model with a fixed batch, rows of zeros
     * (empty texts) up to that size; those rows' outputs are not read.
     */
    Batch build(List<? extends BatchRecord> batch) throws OrtException {
        int rows = Math.max(batch.size(), fixedBatch);
        Batch out = new Batch();
        out.rows = rows;
        try {
            if (text != null) {
                List<String> texts = new ArrayList<>(rows);
                int index = text.indices()[0];
                for (BatchRecord p : batch) {
                    texts.add(p.event().getTextFeatures().get(index));
                }
                while (texts.size() < rows) {
                    texts.add("");
                }
                out.tokens = model.tokenizer().encode(texts);
            }
            ByteBuffer[] reused = buffers.get();
            for (int i = 0; i < inputs.size(); i++) {
                ModelInput input = inputs.get(i);
                OnnxTensor tensor;
                if (input.fromTokenizer()) {
                    tensor = OnnxTensors.ofTokens(model.environment(), input, out.tokens);
                } else if (input.elementType() == ElementType.STRING) {
                    tensor =
                            OnnxTensor.createTensor(
                                    model.environment(),
                                    strings(batch, groups[i], rows),
                                    input.tensor().batchShape(rows));
                } else {
                    ByteBuffer buffer = reused[i];
                    buffer.clear();
                    fill(buffer, input.elementType(), batch, groups[i], whole[i]);
                    while (buffer.position()
                            < rows
                                    * groups[i].width()
                                    * OnnxTensors.bytesPer(input.elementType())) {
                        buffer.put((byte) 0); // padding rows up to the fixed batch
                    }
                    buffer.flip();
                    tensor =
                            OnnxTensors.ofBytes(
                                    model.environment(),
                                    input.elementType(),
                                    buffer,
                                    input.tensor().batchShape(rows));
                }
                out.tensors.put(input.name(), tensor);
            }
            return out;
        } catch (OrtException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * Writes each record's values of group {@code g}: real values as computed (double precision)
     * into a DOUBLE input, rounded once into a FLOAT one; integers into an INT64 or INT32 one.
     */
    private static void fill(
            ByteBuffer buffer,
            ElementType type,
            List<? extends BatchRecord> batch,
            FeatureLayout.Group g,
            boolean whole) {
        int[] indices = g.indices();
        for (BatchRecord p : batch) {
            EnrichedEvent e = p.event();
            if (g.type() == FeatureLayout.ValueType.FLOAT) {
                List<Double> features = e.getFeatures();
                if (features instanceof DoubleList packed
                        && whole
                        && features.size() == indices.length) {
                    double[] values =
                            packed.array(); // the whole array in order, as the features stage
                    // made it
                    if (type == ElementType.DOUBLE) {
                        buffer.asDoubleBuffer().put(values);
                        buffer.position(buffer.position() + values.length * Double.BYTES);
                    } else {
                        FloatBuffer floats = buffer.asFloatBuffer();
                        for (double v : values) {
                            floats.put((float) v);
                        }
                        buffer.position(buffer.position() + values.length * Float.BYTES);
                    }
                } else if (type == ElementType.DOUBLE) {
                    for (int index : indices) {
                        buffer.putDouble(features.get(index));
                    }
                } else {
                    for (int index : indices) {
                        buffer.putFloat((float) (double) features.get(index));
                    }
                }
            } else {
                List<Long> integers = e.getIntegerFeatures();
                for (int index : indices) {
                    long v = integers.get(index);
                    if (type == ElementType.INT64) {
                        buffer.putLong(v);
                    } else {
                        buffer.putInt(Math.toIntExact(v));
                    }
                }
            }
        }
    }

    private static String[] strings(
            List<? extends BatchRecord> batch, FeatureLayout.Group g, int rows) {
        String[] out = new String[rows * g.width()];
        int n = 0;
        for (BatchRecord p : batch) {
            for (int index : g.indices()) {
                out[n++] = p.event().getTextFeatures().get(index);
            }
        }
        Arrays.fill(out, n, out.length, "");
        return out;
    }
}
