package org.streaminference.cli;

import org.streaminference.model.ElementType;
import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.OutputRole;
import org.streaminference.model.Pooling;

import ai.onnxruntime.NodeInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Infers a manifest's inputs and outputs from an ONNX model's signature, asking (by naming the
 * option) only for what the signature cannot say: which output is the answer when several could be,
 * and what a float [N,K] holds. A ZipMap output is read as class probabilities and an integer or
 * string [N] output as the label, as scikit-learn, LightGBM and XGBoost exports have them; an input
 * named like a tokenizer's output is fed by it.
 */
final class ModelSignature {
    private final Map<String, NodeInfo> inputs;
    private final Map<String, NodeInfo> outputs;

    /**
     * Whether the graph holds an ONNX-ML classifier naming its classes: its float [N,K] output is
     * probabilities.
     */
    private final boolean classifier;

    ModelSignature(Map<String, NodeInfo> inputs, Map<String, NodeInfo> outputs) {
        this(inputs, outputs, false);
    }

    /**
     * @param classifier whether the graph holds an ONNX-ML classifier that names its classes
     *     ({@code classlabels})
     */
    ModelSignature(
            Map<String, NodeInfo> inputs, Map<String, NodeInfo> outputs, boolean classifier) {
        this.inputs = inputs;
        this.outputs = outputs;
        this.classifier = classifier;
    }

    /**
     * Every input, each fed by the group {@code inputFrom} names, else as the class comment says.
     */
    List<ModelInput> inputs(Map<String, String> inputFrom, boolean withTokenizer) {
        for (String named : inputFrom.keySet()) {
            if (!inputs.containsKey(named)) {
                throw new IllegalArgumentException(
                        "--input-from names input '"
                                + named
                                + "', which the model does"
                                + " not have (it has "
                                + inputs.keySet()
                                + ")");
            }
        }
        long fedByFeatures =
                inputs.keySet().stream()
                        .filter(n -> !(withTokenizer && ModelInput.TOKENIZER_OUTPUTS.contains(n)))
                        .count();
        List<ModelInput> out = new ArrayList<>();
        for (NodeInfo node : inputs.values()) {
            String name = node.getName();
            ElementType type = ElementType.of(node);
            if (type == null || type == ElementType.MAP_SEQUENCE) {
                throw new IllegalArgumentException(
                        "input '"
                                + name
                                + "' is "
                                + node.getInfo()
                                + ", which this project cannot feed");
            }
            long[] shape = ElementType.shapeOf(node).clone();
            if (shape.length == 0) {
                throw new IllegalArgumentException("input '" + name + "' has no batch dimension");
            }
            if (shape[0] < 1) {
                shape[0] =
                        -1; // dynamic; a fixed batch (a PyTorch export's [1, F]) is kept: it is the
                // contract
            }
            String from;
            if (inputFrom.containsKey(name)) {
                from = inputFrom.get(name);
            } else if (ModelInput.TOKENIZER_OUTPUTS.contains(name)) {
                if (!withTokenizer) {
                    throw new IllegalArgumentException(
                            "input '"
                                    + name
                                    + "' is a tokenizer's output: give the"
                                    + " model's tokenizer.json with --tokenizer (or feed it a feature group with"
                                    + " --input-from "
                                    + name
                                    + "=GROUP)");
                }
                from = ModelInput.TOKENIZER_PREFIX + name;
            } else {
                from = fedByFeatures == 1 ? ModelInput.DEFAULT_GROUP : name;
            }
            if (!from.startsWith(ModelInput.TOKENIZER_PREFIX)) {
                for (int i = 1; i < shape.length; i++) {
                    if (shape[i] < 0) {
                        throw new IllegalArgumentException(
                                "input '"
                                        + name
                                        + "' has dynamic dimension "
                                        + i
                                        + " "
                                        + Arrays.toString(ElementType.shapeOf(node))
                                        + "; a feature group has a fixed width,"
                                        + " so re-export the model with that dimension fixed");
                    }
                }
            }
            out.add(new ModelInput(name, type, shape, from));
        }
        return out;
    }

