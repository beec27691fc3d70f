package org.streaminference.operators.inference.outputs;

import org.streaminference.operators.drift.DriftConfig;
import org.streaminference.operators.drift.DriftTracker;
import org.streaminference.operators.inference.answers.InferenceRequest;
import org.streaminference.operators.inference.control.ModelProvider;
import org.streaminference.operators.inference.control.ServedVersion;
import org.streaminference.schemas.DriftSketch;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.operators.Output;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;

import java.util.HashMap;
import java.util.Map;

/**
 * The inference operator's side of drift monitoring: a {@link DriftTracker} for each served version
 * with a training baseline, fed with every answer of that version, whose sketches go to the drift
 * monitor on the operator's timer, when events far apart in time close a slice, and at the end of
 * input. Task thread only.
 */
@Internal
public final class DriftReporter {
    private final DriftConfig config;
    private final Output<StreamRecord<Prediction>> output;
    private final int subtask;

    /** By version ("model:version"): one tracker for every load of the same version. */
    private final Map<String, DriftTracker> trackers = new HashMap<>();

    public DriftReporter(DriftConfig config, Output<StreamRecord<Prediction>> output, int subtask) {
        this.config = config;
        this.output = output;
        this.subtask = subtask;
    }

    /** Where monitoring is on, reports on {@code time}'s timer every interval from now on. */
    public void start(ProcessingTimeService time) {
        if (config.enabled()) {
            time.registerTimer(
                    time.getCurrentProcessingTime() + config.reportIntervalMillis(),
                    timestamp -> {
                        report();
                        start(time);
                    });
        }
    }

    /**
     * Watches a version that has a baseline, where monitoring is on; leaves the others unwatched.
     */
    public void watch(ServedVersion version, ModelProvider.Handle handle) {
        int[] baselineIndices = handle.baselineIndices();
        if (config.enabled() && baselineIndices != null) {
            String name = version.manifest().name();
            version.drift =
                    trackers.computeIfAbsent(
                            name + ":" + version.version,
                            v ->
                                    new DriftTracker(
                                            name,
                                            version.version,
                                            handle.model().baseline(),
                                            baselineIndices,
                                            config));
        }
    }

    /** Adds an answer of a watched version. */
    void track(InferenceRequest request, Prediction prediction) {
        ServedVersion version = request.version;
        if (version.drift != null
                && version.drift.add(
                        request.event.getFeatures(),
                        prediction,
                        request.event.getEvent().getEventTime())) {
            report(); // events far apart in time: the open slices go out early
        }
    }

    /** Sends the sketches of every watched version to the monitor, and starts new ones. */
    public void report() {
        for (DriftTracker tracker : trackers.values()) {
            for (DriftSketch sketch : tracker.drain(subtask)) {
                output.collect(InferenceSideOutputs.DRIFT_SKETCHES, new StreamRecord<>(sketch));
            }
        }
    }
}
