package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;

import java.time.Instant;
import java.util.List;

/**
 * What a result sink can keep, checked before a prediction reaches any sink: PostgreSQL rejects
 * text holding U+0000 and timestamps outside its range, Avro writes an unpaired surrogate as '?',
 * and a non-finite number is no answer. A sink that meets such a value fails its checkpoint,
 * restarts and meets it again; caught here, the record becomes a {@code STORE_REJECTED} dead letter
 * instead and the predictions topic and the tables stay in agreement.
 */
@Internal
public final class StorableValues {
    /**
     * The earliest storable time: 0001-01-01T00:00:00Z (a conservative bound inside PostgreSQL's
     * range).
     */
    public static final long MIN_TIME_MILLIS = Instant.parse("0001-01-01T00:00:00Z").toEpochMilli();

    /** The latest storable time: 9999-12-31T23:59:59.999Z. */
    public static final long MAX_TIME_MILLIS =
            Instant.parse("9999-12-31T23:59:59.999Z").toEpochMilli();

    /**
     * The most class probabilities a prediction carries (about 0.5 MB encoded, well under a
     * record's limit).
     */
    public static final int MAX_CLASSES = 65_536;

    /**
     * The most bytes a prediction may take encoded: half the smallest record limit a sink is
     * allowed.
     */
    public static final int MAX_PREDICTION_BYTES = 512 * 1024;

    /** The longest label or other free text. */
    public static final int MAX_TEXT_CHARS = 1_024;

    private StorableValues() {}

    /**
     * Why {@code text} cannot be stored, or null: U+0000, an unpaired surrogate, or over the length
     * limit.
     */
    public static String textProblem(String text) {
        if (text == null) {
            return null;
        }
        if (text.length() > MAX_TEXT_CHARS) {
            return "is longer than " + MAX_TEXT_CHARS + " characters";
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0) {
                return "contains U+0000";
            }
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                    continue;
                }
                return "holds an unpaired surrogate";
            }
            if (Character.isLowSurrogate(c)) {
                return "holds an unpaired surrogate";
            }
        }
        return null;
    }

    public static boolean isStorableTime(long epochMillis) {
        return epochMillis >= MIN_TIME_MILLIS && epochMillis <= MAX_TIME_MILLIS;
    }

    /** Why {@code p} cannot be stored, or null when every sink can keep it. */
    public static String problem(Prediction p) {
        String id = Identifiers.problem("eventId", p.getEventId());
        if (id == null) {
            id = Identifiers.problem("entityId", p.getEntityId());
        }
        if (id != null) {
            return id;
        }
        String text =
                firstTextProblem(
                        List.of("modelName", "modelVersion"),
                        p.getModelName(),
                        p.getModelVersion());
        if (text != null) {
            return text;
        }
        if (textProblem(p.getPredictedLabel()) != null) {
            return "predictedLabel " + textProblem(p.getPredictedLabel());
        }
        if (!isStorableTime(p.getEventTime()) || !isStorableTime(p.getInferenceTime())) {
            return "a time is outside 0001-01-01..9999-12-31 (eventTime "
                    + p.getEventTime()
                    + ", inferenceTime "
                    + p.getInferenceTime()
                    + ")";
        }
        if (!Double.isFinite(p.getScore())) {
            return "score is " + p.getScore();
        }
        if (p.getProbabilities().size() > MAX_CLASSES) {
            return p.getProbabilities().size()
                    + " class probabilities, over the limit of "
                    + MAX_CLASSES;
        }
        for (Double v : p.getProbabilities()) {
            if (v == null || !Double.isFinite(v)) {
                return "a class probability is " + v;
            }
        }
        if (p.getTopClasses().size() > MAX_CLASSES) {
            return p.getTopClasses().size() + " top classes, over the limit of " + MAX_CLASSES;
        }
        long size =
                256L
                        + 9L * p.getProbabilities().size()
                        + 4L * (p.getPredictedLabel() == null ? 0 : p.getPredictedLabel().length());
        for (ClassScore c : p.getTopClasses()) {
            if (!Double.isFinite(c.getProbability()) || textProblem(c.getLabel()) != null) {
                return "top class " + c.getClassIndex() + " cannot be stored";
            }
            size += 16L + 4L * (c.getLabel() == null ? 0 : c.getLabel().length());
        }
        if (size > MAX_PREDICTION_BYTES) {
            return "it would take about "
                    + size
                    + " bytes encoded, over the limit of "
                    + MAX_PREDICTION_BYTES;
        }
        return null;
    }

    private static String firstTextProblem(List<String> names, String... values) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] == null || values[i].isEmpty()) {
                return names.get(i) + " is missing";
            }
            String problem = textProblem(values[i]);
            if (problem != null) {
                return names.get(i) + " " + problem;
            }
        }
        return null;
    }
}
