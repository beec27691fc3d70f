package org.streaminference.operators.drift;

import org.streaminference.model.drift.Distribution;
import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.schemas.DriftSketch;
import org.streaminference.schemas.FeatureDrift;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.Prediction;

import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drift as the job computes it: sketches from two subtasks ({@link DriftTracker}), merged over the
 * sliding window by the {@link DriftMonitor} and compared with a baseline computed from training
 * rows of the same generator.
 */
class DriftMonitorTest {
    /** 100 events per second of event time: a slice holds 100 events, the window 1,000. */
    private static final long STEP_MILLIS = 10;

    private static final int EVENTS = 20_000;
    private static final int SHIFT_AT = EVENTS / 2;
    private static final DriftConfig CONFIG =
            DriftConfig.builder()
                    .slice(Duration.ofSeconds(1))
                    .window(Duration.ofSeconds(10))
                    .minEvents(500)
                    .psiThreshold(0.2)
                    .build();

    @Test
    void aShiftOfOneFeatureIsReportedForThatFeatureOnlyWithinAWindow() throws Exception {
        Run run = run(new Random(11), true);
        assertThat(run.events).as("one DRIFT event").hasSize(1);
        ModelEvent event = run.events.get(0);
        assertThat(event.getType()).isEqualTo(ModelEventType.DRIFT);
        assertThat(event.getModel()).isEqualTo("fraud");
        assertThat(event.getVersion()).isEqualTo("3");
        assertThat(event.getDrift())
                .extracting(FeatureDrift::getFeature)
                .containsExactly("balance");
        assertThat(event.getDrift().get(0).getPsi()).isGreaterThan(0.2);
        assertThat(event.getDrift().get(0).getKs()).isNotNull();
        assertThat(event.getMessage()).contains("fraud:3 drifts").contains("balance (PSI");
        int delay = run.firstDriftAt - SHIFT_AT;
        assertThat(delay)
                .as("events after the shift until it is reported")
                .isPositive()
                .isLessThanOrEqualTo(1_000);
        System.out.printf(
                "DRIFT detection: %d events (%.1f s of event time) after the shift of 'balance' by one"
                        + " standard deviation; window 1000 events, slice 100; PSI at detection %.3f;"
                        + " largest PSI of the other values over the run %.3f%n",
                delay,
                delay * STEP_MILLIS / 1000.0,
                event.getDrift().get(0).getPsi(),
                run.largestOtherPsi);
        assertThat(run.largestOtherPsi).as("the features that did not move").isLessThan(0.1);
    }

    @Test
    void aStationaryStreamRaisesNothing() throws Exception {
        Run run = run(new Random(12), false);
        assertThat(run.events).isEmpty();
        System.out.printf(
                "DRIFT stationary: %d events, largest PSI of any value in any window %.3f%n",
                EVENTS, run.largestOtherPsi);
        assertThat(run.largestOtherPsi).isLessThan(0.1);
    }

    @Test
    void aDriftThatEndsClearsAndASecondOneIsReportedAgain() throws Exception {
        DriftBaseline baseline = baseline(new Random(1));
        DriftTracker tracker =
                new DriftTracker("fraud", "3", baseline, new int[] {0, 1, 2}, CONFIG);
        List<ModelEvent> events = new ArrayList<>();
        try (OneInputStreamOperatorTestHarness<DriftSketch, ModelEvent> monitor = monitor()) {
            Random random = new Random(2);
            long time = 0;
            for (int phase = 0;
                    phase < 4;
                    phase++) { // stable, shifted, stable again, shifted again
                for (int i = 0; i < 3_000; i++, time += STEP_MILLIS) {
                    double[] row = row(random, phase % 2 == 1 ? 1 : 0);
                    tracker.add(floats(row), prediction(row), time);
                    if ((time + STEP_MILLIS) % 1_000 == 0) {
                        feed(monitor, tracker.drain(0));
                    }
                }
            }
            events.addAll(monitor.extractOutputValues());
        }
        assertThat(events).as("drift, clear, drift again").hasSize(2);
    }

    private record Run(List<ModelEvent> events, int firstDriftAt, double largestOtherPsi) {}

