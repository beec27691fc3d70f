package org.streaminference.operators.inference.batching;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

import java.util.function.IntSupplier;

/**
 * The inference metrics, modelled on Triton's, registered under {@code model=<name>,
 * version=<version>} so that Prometheus gets them as labels. Average batch size = {@code
 * inferenceCount / inferenceExecutions}.
 */
@Internal
public final class InferenceMetrics {
    private static final int HISTOGRAM_WINDOW = 4096;

    /** Records received by the operator. */
    public final Counter requests;

    /** Records answered with a prediction. */
    final Counter successes;

    /**
     * Records answered with a dead letter by the operator (bad input, model error, non-finite
     * output, timeout).
     */
    final Counter failures;

    /** Model runs (batches, including retries and the halves of split batches). */
    public final Counter executions;

    /** Rows run through the model over all executions. */
    final Counter inferenceCount;

    /**
     * Batches that failed whole and then ran in parts: the version runs, but not in batches of that
     * size, which means its contract is wrong (a fixed batch dimension its manifest calls dynamic,
     * a batch-dependent model).
     */
    public final Counter splitBatchesSucceeded;

    final Histogram batchSize;

    /** Time a record waited for its batch to start, in microseconds. */
    final Histogram queueWaitMicros;

    /** Time inside the model run (tensor creation, run, output copy), in microseconds. */
    final Histogram computeMicros;

    /** Time to turn a batch's output into predictions and hand them on, in microseconds. */
    final Histogram outputMicros;

    /** From the event's time to its prediction, in milliseconds. */
    final Histogram endToEndLatencyMillis;

    /**
     * Gauge sources, replaced when a version is loaded again after it was released (metrics
     * register once).
     */
    private volatile IntSupplier inFlightBatches = () -> 0;

    private volatile long loadTimeMillis = -1;
    private volatile boolean cudaFallback;

    /**
     * Share of entities this version answers for, in percent (0 for previous and shadow versions).
     */
    private volatile int trafficPercent;

    private volatile boolean shadow;

    public InferenceMetrics(MetricGroup operatorGroup, String model, String version) {
        MetricGroup group = operatorGroup.addGroup("model", model).addGroup("version", version);
        requests = group.counter("inferenceRequests");
        successes = group.counter("inferenceSuccesses");
        failures = group.counter("inferenceFailures");
        executions = group.counter("inferenceExecutions");
        inferenceCount = group.counter("inferenceCount");
        splitBatchesSucceeded = group.counter("splitBatchesSucceeded");
        batchSize =
                group.histogram("batchSize", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        queueWaitMicros =
                group.histogram(
                        "queueWaitMicros", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        computeMicros =
                group.histogram(
                        "computeMicros", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        outputMicros =
                group.histogram(
                        "outputMicros", new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        endToEndLatencyMillis =
                group.histogram(
                        "endToEndLatencyMillis",
                        new DescriptiveStatisticsHistogram(HISTOGRAM_WINDOW));
        group.gauge("inFlightBatches", () -> inFlightBatches.getAsInt());
        group.gauge("modelLoadTimeMillis", () -> loadTimeMillis);
        group.gauge("cudaFallback", () -> cudaFallback ? 1 : 0);
        group.gauge("trafficPercent", () -> trafficPercent);
        group.gauge("shadow", () -> shadow ? 1 : 0);
    }

    /** Points the gauges at a loaded instance of the version. */
    public void bind(IntSupplier inFlightBatches, long loadTimeMillis, boolean cudaFallback) {
        this.inFlightBatches = inFlightBatches;
        this.loadTimeMillis = loadTimeMillis;
        this.cudaFallback = cudaFallback;
    }

    /** Records the version's role in the current deployment. */
    public void role(int trafficPercent, boolean shadow) {
        this.trafficPercent = trafficPercent;
        this.shadow = shadow;
    }
}
