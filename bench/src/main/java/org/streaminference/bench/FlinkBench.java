package org.streaminference.bench;

import org.streaminference.model.FeatureContract;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.operators.inference.MicroBatchInference;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.batching.OnnxInferenceFunction;
import org.streaminference.operators.inference.control.SharedModelProvider;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Runs one inference variant as a Flink job on a local MiniCluster and measures it at its sink. */
final class FlinkBench {
    private FlinkBench() {}

    /** What sits between the source and the sink. */
    sealed interface Variant permits Identity, Naive, AsyncPerRecord, Batched {}

    /** Flink's async I/O operator calling the model once per record. */
    record AsyncPerRecord(int threads) implements Variant {}

    /** No inference: each event becomes an empty prediction. The pipeline's own limit. */
    record Identity() implements Variant {}

    /** A synchronous map calling ONNX Runtime once per record on the task thread. */
    record Naive() implements Variant {}

    /** The micro-batched inference operator. */
    record Batched(int maxBatchSize, long maxDelayMillis, int concurrentBatches)
            implements Variant {}

    /** The prediction of the 'no inference' stage: the first feature, passed through. */
    static Prediction identity(EnrichedEvent e) {
        return new Prediction(
                e.getEvent().getEventId(),
                e.getEvent().getEntityId(),
                "identity",
                "0",
                (double) e.getFeatures().get(0),
                null,
                null,
                List.of(),
                List.of(),
                e.getEvent().getEventTime(),
                0L,
                List.of(),
                List.of(),
                null,
                List.of(),
                e.getSource());
    }

    /**
     * Throughput is timed at the sink from the first to the last output, so cluster start and model
     * load are not in it; latency runs from each event's scheduled emit time to the sink.
     *
     * @param ratePerSecond 0 for as fast as possible (throughput), otherwise a fixed input rate
     *     (latency)
     * @param warmupMicros latency: events scheduled this long after the first one are the first
     *     counted
     */
    static LatencyProbe.Result run(
            BenchModels.Workload w,
            Variant variant,
            long records,
            double ratePerSecond,
            int parallelism,
            long warmupMicros)
            throws Exception {
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, new Configuration());
        env.getConfig().enableObjectReuse();
        DataGeneratorSource<EnrichedEvent> source =
                new DataGeneratorSource<>(
                        new EventGenerator(w.valuesPerRow(), ratePerSecond / parallelism),
                        records,
                        RateLimiterStrategy
                                .noOp(), // the generator paces itself: Flink's limiter tops out
                        // near 60k/s here
                        new AvroTypeInfo<>(EnrichedEvent.class));
        DataStream<EnrichedEvent> events =
                env.fromSource(source, WatermarkStrategy.noWatermarks(), "events");
        String location = w.dir().toString();
        DataStream<Prediction> predictions;
        if (variant instanceof Batched b) {
            int capacity = Math.max(2 * b.maxBatchSize() * b.concurrentBatches(), 16);
            predictions =
                    MicroBatchInference.builder()
                            .modelProvider(
                                    new SharedModelProvider(
                                            ModelLoaderConfig.defaults(), FeatureContract.ANY))
                            .initialModel(location)
                            .batching(
                                    BatchingConfig.builder()
                                            .maxBatchSize(b.maxBatchSize())
                                            .maxDelayMillis(b.maxDelayMillis())
                                            .concurrentBatches(b.concurrentBatches())
                                            .timeoutMillis(60_000)
                                            .retries(0)
                                            .capacity(capacity)
                                            .build())
                            .build()
                            .apply(events, "inference");
        } else if (variant instanceof AsyncPerRecord a) {
            predictions =
                    AsyncDataStream.unorderedWait(
                            events,
                            new PerRecordAsyncFunction(location, a.threads()),
                            60,
                            TimeUnit.SECONDS,
                            64);
        } else if (variant instanceof Naive) {
            predictions =
                    events.process(
                            new OnnxInferenceFunction(location, ModelLoaderConfig.defaults()));
        } else {
            predictions = events.map(FlinkBench::identity);
        }
        predictions.map(new LatencyProbe()).sinkTo(new DiscardingSink<>());
        LatencyProbe.reset(warmupMicros);
        env.execute("bench");
        LatencyProbe.Result result = LatencyProbe.result();
        if (result.records() != records) {
            throw new IllegalStateException(
                    "expected " + records + " predictions, got " + result.records());
        }
        return result;
    }

    /** Waits until the job runs (its sources read), at most 2 minutes. */
    static void awaitRunning(JobClient job) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (job.getJobStatus().get(10, TimeUnit.SECONDS) != JobStatus.RUNNING) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the job did not reach RUNNING in 2 minutes");
            }
            Thread.onSpinWait();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }
}
