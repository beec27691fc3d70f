package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.List;

/**
 * What a model version answers, as an ensemble combines it: class probabilities (of which classes,
 * in the order the version gives them), a label, a score, or nothing an ensemble can combine. Two
 * exports of the same classifier may order their classes differently (ZipMap keys, an ONNX
 * classifier's {@code classlabels}), so classes are identified by their labels wherever the version
 * names them, never by position.
 *
 * @param kind what the answer is
 * @param classes for class probabilities: the label of each class in the order of the probabilities
 *     (the manifest's {@code labels}, else a ZipMap's keys, sorted as the prediction orders them);
 *     empty where the version names no classes
 * @param classCount for class probabilities: how many classes; 0 otherwise
 */
@PublicEvolving
public record AnswerContract(Kind kind, List<String> classes, int classCount)
        implements Serializable {

    /** The kinds of answer. */
    public enum Kind {
        /** Class probabilities: a PROBABILITIES, LOGITS or SIGMOID answer. */
        CLASS_PROBABILITIES,
        /** A label and no answer output. */
        LABEL,
        /** A SCORE answer. */
        SCORE,
        /** Neither (an embedding or tensors only): nothing an ensemble can combine. */
        NONE
    }

    public AnswerContract {
        classes = List.copyOf(classes);
    }

    /**
     * The contract the manifest states, with what the version showed when it ran: its ZipMap's
     * class keys, or the number of classes of its probability tensor.
     *
     * @param zipMapKeys the keys of the answer's ZipMap in the order the prediction reads them;
     *     null for a tensor
     * @param tensorClasses the values per row of a tensor answer; -1 where unknown
     */
    public static AnswerContract of(
            ModelManifest manifest, List<String> zipMapKeys, int tensorClasses) {
        ModelOutput answer =
                manifest.outputs().stream()
                        .filter(o -> o.role().isAnswer())
                        .findFirst()
                        .orElse(null);
        if (answer == null) {
            return new AnswerContract(
                    manifest.output(OutputRole.LABEL).isPresent() ? Kind.LABEL : Kind.NONE,
                    List.of(),
                    0);
        }
        if (answer.role() == OutputRole.SCORE) {
            return new AnswerContract(Kind.SCORE, List.of(), 0);
        }
        int count =
                answer.role() == OutputRole.SIGMOID
                        ? 2
                        : zipMapKeys != null
                                ? zipMapKeys.size()
                                : tensorClasses >= 0
                                        ? tensorClasses
                                        : answer.shape().length == 2 && answer.shape()[1] >= 0
                                                ? (int) answer.shape()[1]
                                                : -1;
        List<String> named =
                !manifest.labels().isEmpty()
                        ? manifest.labels()
                        : zipMapKeys != null ? zipMapKeys : List.of();
        return new AnswerContract(Kind.CLASS_PROBABILITIES, named, count);
    }

    /** Whether the version names its classes (else they are known only by position). */
    public boolean namesClasses() {
        return !classes.isEmpty();
    }

    /** The contract in words, for messages: "class probabilities of [cat, dog]", "a score", ... */
    public String describe() {
        return switch (kind) {
            case CLASS_PROBABILITIES ->
                    namesClasses()
                            ? "class probabilities of " + classes
                            : "class probabilities of "
                                    + (classCount < 0 ? "an unknown number of" : classCount)
                                    + " unnamed classes";
            case LABEL -> "a label";
            case SCORE -> "a score";
            case NONE -> "no answer an ensemble can combine (no score, probabilities or label)";
        };
    }
}
