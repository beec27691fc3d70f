package org.streaminference.operators.drift;

import org.streaminference.model.drift.Distribution;
import org.streaminference.model.drift.DriftBaseline;
import org.streaminference.schemas.DriftSketch;
import org.streaminference.schemas.FeatureDrift;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;

import com.tdunning.math.stats.MergingDigest;
import com.tdunning.math.stats.TDigest;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Merges the inference subtasks' {@link DriftSketch}es per model version over a sliding window of
 * event time and compares them with the version's training baseline: the population stability index
 * (and, for continuous values, the Kolmogorov-Smirnov distance) of each feature and of the
 * predictions, as gauges labelled by model, version and feature. A value whose index goes above the
 * threshold is drifting; each time values start to drift, a {@code DRIFT} model event names the
 * most drifting ones. Runs with parallelism 1: it sees every subtask's sketches.
 *
 * <p>The window is not in checkpoints: after a restore it fills again from the sketches sent from
 * then on.
 */
@Internal
public final class DriftMonitor extends ProcessFunction<DriftSketch, ModelEvent> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(DriftMonitor.class);

    /** The name the predictions go by among the features. */
    public static final String PREDICTION = "prediction";

    /** Drifting values a DRIFT event names. */
    static final int TOP = 10;

    /** A drifting value stops drifting below this share of the threshold. */
    static final double CLEAR_RATIO = 0.8;

    private final DriftConfig config;
    private transient Map<String, VersionWindow> versions;
    private transient Counter sketchesWithoutBaseline;

    public DriftMonitor(DriftConfig config) {
        this.config = config;
    }

    @Override
    public void open(OpenContext openContext) {
        versions = new HashMap<>();
        sketchesWithoutBaseline =
                getRuntimeContext().getMetricGroup().counter("driftSketchesWithoutBaseline");
    }

    @Override
    public void processElement(DriftSketch sketch, Context ctx, Collector<ModelEvent> out) {
        String key = sketch.getModel() + ":" + sketch.getVersion();
        VersionWindow window = versions.get(key);
        if (window == null) {
            if (sketch.getBaseline() == null) {
                sketchesWithoutBaseline
                        .inc(); // the monitor restarted after the subtask sent it: waits for the
                // next
                return;
            }
            DriftBaseline baseline;
            try {
                baseline =
                        DriftBaseline.parse(
                                sketch.getBaseline().toString().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                LOG.error(
                        "The baseline of {} was checked when the version loaded and cannot be read now",
                        key,
                        e);
                return;
            }
            window =
                    new VersionWindow(
                            sketch.getModel().toString(),
                            sketch.getVersion().toString(),
                            baseline,
                            getRuntimeContext().getMetricGroup());
            versions.put(key, window);
        }
        window.add(sketch);
        List<FeatureDrift> started = window.evaluate();
        if (!started.isEmpty()) {
            ModelEvent event =
                    ModelEvent.newBuilder()
                            .setType(ModelEventType.DRIFT)
                            .setJob(getRuntimeContext().getJobInfo().getJobName())
                            .setJobId(getRuntimeContext().getJobInfo().getJobId().toHexString())
                            .setSubtask(getRuntimeContext().getTaskInfo().getIndexOfThisSubtask())
                            .setModel(window.model)
                            .setVersion(window.version)
                            .setReason("DRIFT")
                            .setMessage(window.describe(started))
                            .setDrift(window.drifting())
                            .setTime(System.currentTimeMillis())
                            .build();
            LOG.warn("{}", event.getMessage());
            out.collect(event);
        }
    }

    /**
     * The population stability index last computed for each value of {@code model:version} (the
     * prediction as {@value #PREDICTION}), as the {@code driftPsi} gauges read it; empty for a
     * version not seen.
     */
    Map<String, Double> psi(String model, String version) {
        VersionWindow window = versions.get(model + ":" + version);
        Map<String, Double> out = new LinkedHashMap<>();
        if (window != null) {
            for (int i = 0; i < window.psi.length; i++) {
                out.put(window.name(i), window.psi[i]);
            }
        }
        return out;
    }

    /** The sketches of one version over the window, and what was last computed from them. */
    private final class VersionWindow {
        final String model;
        final String version;
        final DriftBaseline baseline;
        final List<String> names;
        final List<Distribution> distributions;
        final TreeMap<Long, MergedSlice> slices = new TreeMap<>();

        /**
         * Per feature, then the prediction last: the latest index, distance and whether it drifts.
         */
        final double[] psi;

        final double[] ks;
        final boolean[] drifting;
        long windowEvents;

        VersionWindow(String model, String version, DriftBaseline baseline, MetricGroup metrics) {
            this.model = model;
            this.version = version;
            this.baseline = baseline;
            this.names = new ArrayList<>(baseline.features().keySet());
            this.distributions = new ArrayList<>(baseline.features().values());
            int values = names.size() + 1;
            psi = new double[values];
            ks = new double[values];
            drifting = new boolean[values];
            Arrays.fill(psi, Double.NaN);
            Arrays.fill(ks, Double.NaN);
            MetricGroup group = metrics.addGroup("model", model).addGroup("version", version);
            group.gauge("driftWindowEvents", (Gauge<Long>) () -> windowEvents);
            for (int i = 0; i < values; i++) {
                int at = i;
                if (i == names.size() && baseline.prediction() == null) {
                    break;
                }
                MetricGroup feature =
                        group.addGroup("feature", i == names.size() ? PREDICTION : names.get(i));
                feature.gauge("driftPsi", (Gauge<Double>) () -> psi[at]);
                feature.gauge("driftKs", (Gauge<Double>) () -> ks[at]);
                feature.gauge("drifting", (Gauge<Integer>) () -> drifting[at] ? 1 : 0);
            }
        }

        void add(DriftSketch sketch) {
            if (sketch.getFeatures().size() != names.size()) {
                LOG.error(
                        "A sketch of {}:{} has {} features where its baseline has {}",
                        model,
                        version,
                        sketch.getFeatures().size(),
                        names.size());
                return;
            }
            MergedSlice slice =
                    slices.computeIfAbsent(sketch.getSliceStart(), s -> new MergedSlice());
            slice.add(sketch);
            long newest = slices.lastKey();
            slices.headMap(newest - config.windowMillis() + config.sliceMillis(), false).clear();
        }

        /** Recomputes every value over the window; returns the values that started to drift now. */
        List<FeatureDrift> evaluate() {
            windowEvents = slices.values().stream().mapToLong(s -> s.count).sum();
            if (windowEvents < config.minEvents()) {
                return List.of();
            }
            List<FeatureDrift> started = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                List<TDigest> parts = new ArrayList<>(slices.size());
                for (MergedSlice slice : slices.values()) {
                    parts.add(slice.features[i]);
                }
                TDigest merged = merge(parts);
                update(
                        i,
                        distributions.get(i).psi(merged),
                        distributions.get(i).ks(merged),
                        started);
            }
            DriftBaseline.Predictions p = baseline.prediction();
            if (p != null && p.score() != null) {
                List<TDigest> parts = new ArrayList<>();
                slices.values().forEach(s -> parts.add(s.score));
                TDigest merged = merge(parts);
                update(names.size(), p.score().psi(merged), p.score().ks(merged), started);
            } else if (p != null) {
                Map<String, Long> counts = new HashMap<>();
                slices.values()
                        .forEach(s -> s.classes.forEach((c, n) -> counts.merge(c, n, Long::sum)));
                update(names.size(), p.classPsi(counts), Double.NaN, started);
            }
            return started;
        }

        private void update(int i, double psiValue, double ksValue, List<FeatureDrift> started) {
            psi[i] = psiValue;
            ks[i] = ksValue;
            if (!drifting[i] && psiValue > config.psiThreshold()) {
                drifting[i] = true;
                started.add(drift(i));
            } else if (drifting[i] && psiValue < CLEAR_RATIO * config.psiThreshold()) {
                drifting[i] = false;
                LOG.info("{}:{}: {} no longer drifts (PSI {})", model, version, name(i), psiValue);
            }
        }

        /** Every drifting value, most drifting first, at most {@link #TOP}. */
        List<FeatureDrift> drifting() {
            List<FeatureDrift> all = new ArrayList<>();
            for (int i = 0; i < drifting.length; i++) {
                if (drifting[i]) {
                    all.add(drift(i));
                }
            }
            all.sort(Comparator.comparingDouble(FeatureDrift::getPsi).reversed());
            return all.size() > TOP ? new ArrayList<>(all.subList(0, TOP)) : all;
        }

        String describe(List<FeatureDrift> started) {
            StringBuilder text =
                    new StringBuilder(
                            model
                                    + ":"
                                    + version
                                    + " drifts from its training baseline over "
                                    + windowEvents
                                    + " events:");
            for (FeatureDrift d : drifting()) {
                text.append(' ')
                        .append(d.getFeature())
                        .append(" (PSI ")
                        .append(String.format("%.3f", d.getPsi()));
                if (d.getKs() != null) {
                    text.append(", KS ").append(String.format("%.3f", d.getKs()));
                }
                text.append(
                        started.stream().anyMatch(s -> s.getFeature().equals(d.getFeature()))
                                ? ", new)"
                                : ")");
            }
            return text.toString();
        }

        private FeatureDrift drift(int i) {
            return new FeatureDrift(name(i), psi[i], Double.isNaN(ks[i]) ? null : ks[i]);
        }

        private String name(int i) {
            return i == names.size() ? PREDICTION : names.get(i);
        }

        private final class MergedSlice {
            final TDigest[] features = new TDigest[names.size()];
            TDigest score;
            final Map<String, Long> classes = new HashMap<>();
            long count;

            void add(DriftSketch sketch) {
                for (int i = 0; i < features.length; i++) {
                    features[i] = mergeInto(features[i], sketch.getFeatures().get(i));
                }
                if (sketch.getScore() != null) {
                    score = mergeInto(score, sketch.getScore());
                }
                sketch.getClasses().forEach((c, n) -> classes.merge(c.toString(), n, Long::sum));
                count += sketch.getCount();
            }
        }
    }

    private static TDigest mergeInto(TDigest into, ByteBuffer bytes) {
        MergingDigest part = DriftTracker.digest(bytes);
        if (into == null) {
            return part;
        }
        into.add(part);
        return into;
    }

    private static TDigest merge(List<TDigest> parts) {
        MergingDigest merged = new MergingDigest(DriftTracker.COMPRESSION);
        List<TDigest> present = parts.stream().filter(Objects::nonNull).toList();
        if (!present.isEmpty()) {
            merged.add(present);
        }
        return merged;
    }
}