    /**
     * The outputs the prediction reads: the answer (and its role), the label, an embedding, and the
     * ones passed through.
     */
    List<ModelOutput> outputs(
            String answerName,
            OutputRole kind,
            Double threshold,
            Pooling pooling,
            boolean normalize,
            List<String> passThrough) {
        for (String named : concat(answerName, passThrough)) {
            if (!outputs.containsKey(named)) {
                throw new IllegalArgumentException(
                        "the model has no output '"
                                + named
                                + "' (it has "
                                + outputs.keySet()
                                + ")");
            }
        }
        NodeInfo label = null;
        NodeInfo zipMap = null;
        List<NodeInfo> floats = new ArrayList<>();
        for (NodeInfo node : outputs.values()) {
            ElementType type = ElementType.of(node);
            if (type == ElementType.MAP_SEQUENCE) {
                zipMap = node;
            } else if (type != null
                    && (type.isInteger() || type == ElementType.STRING)
                    && isColumn(node)) {
                label = label == null ? node : label;
            } else if (type != null && type.isFloatingPoint()) {
                floats.add(node);
            }
        }
        NodeInfo answer;
        if (answerName != null) {
            answer = outputs.get(answerName);
        } else if (zipMap != null) {
            answer = zipMap;
        } else if (floats.size() == 1) {
            answer = floats.get(0);
        } else if (floats.isEmpty()) {
            answer = null;
        } else {
            throw new IllegalArgumentException(
                    "the model has "
                            + floats.size()
                            + " float outputs "
                            + floats.stream().map(NodeInfo::getName).toList()
                            + "; name the answer with --output");
        }
        List<ModelOutput> out = new ArrayList<>();
        if (answer != null && !passThrough.contains(answer.getName())) {
            out.add(answerOutput(answer, kind, threshold, pooling, normalize));
        }
        if (label != null
                && (answer == null || !label.getName().equals(answer.getName()))
                && !passThrough.contains(label.getName())) {
            out.add(output(label, OutputRole.LABEL, null, null, null));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(
                    "no output of the model can be the prediction (it has "
                            + outputs.values().stream()
                                    .map(n -> n.getName() + " " + n.getInfo())
                                    .toList()
                            + ")");
        }
        for (String name : passThrough) {
            out.add(output(outputs.get(name), OutputRole.TENSOR, null, null, null));
        }
        return out;
    }

    private ModelOutput answerOutput(
            NodeInfo node, OutputRole kind, Double threshold, Pooling pooling, boolean normalize) {
        ElementType type = ElementType.of(node);
        if (type == ElementType.MAP_SEQUENCE) {
            return output(node, OutputRole.PROBABILITIES, null, null, null);
        }
        if (type == null || !type.isFloatingPoint()) {
            throw new IllegalArgumentException(
                    "output '"
                            + node.getName()
                            + "' is "
                            + node.getInfo()
                            + "; the answer must be a FLOAT or DOUBLE tensor or a ZipMap");
        }
        long[] shape = ElementType.shapeOf(node);
        OutputRole role = kind;
        if (role == null) {
            if (isColumn(node)) {
                role = OutputRole.SCORE;
            } else if (shape.length == 2 && classifier) {
                role = OutputRole.PROBABILITIES; // an ONNX-ML classifier's probabilities without
                // ZipMap
            } else if (shape.length == 3) {
                role = OutputRole.EMBEDDING;
            } else {
                throw new IllegalArgumentException(
                        "output '"
                                + node.getName()
                                + "' is "
                                + node.getInfo()
                                + ": say what it holds with --output-kind PROBABILITIES, LOGITS or EMBEDDING");
            }
        }
        if (role == OutputRole.EMBEDDING && shape.length == 3 && pooling == null) {
            throw new IllegalArgumentException(
                    "output '"
                            + node.getName()
                            + "' is one vector per token "
                            + Arrays.toString(shape)
                            + ": say how to pool it with --pooling MEAN or CLS");
        }
        if (role != OutputRole.SCORE
                && role != OutputRole.SIGMOID
                && role != OutputRole.PROBABILITIES
                && role != OutputRole.LOGITS
                && role != OutputRole.EMBEDDING) {
            throw new IllegalArgumentException(
                    "--output-kind must be SCORE, SIGMOID, PROBABILITIES, LOGITS or"
                            + " EMBEDDING");
        }
        return output(
                node,
                role,
                role == OutputRole.SIGMOID ? threshold : null,
                role == OutputRole.EMBEDDING ? pooling : null,
                role == OutputRole.EMBEDDING ? normalize : null);
    }

    private static ModelOutput output(
            NodeInfo node, OutputRole role, Double threshold, Pooling pooling, Boolean normalize) {
        long[] shape = ElementType.shapeOf(node).clone();
        if (shape.length > 0 && shape[0] < 1) {
            shape[0] = -1;
        }
        try {
            return new ModelOutput(
                    node.getName(),
                    ElementType.of(node),
                    shape,
                    role,
                    threshold,
                    pooling,
                    normalize);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException(
                    "output '"
                            + node.getName()
                            + "' ("
                            + node.getInfo()
                            + ") cannot be"
                            + " read as "
                            + role
                            + ": "
                            + e.getMessage());
        }
    }

    /** Whether the tensor has one value per row: [N] or [N,1]. */
    private static boolean isColumn(NodeInfo node) {
        long[] shape = ElementType.shapeOf(node);
        return shape.length == 1 || (shape.length == 2 && shape[1] == 1);
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> all = new ArrayList<>(rest);
        if (first != null) {
            all.add(first);
        }
        return all;
    }
}
