package org.streaminference.model.drift;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.tdunning.math.stats.TDigest;
import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * How one value (a feature, or a model's score) was distributed in the training data: the shares of
 * its values in bins between {@code edges}, for the population stability index, and its quantiles
 * at evenly spaced levels, for the Kolmogorov-Smirnov distance. Edges lie between distinct training
 * values, never on one, so that the served values' sketch answers "what share is below the edge"
 * without counting half of a repeated value.
 *
 * @param edges the inner bin edges, strictly ascending; bin i holds values below {@code edges[i]}
 *     and not below {@code edges[i-1]}
 * @param fractions the training share of each bin, one more than the edges, summing to 1
 * @param quantiles the training values at levels 0, 1/(n-1), …, 1; empty for a value with few
 *     distinct values, where the KS distance does not fit
 */
@PublicEvolving
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Distribution(double[] edges, double[] fractions, double[] quantiles)
        implements Serializable {
    /**
     * Shares below this count as this much: a bin the training data never filled would make the
     * index infinite.
     */
    static final double FLOOR = 1e-4;

    /** A value with at most this many distinct training values gets one bin per value. */
    static final int MAX_DISCRETE_VALUES = 10;

    /** Quantile levels kept for the KS distance. */
    static final int QUANTILE_LEVELS = 21;

    static final int MAX_BINS = 100;

    @JsonCreator
    public Distribution(
            @JsonProperty("edges") double[] edges,
            @JsonProperty("fractions") double[] fractions,
            @JsonProperty("quantiles") double[] quantiles) {
        this.edges = edges == null ? new double[0] : edges.clone();
        this.fractions = fractions == null ? new double[0] : fractions.clone();
        this.quantiles = quantiles == null ? new double[0] : quantiles.clone();
        if (this.fractions.length != this.edges.length + 1 || this.fractions.length > MAX_BINS) {
            throw new IllegalArgumentException(
                    "'fractions' must have one value more than 'edges' ("
                            + this.edges.length
                            + "), and at most "
                            + MAX_BINS);
        }
        for (int i = 0; i < this.edges.length; i++) {
            if (!Double.isFinite(this.edges[i]) || (i > 0 && this.edges[i] <= this.edges[i - 1])) {
                throw new IllegalArgumentException("'edges' must be finite and strictly ascending");
            }
        }
        double sum = 0;
        for (double f : this.fractions) {
            if (!(f >= 0 && f <= 1)) {
                throw new IllegalArgumentException("each of 'fractions' must be between 0 and 1");
            }
            sum += f;
        }
        if (Math.abs(sum - 1) > 1e-3) {
            throw new IllegalArgumentException("'fractions' must sum to 1, not " + sum);
        }
        if (this.quantiles.length == 1 || this.quantiles.length > 1001) {
            throw new IllegalArgumentException(
                    "'quantiles' must be empty or hold 2 to 1001 values");
        }
        for (int i = 0; i < this.quantiles.length; i++) {
            if (!Double.isFinite(this.quantiles[i])
                    || (i > 0 && this.quantiles[i] < this.quantiles[i - 1])) {
                throw new IllegalArgumentException("'quantiles' must be finite and ascending");
            }
        }
    }

    /**
     * The distribution of {@code values} in about {@code bins} bins of equal share (one per value
     * where there are few distinct values). Non-finite values are left out.
     */
    public static Distribution of(double[] values, int bins) {
        if (bins < 2 || bins > MAX_BINS) {
            throw new IllegalArgumentException("bins must be between 2 and " + MAX_BINS);
        }
        double[] sorted = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
        int n = sorted.length;
        if (n == 0) {
            throw new IllegalArgumentException("no finite values");
        }
        double[] distinct = Arrays.stream(sorted).distinct().toArray();
        double[] edges;
        boolean discrete = distinct.length <= MAX_DISCRETE_VALUES;
        if (discrete) {
            edges = new double[distinct.length - 1];
            for (int i = 0; i < edges.length; i++) {
                edges[i] = midpoint(distinct[i], distinct[i + 1]);
            }
        } else {
            edges =
                    Arrays.stream(
                                    IntStream.range(1, bins)
                                            .mapToDouble(
                                                    j -> {
                                                        int at = (int) ((long) j * n / bins);
                                                        while (at < n
                                                                && sorted[at] == sorted[at - 1]) {
                                                            at++; // never on a repeated value: to
                                                            // the next distinct one
                                                        }
                                                        return at >= n
                                                                ? Double.NaN
                                                                : midpoint(
                                                                        sorted[at - 1], sorted[at]);
                                                    })
                                            .toArray())
                            .filter(Double::isFinite)
                            .distinct()
                            .toArray();
        }
        double[] fractions = new double[edges.length + 1];
        int below = 0;
        for (int i = 0; i < edges.length; i++) {
            int upTo = countBelow(sorted, edges[i]);
            fractions[i] = (double) (upTo - below) / n;
            below = upTo;
        }
        fractions[edges.length] = (double) (n - below) / n;
        double[] quantiles = new double[0];
        if (!discrete) {
            quantiles = new double[QUANTILE_LEVELS];
            for (int j = 0; j < QUANTILE_LEVELS; j++) {
                quantiles[j] =
                        sorted[(int) Math.round((double) j * (n - 1) / (QUANTILE_LEVELS - 1))];
            }
        }
        return new Distribution(edges, fractions, quantiles);
    }

    /**
     * The population stability index of the values {@code served} summarises against this training
     * distribution: sum over bins of (served share − training share) · ln(served share / training
     * share). Below 0.1 is usually read as no shift, above 0.25 as a large one.
     */
    public double psi(TDigest served) {
        if (served.size() == 0) {
            return Double.NaN;
        }
        double psi = 0;
        double previous = 0;
        for (int i = 0; i <= edges.length; i++) {
            double cdf =
                    i == edges.length ? 1 : Math.min(1, Math.max(previous, served.cdf(edges[i])));
            psi += term(cdf - previous, fractions[i]);
            previous = cdf;
        }
        return psi;
    }

    /**
     * The largest gap between the served and the training distribution functions, at the training
     * quantiles; NaN where there are none.
     */
    public double ks(TDigest served) {
        if (quantiles.length == 0 || served.size() == 0) {
            return Double.NaN;
        }
        double ks = 0;
        for (int j = 0; j < quantiles.length; j++) {
            double level = (double) j / (quantiles.length - 1);
            ks = Math.max(ks, Math.abs(served.cdf(quantiles[j]) - level));
        }
        return ks;
    }

    /** One bin's share of the population stability index. */
    static double term(double served, double expected) {
        double a = Math.max(served, FLOOR);
        double e = Math.max(expected, FLOOR);
        return (a - e) * Math.log(a / e);
    }

    private static double midpoint(double a, double b) {
        double m = a + (b - a) / 2;
        return m > a && m < b ? m : b;
    }

    private static int countBelow(double[] sorted, double x) {
        int i = Arrays.binarySearch(sorted, x);
        if (i < 0) {
            return -i - 1;
        }
        while (i > 0 && sorted[i - 1] == x) {
            i--;
        }
        return i;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Distribution d
                && Arrays.equals(edges, d.edges)
                && Arrays.equals(fractions, d.fractions)
                && Arrays.equals(quantiles, d.quantiles);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(edges) * 31 + Arrays.hashCode(fractions);
    }
}
