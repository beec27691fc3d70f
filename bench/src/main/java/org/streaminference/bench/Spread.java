package org.streaminference.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The minimum, median and maximum of a figure measured in repeated rounds of one run: what the
 * benchmarks report on a shared, noisy machine instead of a single or a best value.
 */
record Spread(double min, double median, double max, int n) {

    static Spread of(List<Double> values) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("no values");
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        double median =
                n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
        return new Spread(sorted.get(0), median, sorted.get(n - 1), n);
    }

    /** Ratios {@code a[i] / b[i]} of values measured in the same round. */
    static Spread ofRatios(List<Double> a, List<Double> b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("rounds differ: " + a.size() + " and " + b.size());
        }
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            ratios.add(a.get(i) / b.get(i));
        }
        return of(ratios);
    }

    /** E.g. {@code 1,234 / 1,300 / 1,420} with {@code pattern} {@code %,.0f}. */
    String format(String pattern) {
        return String.format(
                Locale.ROOT, pattern + " / " + pattern + " / " + pattern, min, median, max);
    }
}