    private static Run run(Random random, boolean shift) throws Exception {
        DriftBaseline baseline = baseline(new Random(1));
        // two subtasks, each serving every other record
        DriftTracker[] subtasks = {
            new DriftTracker("fraud", "3", baseline, new int[] {0, 1, 2}, CONFIG),
            new DriftTracker("fraud", "3", baseline, new int[] {0, 1, 2}, CONFIG)
        };
        int firstDriftAt = -1;
        double largestOther = 0;
        List<ModelEvent> events = new ArrayList<>();
        try (OneInputStreamOperatorTestHarness<DriftSketch, ModelEvent> monitor = monitor()) {
            for (int i = 0; i < EVENTS; i++) {
                long time = i * STEP_MILLIS;
                double[] row = row(random, shift && i >= SHIFT_AT ? 1 : 0);
                subtasks[i % 2].add(floats(row), prediction(row), time);
                if ((time + STEP_MILLIS) % 1_000 == 0) { // a slice is complete: both report
                    feed(monitor, subtasks[0].drain(0));
                    feed(monitor, subtasks[1].drain(1));
                    List<ModelEvent> out = monitor.extractOutputValues();
                    if (out.size() > events.size() && firstDriftAt < 0) {
                        firstDriftAt = i + 1;
                    }
                    events.clear();
                    events.addAll(out);
                    largestOther =
                            Math.max(
                                    largestOther,
                                    largestPsiExcept(monitor, shift ? "balance" : null));
                }
            }
        }
        return new Run(events, firstDriftAt, largestOther);
    }

    /**
     * One record: {@code amount} ~ N(50, 10), {@code balance} ~ N(1000, 200) moved by {@code
     * shiftSd} standard deviations, {@code age} uniform 18..80 in whole years; the model's score
     * depends on amount only.
     */
    private static double[] row(Random random, double shiftSd) {
        return new double[] {
            50 + 10 * random.nextGaussian(),
            1000 + 200 * (random.nextGaussian() + shiftSd),
            18 + random.nextInt(63)
        };
    }

    private static Prediction prediction(double[] row) {
        double score = 1 / (1 + Math.exp(-(row[0] - 50) / 10));
        return Prediction.newBuilder()
                .setEventId("e")
                .setEntityId("u")
                .setModelName("fraud")
                .setModelVersion("3")
                .setScore(score)
                .setEventTime(0)
                .setInferenceTime(0)
                .build();
    }

    /** The baseline of 20,000 training rows of the generator. */
    private static DriftBaseline baseline(Random random) {
        int n = 20_000;
        double[][] columns = new double[4][n];
        for (int i = 0; i < n; i++) {
            double[] row = row(random, 0);
            for (int c = 0; c < 3; c++) {
                columns[c][i] = row[c];
            }
            columns[3][i] = prediction(row).getScore();
        }
        Map<String, Distribution> features = new LinkedHashMap<>();
        features.put("amount", Distribution.of(columns[0], 10));
        features.put("balance", Distribution.of(columns[1], 10));
        features.put("age", Distribution.of(columns[2], 10));
        return new DriftBaseline(
                n, features, new DriftBaseline.Predictions(Distribution.of(columns[3], 10), null));
    }

    private static OneInputStreamOperatorTestHarness<DriftSketch, ModelEvent> monitor()
            throws Exception {
        return ProcessFunctionTestHarnesses.forProcessFunction(new DriftMonitor(CONFIG));
    }

    private static double largestPsiExcept(
            OneInputStreamOperatorTestHarness<DriftSketch, ModelEvent> harness, String except) {
        DriftMonitor monitor =
                (DriftMonitor) ((ProcessOperator<?, ?>) harness.getOperator()).getUserFunction();
        double largest = 0;
        for (Map.Entry<String, Double> psi : monitor.psi("fraud", "3").entrySet()) {
            if (!psi.getKey().equals(except) && !psi.getValue().isNaN()) {
                largest = Math.max(largest, psi.getValue());
            }
        }
        return largest;
    }

    private static void feed(
            OneInputStreamOperatorTestHarness<DriftSketch, ModelEvent> monitor,
            List<DriftSketch> sketches)
            throws Exception {
        for (DriftSketch sketch : sketches) {
            monitor.processElement(sketch, 0);
        }
    }

    private static List<Double> floats(double[] row) {
        List<Double> out = new ArrayList<>();
        for (double v : row) {
            out.add((double) (float) v); // float32 values, as the tracker saw them before features
            // were doubles
        }
        return out;
    }
}
