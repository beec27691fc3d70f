package org.streaminference.operators.inference.routing;

import org.streaminference.model.AnswerContract;
import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.MemberPrediction;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Combines the members' predictions of one event into the ensemble's: the weighted mean of the
 * class probabilities where every member gives them, class by class as the members name their
 * classes (two exports of one classifier may give the same classes in another order), the weighted
 * majority vote where members give only a label, and the weighted mean of the scores where members
 * give scores. The members' versions were checked to be combinable ({@link EnsembleCompatibility})
 * before they could answer; a mismatch found here anyway is an {@link IllegalArgumentException},
 * which the caller turns into a dead letter.
 */
@Internal
public final class EnsembleCombiner {
    private EnsembleCombiner() {}

    /**
     * @param members the members' predictions, in the ensemble's member order
     * @param weights each member's weight, above 0
     * @param contracts what each member's version answers, in member order
     * @throws IllegalArgumentException when the members cannot be combined
     */
    public static Prediction combine(
            String ensemble,
            List<Prediction> members,
            double[] weights,
            List<AnswerContract> contracts) {
        List<EnsembleCompatibility.Member> described = new ArrayList<>(members.size());
        for (int m = 0; m < members.size(); m++) {
            described.add(
                    new EnsembleCompatibility.Member(
                            members.get(m).getModelName() + ":" + members.get(m).getModelVersion(),
                            contracts.get(m)));
        }
        String problem = EnsembleCompatibility.problem(ensemble, described);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        Prediction first = members.get(0);
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        double score;
        Integer predictedClass = null;
        String predictedLabel = null;
        List<Double> probabilities = List.of();
        List<ClassScore> topClasses = List.of();
        switch (contracts.get(0).kind()) {
            case CLASS_PROBABILITIES -> {
                // the ensemble's classes are the first member's, in its order; each member's
                // probability of a class
                // is found by the class's label (by position only where no member names its
                // classes)
                List<String> classes = contracts.get(0).classes();
                int count = first.getProbabilities().size();
                double[] mean = new double[count];
                for (int m = 0; m < members.size(); m++) {
                    List<Double> p = members.get(m).getProbabilities();
                    List<String> own = contracts.get(m).classes();
                    if (p.size() != count) {
                        throw new IllegalArgumentException(
                                "ensemble '"
                                        + ensemble
                                        + "': "
                                        + described.get(m).name()
                                        + " gave "
                                        + p.size()
                                        + " class probabilities, "
                                        + described.get(0).name()
                                        + " "
                                        + count);
                    }
                    for (int c = 0; c < count; c++) {
                        int at = classes.isEmpty() ? c : own.indexOf(classes.get(c));
                        mean[c] += weights[m] * p.get(at) / total;
                    }
                }
                Map<Integer, String> labels = new HashMap<>();
                for (int c = 0; c < classes.size(); c++) {
                    labels.put(c, classes.get(c));
                }
                if (labels.isEmpty()) {
                    labels = labels(members);
                }
                probabilities = new ArrayList<>(count);
                int best = 0;
                for (int c = 0; c < count; c++) {
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
                    String vote =
                            p.getPredictedLabel() != null
                                    ? p.getPredictedLabel()
                                    : "#" + p.getPredictedClass();
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
            parts.add(
                    new MemberPrediction(
                            p.getModelName(),
                            p.getModelVersion(),
                            weights[m],
                            p.getScore(),
                            p.getPredictedClass(),
                            p.getPredictedLabel(),
                            p.getProbabilities()));
            versions.append(m == 0 ? "" : ",")
                    .append(p.getModelName())
                    .append(':')
                    .append(p.getModelVersion());
            inferenceTime = Math.max(inferenceTime, p.getInferenceTime());
        }
        return new Prediction(
                first.getEventId(),
                first.getEntityId(),
                ensemble,
                versions.toString(),
                score,
                predictedClass,
                predictedLabel,
                probabilities,
                topClasses,
                first.getEventTime(),
                inferenceTime,
                List.of(),
                List.of(),
                first.getTraceparent(),
                parts,
                first.getSource());
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

    private static List<ClassScore> top(
            double[] probabilities, int k, Map<Integer, String> labels) {
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
}
