package org.streaminference.model.drift;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import org.apache.flink.annotation.PublicEvolving;

import java.io.IOException;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a model version's training data looked like: the {@link Distribution} of each input feature
 * it names (by the feature spec's value names) and of the predictions on it, a score's distribution
 * or the classes' shares. The job compares what it serves with it ({@code baseline.json}, attached
 * with {@code models publish --baseline} and covered by the signed manifest's checksums; {@code
 * models baseline} computes it from training rows).
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class DriftBaseline implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final int FORMAT = 1;

    /** Features a baseline may name: each costs a sketch per served version and window slice. */
    public static final int MAX_FEATURES = 1024;

    public static final int MAX_CLASSES = 1000;
    private static final ObjectMapper JSON =
            new ObjectMapper()
                    .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                    .enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * The predictions' baseline: a score's distribution, or each class's share (by label, or class
     * index).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Predictions(Distribution score, Map<String, Double> classes)
            implements Serializable {
        @JsonCreator
        public Predictions(
                @JsonProperty("score") Distribution score,
                @JsonProperty("classes") Map<String, Double> classes) {
            if ((score == null) == (classes == null)) {
                throw new IllegalArgumentException(
                        "'prediction' needs exactly one of 'score' and 'classes'");
            }
            if (classes != null) {
                if (classes.isEmpty() || classes.size() > MAX_CLASSES) {
                    throw new IllegalArgumentException(
                            "'classes' must name 1 to " + MAX_CLASSES + " classes");
                }
                double sum = 0;
                for (double share : classes.values()) {
                    if (!(share >= 0 && share <= 1)) {
                        throw new IllegalArgumentException(
                                "each class share must be between 0 and 1");
                    }
                    sum += share;
                }
                if (Math.abs(sum - 1) > 1e-3) {
                    throw new IllegalArgumentException(
                            "the class shares must sum to 1, not " + sum);
                }
            }
            this.score = score;
            this.classes =
                    classes == null
                            ? null
                            : Collections.unmodifiableMap(new LinkedHashMap<>(classes));
        }

        /**
         * The population stability index of the served classes' counts against the training shares.
         */
        public double classPsi(Map<String, Long> served) {
            long total = served.values().stream().mapToLong(Long::longValue).sum();
            if (total == 0) {
                return Double.NaN;
            }
            double psi = 0;
            long known = 0;
            for (Map.Entry<String, Double> c : classes.entrySet()) {
                long count = served.getOrDefault(c.getKey(), 0L);
                known += count;
                psi += Distribution.term((double) count / total, c.getValue());
            }
            // classes the training data never had
            return psi
                    + (known < total ? Distribution.term((double) (total - known) / total, 0) : 0);
        }
    }

    private final int format;
    private final long rows;
    private final Map<String, Distribution> features;
    private final Predictions prediction;

    @JsonCreator
    public DriftBaseline(
            @JsonProperty("format") Integer format,
            @JsonProperty("rows") long rows,
            @JsonProperty("features") Map<String, Distribution> features,
            @JsonProperty("prediction") Predictions prediction) {
        if (format == null || format != FORMAT) {
            throw new IllegalArgumentException("'format' must be " + FORMAT);
        }
        if (features == null || features.size() > MAX_FEATURES) {
            throw new IllegalArgumentException(
                    "'features' must name at most " + MAX_FEATURES + " features");
        }
        features.forEach(
                (name, d) -> {
                    if (name.isBlank() || name.length() > 256 || d == null) {
                        throw new IllegalArgumentException(
                                "each feature needs a name of 1 to 256 characters and a distribution");
                    }
                });
        if (features.isEmpty() && prediction == null) {
            throw new IllegalArgumentException("a baseline names features, a prediction, or both");
        }
        this.format = format;
        this.rows = rows;
        this.features = Collections.unmodifiableMap(new LinkedHashMap<>(features));
        this.prediction = prediction;
    }

    public DriftBaseline(long rows, Map<String, Distribution> features, Predictions prediction) {
        this(FORMAT, rows, features, prediction);
    }

    /** Reads a baseline; throws naming what is wrong with it. */
    public static DriftBaseline parse(byte[] json) throws IOException {
        try {
            return JSON.readValue(json, DriftBaseline.class);
        } catch (ValueInstantiationException e) {
            throw new IOException(
                    e.getCause() != null ? e.getCause().getMessage() : e.getOriginalMessage(), e);
        } catch (JsonProcessingException e) {
            throw new IOException(e.getOriginalMessage(), e);
        }
    }

    public byte[] toJson() {
        try {
            return JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @JsonProperty("format")
    public int format() {
        return format;
    }

    /** Training rows the baseline was computed from. */
    @JsonProperty("rows")
    public long rows() {
        return rows;
    }

    /** Each feature's training distribution, by the feature spec's value name. */
    @JsonProperty("features")
    public Map<String, Distribution> features() {
        return features;
    }

    /** The predictions' training distribution, or null. */
    @JsonProperty("prediction")
    public Predictions prediction() {
        return prediction;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DriftBaseline b
                && rows == b.rows
                && features.equals(b.features)
                && Objects.equals(prediction, b.prediction);
    }

    @Override
    public int hashCode() {
        return Objects.hash(rows, features, prediction);
    }
}
