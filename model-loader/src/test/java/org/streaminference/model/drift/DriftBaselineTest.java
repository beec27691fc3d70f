package org.streaminference.model.drift;

import com.tdunning.math.stats.MergingDigest;
import com.tdunning.math.stats.TDigest;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class DriftBaselineTest {

    @Test
    void equalShareBinsOfAContinuousValue() {
        double[] values = normal(new Random(1), 10_000, 0, 1);
        Distribution d = Distribution.of(values, 10);
        assertThat(d.edges()).hasSize(9);
        for (double f : d.fractions()) {
            assertThat(f).isCloseTo(0.1, within(0.001));
        }
        assertThat(d.quantiles()).hasSize(21);
        assertThat(d.edges()[4]).isCloseTo(0, within(0.05)); // the median of N(0, 1)
    }

    @Test
    void aValueOfFewDistinctValuesGetsABinEach() {
        double[] values = {0, 0, 0, 1, 1, 2, 0, 1, 0, 0};
        Distribution d = Distribution.of(values, 10);
        assertThat(d.edges()).containsExactly(0.5, 1.5);
        assertThat(d.fractions()).containsExactly(0.6, 0.3, 0.1);
        assertThat(d.quantiles()).as("no KS distance for a discrete value").isEmpty();
    }

    @Test
    void anEdgeNeverLiesOnARepeatedValue() {
        // measurements to one decimal, as iris has them: many values repeat
        Random random = new Random(3);
        double[] values = new double[2_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.round((3 + random.nextGaussian() * 0.4) * 10) / 10.0;
        }
        Distribution d = Distribution.of(values, 10);
        for (double edge : d.edges()) {
            assertThat(Math.abs(edge * 10 - Math.round(edge * 10)))
                    .as("edge %s between two values", edge)
                    .isGreaterThan(0.4);
        }
    }

    @Test
    void theIndexIsSmallForTheSameDistributionAndLargeForAShiftedOne() {
        Random random = new Random(5);
        Distribution training = Distribution.of(normal(random, 20_000, 10, 2), 10);
        TDigest same = digest(normal(random, 2_000, 10, 2));
        TDigest shifted = digest(normal(random, 2_000, 11, 2)); // half a standard deviation
        TDigest wider = digest(normal(random, 2_000, 10, 4));
        assertThat(training.psi(same)).isLessThan(0.03);
        assertThat(training.ks(same)).isLessThan(0.04);
        assertThat(training.psi(shifted)).isGreaterThan(0.2);
        assertThat(training.ks(shifted)).isGreaterThan(0.15);
        assertThat(training.psi(wider)).isGreaterThan(0.3);
        System.out.printf(
                "DRIFT PSI same %.4f, +0.5 sd %.3f, twice as wide %.3f%n",
                training.psi(same), training.psi(shifted), training.psi(wider));
    }

    @Test
    void theIndexOfValuesThatRepeatIsSmallForTheSameDistribution() {
        Random random = new Random(9);
        double[] values = new double[3_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.round((3 + random.nextGaussian() * 0.4) * 10) / 10.0;
        }
        Distribution training = Distribution.of(values, 10);
        double[] served = new double[1_000];
        for (int i = 0; i < served.length; i++) {
            served[i] = values[random.nextInt(values.length)];
        }
        assertThat(training.psi(digest(served))).isLessThan(0.03);
    }

    @Test
    void classSharesAreComparedByLabel() {
        DriftBaseline.Predictions p =
                new DriftBaseline.Predictions(null, Map.of("ok", 0.9, "fraud", 0.1));
        assertThat(p.classPsi(Map.of("ok", 900L, "fraud", 100L))).isCloseTo(0, within(1e-9));
        assertThat(p.classPsi(Map.of("ok", 600L, "fraud", 400L))).isGreaterThan(0.25);
        assertThat(p.classPsi(Map.of("ok", 900L, "fraud", 90L, "unheard-of", 10L)))
                .as("a class the training data never had counts")
                .isGreaterThan(0.04);
    }

    @Test
    void aBaselineReadsBackAsItWasWritten() throws IOException {
        Map<String, Distribution> features = new LinkedHashMap<>();
        features.put("amount", Distribution.of(normal(new Random(2), 1_000, 50, 10), 10));
        features.put("country=DE", Distribution.of(new double[] {0, 1, 0, 0}, 10));
        DriftBaseline baseline =
                new DriftBaseline(
                        1_000,
                        features,
                        new DriftBaseline.Predictions(
                                Distribution.of(normal(new Random(4), 1_000, 0.3, 0.1), 10), null));
        DriftBaseline read = DriftBaseline.parse(baseline.toJson());
        assertThat(read).isEqualTo(baseline);
        assertThat(read.features().keySet()).containsExactly("amount", "country=DE");
    }

    @Test
    void aBadBaselineIsRefusedSayingWhatIsWrong() {
        assertRefused("{\"format\": 2, \"rows\": 1, \"features\": {}}", "'format' must be 1");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {\"a\": {\"edges\": [1, 0],"
                        + " \"fractions\": [0.3, 0.3, 0.4]}}}",
                "strictly ascending");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {\"a\": {\"edges\": [0],"
                        + " \"fractions\": [0.3, 0.3]}}}",
                "must sum to 1");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {\"a\": {\"edges\": [0],"
                        + " \"fractions\": [0.5]}}}",
                "one value more than 'edges'");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {}, \"prediction\": {\"classes\": {\"a\": 1}},"
                        + " \"extra\": 1}",
                "extra");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {}}",
                "names features, a prediction, or both");
        assertRefused(
                "{\"format\": 1, \"rows\": 1, \"features\": {}, \"prediction\": {\"classes\": {\"a\": 0.5}}}",
                "must sum to 1");
        assertRefused("not json", "Unrecognized token");
    }

    private static void assertRefused(String json, String reason) {
        assertThatThrownBy(() -> DriftBaseline.parse(json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(reason);
    }

    static double[] normal(Random random, int n, double mean, double sd) {
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = mean + sd * random.nextGaussian();
        }
        return values;
    }

    static TDigest digest(double[] values) {
        TDigest digest = new MergingDigest(100);
        for (double v : values) {
            digest.add(v);
        }
        return digest;
    }
}
