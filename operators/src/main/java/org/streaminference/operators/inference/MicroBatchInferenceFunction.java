package org.streaminference.operators.inference;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.operators.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InferenceOutcome;
import org.streaminference.schemas.ReasonCode;

import java.util.List;

/**
 * The async function behind the micro-batched inference operator. Flink's {@code AsyncWaitOperator} owns the
 * records: every record whose answer is not yet complete, whether it waits in a batch or runs in one, is in the
 * operator's checkpointed queue and is re-invoked after a restore, so nothing is lost or duplicated. This function
 * only forms batches and answers each record with a prediction or a dead letter; it never fails the job for a record.
 */
public class MicroBatchInferenceFunction extends RichAsyncFunction<EnrichedEvent, InferenceOutcome> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatchInferenceFunction.class);

    private final ModelProvider modelProvider;
    private final BatchingOptions options;

    private transient ModelProvider.Handle handle;
    private transient InferenceModel model;
    private transient MicroBatcher<BatchRunner.Pending> batcher;
    private transient BatchRunner runner;
    private transient InferenceMetrics metrics;

    public MicroBatchInferenceFunction(ModelProvider modelProvider, BatchingOptions options) {
        this.modelProvider = modelProvider;
        this.options = options;
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        handle = modelProvider.open(getRuntimeContext());
        model = handle.model();
        long loadTime = model instanceof LoadedModel loaded ? loaded.loadTimeMillis() : -1;
        String task = getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks();
        batcher = new MicroBatcher<>(options.maxBatchSize(), options.maxDelayMillis(), options.concurrentBatches(),
                "inference-" + model.manifest().name() + "-" + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                batch -> runner.run(batch));
        metrics = new InferenceMetrics(getRuntimeContext().getMetricGroup(), model.manifest().name(),
                model.manifest().version(), batcher::inFlightBatches, () -> loadTime, handle.fellBackToCpu());
        runner = new BatchRunner(model, new PredictionDecoder(model.manifest(), options.topK()), metrics,
                options.maxBatchSize(), options.retries());
        LOG.info("{} serves {} in batches of up to {} records or {} ms, {} at once", task, model.manifest().id(),
                options.maxBatchSize(), options.maxDelayMillis(), options.concurrentBatches());
    }

    @Override
    public void asyncInvoke(EnrichedEvent input, ResultFuture<InferenceOutcome> resultFuture) {
        metrics.requests.inc();
        BatchRunner.Pending pending = new BatchRunner.Pending(input, resultFuture, System.nanoTime());
        List<Float> features = input.getFeatures();
        if (features.size() != model.inputValuesPerRow()) {
            runner.fail(pending, ReasonCode.INVALID_FIELD, "invalid shape: the feature vector has " + features.size()
                    + " values but " + model.manifest().id() + " takes " + model.inputValuesPerRow());
            return;
        }
        for (int i = 0; i < features.size(); i++) {
            Float f = features.get(i);
            if (f == null || !Float.isFinite(f)) {
                runner.fail(pending, ReasonCode.NON_FINITE_FEATURE, "feature " + i + " is " + f);
                return;
            }
        }
        batcher.add(pending);
    }

    @Override
    public void timeout(EnrichedEvent input, ResultFuture<InferenceOutcome> resultFuture) {
        metrics.failures.inc();
        resultFuture.complete(List.of(new InferenceOutcome(null, DeadLetters.of(input.getEvent(), input.getSource(),
                ReasonCode.TIMEOUT, "no answer from " + model.manifest().id() + " within "
                        + options.timeoutMillis() + " ms"))));
    }

    @Override
    public void close() throws Exception {
        boolean drained = batcher == null || batcher.shutdown(60_000);
        if (handle != null) {
            if (drained) {
                handle.close();
            } else {
                // closing a session while a run is inside it crashes the JVM: leak it rather than risk that
                LOG.error("Inference threads did not finish within 60 s; not releasing {}", model.manifest().id());
            }
        }
    }
}
