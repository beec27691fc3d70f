package org.streaminference.operators.inference.batching;

import org.streaminference.model.ElementType;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.OutputRole;
import org.streaminference.model.Pooling;
import org.streaminference.model.TextTokenizer;
import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.NamedTensor;
import org.streaminference.schemas.Prediction;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxMap;
import ai.onnxruntime.OnnxSequence;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reads each row's prediction from a batch's outputs, each as its {@link OutputRole} says: the
 * answer (a score, class probabilities from a tensor or a ZipMap, softmax over logits, a sigmoid
 * against its threshold), the label, the embedding (pooled and normalised as declared) and the
 * tensors passed through.
 */
@Internal
public final class PredictionDecoder {

    /**
     * What a row of output means. {@code predictedClass} is null and {@code probabilities} empty
     * for scores.
     */
    public record Decoded(
            double score,
            Integer predictedClass,
            String predictedLabel,
            List<Double> probabilities,
            List<ClassScore> topClasses,
            List<Float> embedding,
            List<NamedTensor> tensors) {
        public boolean isFinite() {
            if (!Double.isFinite(score)) {
                return false;
            }
            for (double p : probabilities) {
                if (!Double.isFinite(p)) {
                    return false;
                }
            }
            for (float e : embedding) {
                if (!Float.isFinite(e)) {
                    return false;
                }
            }
            for (NamedTensor t : tensors) {
                for (double v : t.getValues()) {
                    if (!Double.isFinite(v)) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private final ModelManifest manifest;
    private final ModelOutput answer;
    private final ModelOutput label;
    private final ModelOutput embedding;
    private final List<ModelOutput> passThrough;
    private final List<String> labels;
    private final int topK;

    public PredictionDecoder(ModelManifest manifest) {
        this(manifest, 0);
    }

    /**
     * @param topK how many of the most probable classes to list in each prediction
     */
    public PredictionDecoder(ModelManifest manifest, int topK) {
        this.manifest = manifest;
        this.answer =
                manifest.outputs().stream()
                        .filter(o -> o.role().isAnswer())
                        .findFirst()
                        .orElse(null);
        this.label = manifest.output(OutputRole.LABEL).orElse(null);
        this.embedding = manifest.output(OutputRole.EMBEDDING).orElse(null);
        this.passThrough =
                manifest.outputs().stream().filter(o -> o.role() == OutputRole.TENSOR).toList();
        this.labels = manifest.labels();
        this.topK = topK;
    }

    /** The prediction for {@code event}. */
    public Prediction toPrediction(
            EnrichedEvent event, ModelManifest manifest, Decoded decoded, long inferenceTime) {
        // the all-arguments constructor: Avro builders validate and deep-copy every field, which
        // costs more than
        // a small model's run
        return new Prediction(
                event.getEvent().getEventId(),
                event.getEvent().getEntityId(),
                manifest.name(),
                manifest.version(),
                decoded.score(),
                decoded.predictedClass(),
                decoded.predictedLabel(),
                decoded.probabilities(),
                decoded.topClasses(),
                event.getEvent().getEventTime(),
                inferenceTime,
                decoded.embedding(),
                decoded.tensors(),
                event.getSource().getTraceparent(),
                List.of(),
                event.getSource());
    }

    /**
     * Decodes every row of a batch's result.
     *
     * @param tokens the batch's tokens where a tokenizer fed it (mean pooling keeps the tokens its
     *     mask keeps)
     */
    public Decoded[] decode(OrtSession.Result result, int rows, TextTokenizer.Tokens tokens)
            throws OrtException {
        Answers answers = answer == null ? null : answers(value(result, answer), rows);
        Object[] labelValues = label == null ? null : labelRows(value(result, label), rows);
        float[][] embeddings =
                embedding == null ? null : embeddingRows(value(result, embedding), rows, tokens);
        List<List<NamedTensor>> tensors = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            tensors.add(passThrough.isEmpty() ? List.of() : new ArrayList<>(passThrough.size()));
        }
        for (ModelOutput out : passThrough) {
            OnnxTensor tensor = (OnnxTensor) value(result, out);
            long[] shape = tensor.getInfo().getShape();
            List<Long> rowShape = new ArrayList<>();
            for (int d = 1; d < shape.length; d++) {
                rowShape.add(shape[d]);
            }
            double[] values = doubles(tensor);
            int perRow = values.length / rows;
            for (int r = 0; r < rows; r++) {
                List<Double> row = new ArrayList<>(perRow);
                for (int i = 0; i < perRow; i++) {
                    row.add(values[r * perRow + i]);
                }
                tensors.get(r).add(new NamedTensor(out.name(), rowShape, row));
            }
        }
        Decoded[] decoded = new Decoded[rows];
        for (int r = 0; r < rows; r++) {
            decoded[r] =
                    decodeRow(
                            answers == null ? null : answers.rows()[r],
                            answers == null ? null : answers.classKeys(),
                            labelValues == null ? null : labelValues[r],
                            embeddings == null ? null : embeddings[r],
                            tensors.get(r));
        }
        return decoded;
    }

    /** For a model whose answer is a float tensor: one row of it as a prediction. */
    public Decoded decode(float[] row) {
        double[] values = new double[row.length];
        for (int i = 0; i < row.length; i++) {
            values[i] = row[i];
        }
        return decodeRow(values, null, null, null, List.of());
    }

    /** Every row's answer, and the class keys a ZipMap named them by (null for a tensor). */
    private record Answers(double[][] rows, List<String> classKeys) {}

    /**
     * @param classKeys the ZipMap's class keys in order, or null: a tensor's classes are its
     *     indexes
     */
    public Decoded decodeRow(
            double[] answerRow,
            List<String> classKeys,
            Object labelValue,
            float[] embeddingRow,
            List<NamedTensor> tensors) {
        List<Float> embeddingList = embeddingRow == null ? List.of() : floats(embeddingRow);
        if (answerRow == null) {
            if (labelValue == null) {
                return new Decoded(0, null, null, List.of(), List.of(), embeddingList, tensors);
            }
            // a model that gives a label and no probabilities is as sure as it says; a label the
            // manifest names is
            // that class, an integer label otherwise the class of its index (named where the
            // manifest names it)
            String text = labelValue.toString();
            int named = labels.indexOf(text);
            Integer cls =
                    named >= 0
                            ? Integer.valueOf(named)
                            : labelValue instanceof Long l && l >= 0 && l <= Integer.MAX_VALUE
                                    ? (int) (long) l
                                    : null;
            String shown = named < 0 && cls != null && cls < labels.size() ? labels.get(cls) : text;
            return new Decoded(1.0, cls, shown, List.of(), List.of(), embeddingList, tensors);
        }
        if (answer.role() == OutputRole.SCORE) {
            return new Decoded(
                    answerRow[0],
                    null,
                    labelValue == null ? null : labelValue.toString(),
                    List.of(),
                    List.of(),
                    embeddingList,
                    tensors);
        }
        double[] probabilities;
        int best;
        if (answer.role() == OutputRole.SIGMOID) {
            double p = answerRow[0];
            probabilities = new double[] {1 - p, p};
            best = p >= answer.threshold() ? 1 : 0;
        } else {
            probabilities = answer.role() == OutputRole.LOGITS ? softmax(answerRow) : answerRow;
            best = 0;
            for (int i = 1; i < probabilities.length; i++) {
                if (probabilities[i] > probabilities[best]) {
                    best = i;
                }
            }
        }
        String predictedLabel;
        if (labelValue != null) {
            // the model's own label wins; its class is that label's place among the probabilities'
            // classes: by the
            // ZipMap's keys, else by the manifest's labels (an ONNX classifier's classlabels, which
            // models publish
            // reads), else an integer label is the index of its class
            String text = labelValue.toString();
            int at = classKeys != null ? classKeys.indexOf(text) : labels.indexOf(text);
            if (at < 0 && classKeys == null) {
                at = classIndex(labelValue, probabilities.length);
            }
            if (at >= 0) {
                best = at;
                String shown = display(classKeys, best);
                predictedLabel = shown != null ? shown : text;
            } else {
                predictedLabel = text;
            }
        } else {
            predictedLabel = display(classKeys, best);
        }
        List<Double> list = new ArrayList<>(probabilities.length);
        for (double p : probabilities) {
            list.add(p);
        }
        return new Decoded(
                probabilities[best],
                best,
                predictedLabel,
                list,
                top(probabilities, classKeys),
                embeddingList,
                tensors);
    }

    private static OnnxValue value(OrtSession.Result result, ModelOutput output) {
        return result.get(output.name())
                .orElseThrow(
                        () ->
                                new IllegalStateException(
                                        "the model gave no output '" + output.name() + "'"));
    }

    private static Answers answers(OnnxValue value, int rows) throws OrtException {
        if (value instanceof OnnxSequence sequence) {
            List<? extends OnnxValue> maps = sequence.getValue();
            double[][] out = new double[rows][];
            List<Object> keys = null;
            List<String> names = null;
            for (int r = 0; r < rows; r++) {
                Map<?, ?> map = ((OnnxMap) maps.get(r)).getValue();
                if (keys == null) { // ZipMap gives every row the same classes: sorted, they are the
                    // class order
                    keys = new ArrayList<>(map.keySet());
                    keys.sort(null);
                    names = keys.stream().map(Object::toString).toList();
                }
                out[r] = new double[keys.size()];
                for (int i = 0; i < keys.size(); i++) {
                    Object p = map.get(keys.get(i));
                    out[r][i] = p == null ? Double.NaN : ((Number) p).doubleValue();
                }
            }
            return new Answers(out, names);
        }
        OnnxTensor tensor = (OnnxTensor) value;
        if (tensor.getInfo().type == OnnxJavaType.FLOAT) {
            FloatBuffer values =
                    tensor.getFloatBuffer(); // the common case: read each row once, no copy between
            int perRow = values.remaining() / rows;
            double[][] out = new double[rows][perRow];
            for (int r = 0, i = 0; r < rows; r++) {
                double[] row = out[r];
                for (int c = 0; c < perRow; c++) {
                    row[c] = values.get(i++);
                }
            }
            return new Answers(out, null);
        }
        double[] values = doubles(tensor);
        int perRow = values.length / rows;
        double[][] out = new double[rows][perRow];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(values, r * perRow, out[r], 0, perRow);
        }
        return new Answers(out, null);
    }

    private static Object[] labelRows(OnnxValue value, int rows) throws OrtException {
        OnnxTensor tensor = (OnnxTensor) value;
        Object[] out = new Object[rows];
        switch (ElementType.of(tensor.getInfo().type)) {
            case STRING -> {
                Object v = tensor.getValue();
                String[] flat =
                        v instanceof String[] s
                                ? s
                                : Arrays.stream((String[][]) v)
                                        .map(a -> a[0])
                                        .toArray(String[]::new);
                System.arraycopy(flat, 0, out, 0, rows);
            }
            case INT32 -> {
                IntBuffer ints = tensor.getIntBuffer();
                for (int r = 0; r < rows; r++) {
                    out[r] = (long) ints.get(r);
                }
            }
            default -> {
                LongBuffer longs = tensor.getLongBuffer();
                for (int r = 0; r < rows; r++) {
                    out[r] = longs.get(r);
                }
            }
        }
        return out;
    }

    private float[][] embeddingRows(OnnxValue value, int rows, TextTokenizer.Tokens tokens) {
        OnnxTensor tensor = (OnnxTensor) value;
        long[] shape = tensor.getInfo().getShape();
        double[] values = doubles(tensor);
        int dims = (int) shape[shape.length - 1];
        float[][] out = new float[rows][dims];
        if (embedding.pooling() == Pooling.NONE) {
            for (int r = 0; r < rows; r++) {
                for (int d = 0; d < dims; d++) {
                    out[r][d] = (float) values[r * dims + d];
                }
            }
        } else {
            int length = (int) shape[1];
            for (int r = 0; r < rows; r++) {
                double[] sum = new double[dims];
                int counted = 0;
                int last = embedding.pooling() == Pooling.CLS ? 1 : length;
                for (int t = 0; t < last; t++) {
                    if (tokens != null && tokens.attentionMask()[r * tokens.length() + t] == 0) {
                        continue;
                    }
                    int base = (r * length + t) * dims;
                    for (int d = 0; d < dims; d++) {
                        sum[d] += values[base + d];
                    }
                    counted++;
                }
                for (int d = 0; d < dims; d++) {
                    out[r][d] = (float) (sum[d] / Math.max(counted, 1));
                }
            }
        }
        if (Boolean.TRUE.equals(embedding.normalize())) {
            for (float[] row : out) {
                double norm = 0;
                for (float v : row) {
                    norm += (double) v * v;
                }
                double scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
                for (int d = 0; d < row.length; d++) {
                    row[d] = (float) (row[d] * scale);
                }
            }
        }
        return out;
    }

    private static double[] doubles(OnnxTensor tensor) {
        switch (ElementType.of(tensor.getInfo().type)) {
            case FLOAT -> {
                FloatBuffer b = tensor.getFloatBuffer();
                double[] out = new double[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
                return out;
            }
            case DOUBLE -> {
                DoubleBuffer b = tensor.getDoubleBuffer();
                double[] out = new double[b.remaining()];
                b.get(out);
                return out;
            }
            case INT64 -> {
                LongBuffer b = tensor.getLongBuffer();
                double[] out = new double[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
                return out;
            }
            case INT32 -> {
                IntBuffer b = tensor.getIntBuffer();
                double[] out = new double[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
                return out;
            }
            default -> {
                ByteBuffer b = tensor.getByteBuffer();
                double[] out = new double[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
                return out;
            }
        }
    }

    private static List<Float> floats(float[] row) {
        List<Float> out = new ArrayList<>(row.length);
        for (float v : row) {
            out.add(v);
        }
        return out;
    }

    private static String label(List<String> names, int index) {
        return index < names.size() ? names.get(index) : null;
    }

    /**
     * The label shown for class {@code index}: the manifest's, else the ZipMap's class key, else
     * none.
     */
    private String display(List<String> classKeys, int index) {
        String named = label(labels, index);
        return named != null || classKeys == null ? named : label(classKeys, index);
    }

    /** An integer label of a tensor classifier is its class index where it is one. */
    private static int classIndex(Object labelValue, int classes) {
        return labelValue instanceof Long l && l >= 0 && l < classes ? (int) (long) l : -1;
    }

    private List<ClassScore> top(double[] probabilities, List<String> classKeys) {
        if (topK == 0) {
            return List.of();
        }
        Integer[] order = new Integer[probabilities.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(probabilities[b], probabilities[a]));
        List<ClassScore> top = new ArrayList<>(Math.min(topK, order.length));
        for (int i = 0; i < Math.min(topK, order.length); i++) {
            top.add(
                    new ClassScore(
                            order[i], display(classKeys, order[i]), probabilities[order[i]]));
        }
        return top;
    }

    static double[] softmax(double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (double l : logits) {
            max = Math.max(max, l);
        }
        double[] out = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }
}
