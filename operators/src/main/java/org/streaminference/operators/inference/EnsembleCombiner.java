package org.streaminference.operators.inference;

import org.apache.flink.annotation.Internal;
import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.MemberPrediction;
import org.streaminference.schemas.Prediction;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Combines the members' predictions of one event into the ensemble's: the weighted mean of the class probabilities
 * where every member gives them (classifiers of the same classes), the weighted majority vote where members give only
 * a label, and the weighted mean of the scores where members give only a score (regressors, scores). Members that
 * answer in different kinds cannot be combined; the caller turns that into a dead letter.
 */
@Internal
final class EnsembleCombiner {
    private EnsembleCombiner() {}

    /**
     * @param members the members' predictions, in the ensemble's member order
     * @param weights each member's weight, above 0
     * @throws IllegalArgumentException when the members' answers are of different kinds or class counts
     */
    static Prediction combine(String ensemble, List<Prediction> members, double[] weights) {
        Prediction first = members.get(0);
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        Kind kind = kind(first);
        for (Prediction member : members) {
            if (kind(member) != kind) {
                throw new IllegalArgumentException("members answer in different kinds: " + describe(members));
            }
            if (kind == Kind.PROBABILITIES && member.getProbabilities().size() != first.getProbabilities().size()) {
                throw new IllegalArgumentException("members give probabilities of different numbers of classes: "
                        + describe(members));
            }
        }
        double score;
        Integer predictedClass = null;
        String predictedLabel = null;
        List<Double> probabilities = List.of();
        List<ClassScore> topClasses = List.of();
        switch (kind) {
            case PROBABILITIES -> {
                int classes = first.getProbabilities().size();
                double[] mean = new double[classes];
                for (int m = 0; m < members.size(); m++) {
                    List<Double> p = members.get(m).getProbabilities();
                    for (int c = 0; c < classes; c++) {
                        mean[c] += weights[m] * p.get(c) / total;
                    }
                }
                Map<Integer, String> labels = labels(members);
                probabilities = new ArrayList<>(classes);
                int best = 0;
                for (int c = 0; c < classes; c++) {
                    probabilities.add(mean[c]);
                    if (mean[c] > mean[best]) {
                        best = c;
                    }
                }
                score = mean[best];
                predictedClass = best;
                predictedLabel = labels.get(best);
                topClasses = top(mean, first.getTopClasses().size(), labels);
            }
            case LABEL -> {
                Map<String, Double> votes = new LinkedHashMap<>(); // member order breaks ties
                Map<String, Integer> classOf = new HashMap<>();
                for (int m = 0; m < members.size(); m++) {
                    Prediction p = members.get(m);
                    String vote = p.getPredictedLabel() != null ? p.getPredictedLabel() : "#" + p.getPredictedClass();
                    votes.merge(vote, weights[m], Double::sum);
                    if (p.getPredictedClass() != null) {
                        classOf.putIfAbsent(vote, p.getPredictedClass());
                    }
                }
                String winner = null;
                for (Map.Entry<String, Double> vote : votes.entrySet()) {
                    if (winner == null || vote.getValue() > votes.get(winner)) {
                        winner = vote.getKey();
                    }
                }
                score = votes.get(winner) / total;
                predictedClass = classOf.get(winner);
                predictedLabel = winner.startsWith("#") ? null : winner;
            }
            default -> {
                double mean = 0;
                for (int m = 0; m < members.size(); m++) {
                    mean += weights[m] * members.get(m).getScore() / total;
                }
                score = mean;
            }
        }
        List<MemberPrediction> parts = new ArrayList<>(members.size());
        StringBuilder versions = new StringBuilder();
        long inferenceTime = 0;
        for (int m = 0; m < members.size(); m++) {
            Prediction p = members.get(m);
            parts.add(new MemberPrediction(p.getModelName(), p.getModelVersion(), weights[m], p.getScore(),
                    p.getPredictedClass(), p.getPredictedLabel(), p.getProbabilities()));
            versions.append(m == 0 ? "" : ",").append(p.getModelName()).append(':').append(p.getModelVersion());
            inferenceTime = Math.max(inferenceTime, p.getInferenceTime());
        }
        return new Prediction(first.getEventId(), first.getEntityId(), ensemble, versions.toString(), score,
                predictedClass, predictedLabel, probabilities, topClasses, first.getEventTime(), inferenceTime,
                List.of(), List.of(), first.getTraceparent(), parts, first.getSource());
    }

    private enum Kind { PROBABILITIES, LABEL, SCORE }

    private static Kind kind(Prediction p) {
        if (!p.getProbabilities().isEmpty()) {
            return Kind.PROBABILITIES;
        }
        return p.getPredictedClass() != null || p.getPredictedLabel() != null ? Kind.LABEL : Kind.SCORE;
    }

    /** Class labels as the members name them (their predicted and top classes). */
    private static Map<Integer, String> labels(List<Prediction> members) {
        Map<Integer, String> labels = new HashMap<>();
        for (Prediction p : members) {
            if (p.getPredictedClass() != null && p.getPredictedLabel() != null) {
                labels.putIfAbsent(p.getPredictedClass(), p.getPredictedLabel());
            }
            for (ClassScore c : p.getTopClasses()) {
                if (c.getLabel() != null) {
                    labels.putIfAbsent(c.getClassIndex(), c.getLabel());
                }
            }
        }
        return labels;
    }

    private static List<ClassScore> top(double[] probabilities, int k, Map<Integer, String> labels) {
        List<ClassScore> top = new ArrayList<>(k);
        boolean[] taken = new boolean[probabilities.length];
        for (int i = 0; i < Math.min(k, probabilities.length); i++) {
            int best = -1;
            for (int c = 0; c < probabilities.length; c++) {
                if (!taken[c] && (best < 0 || probabilities[c] > probabilities[best])) {
                    best = c;
                }
            }
            taken[best] = true;
            top.add(new ClassScore(best, labels.get(best), probabilities[best]));
        }
        return top;
    }

    private static String describe(List<Prediction> members) {
        List<String> kinds = new ArrayList<>();
        for (Prediction p : members) {
            Kind k = kind(p);
            kinds.add(p.getModelName() + ":" + p.getModelVersion() + " " + (k == Kind.PROBABILITIES
                    ? p.getProbabilities().size() + " class probabilities" : k == Kind.LABEL ? "a label" : "a score"));
        }
        return String.join(", ", kinds);
    }
}
