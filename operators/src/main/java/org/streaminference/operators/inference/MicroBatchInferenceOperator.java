package org.streaminference.operators.inference;

import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.typeutils.TupleTypeInfo;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.operators.DeadLetters;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The micro-batched inference operator. Records are kept, in arrival order with the watermarks between them, until
 * their answer is emitted; batches run on inference threads of the operator's own, and a finished batch hands all
 * its answers to the task thread with one mailbox mail (Flink's async I/O operator needs one per record, which
 * dominates the cost of a small model). Every record without an emitted answer is in operator state at a
 * checkpoint and is run again after a restore, so nothing is lost and nothing emitted twice. The queue is bounded
 * by the capacity: when it is full, processElement yields to the mailbox, which back-pressures the input.
 */
final class MicroBatchInferenceOperator extends AbstractStreamOperator<Prediction>
        implements OneInputStreamOperator<EnrichedEvent, Prediction>, BoundedOneInput {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(MicroBatchInferenceOperator.class);
    private static final long NO_TIMESTAMP = Long.MIN_VALUE;

    private final ModelProvider modelProvider;
    private final BatchingOptions options;
    private final transient MailboxExecutor mailbox;

    private transient ModelProvider.Handle handle;
    private transient InferenceModel model;
    private transient MicroBatcher<Entry> batcher;
    private transient BatchRunner runner;
    private transient InferenceMetrics metrics;
    private transient LinkedList<Entry> queue;
    private transient int inFlightRecords;
    private transient ListState<Tuple2<EnrichedEvent, Long>> pendingState;
    private transient List<Tuple2<EnrichedEvent, Long>> recovered;

    MicroBatchInferenceOperator(StreamOperatorParameters<Prediction> parameters, ModelProvider modelProvider,
            BatchingOptions options, MailboxExecutor mailbox) {
        super(parameters);
        this.modelProvider = modelProvider;
        this.options = options;
        this.mailbox = mailbox;
    }

    /** A record waiting for its answer, or a watermark waiting for the records before it. */
    static final class Entry implements BatchRunner.Pending {
        final EnrichedEvent event;
        final long timestamp;
        final long enqueuedNanos;
        final Watermark watermark;
        private final AtomicReference<Object> answer = new AtomicReference<>();

        Entry(EnrichedEvent event, long timestamp) {
            this.event = event;
            this.timestamp = timestamp;
            this.enqueuedNanos = System.nanoTime();
            this.watermark = null;
        }

        Entry(Watermark watermark) {
            this.event = null;
            this.timestamp = NO_TIMESTAMP;
            this.enqueuedNanos = 0;
            this.watermark = watermark;
        }

        @Override
        public EnrichedEvent event() {
            return event;
        }

        @Override
        public long enqueuedNanos() {
            return enqueuedNanos;
        }

        @Override
        public boolean complete(Prediction prediction, DeadLetter deadLetter) {
            return answer.compareAndSet(null, prediction != null ? prediction : deadLetter);
        }

        boolean isDone() {
            return watermark != null || answer.get() != null;
        }
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        pendingState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(
                "micro-batch-pending", new TupleTypeInfo<>(new AvroTypeInfo<>(EnrichedEvent.class), Types.LONG)));
        recovered = new ArrayList<>();
        if (context.isRestored()) {
            for (Tuple2<EnrichedEvent, Long> record : pendingState.get()) {
                recovered.add(record);
            }
        }
    }

    @Override
    public void open() throws Exception {
        super.open();
        handle = modelProvider.open(getRuntimeContext());
        model = handle.model();
        long loadTime = model instanceof LoadedModel loaded ? loaded.loadTimeMillis() : -1;
        queue = new LinkedList<>();
        batcher = new MicroBatcher<>(options.maxBatchSize(), options.maxDelayMillis(), options.concurrentBatches(),
                "inference-" + model.manifest().name() + "-" + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                this::runBatch, options.timeoutMillis(), this::timeOut);
        metrics = new InferenceMetrics(getMetricGroup(), model.manifest().name(), model.manifest().version(),
                batcher::inFlightBatches, () -> loadTime, handle.fellBackToCpu());
        runner = new BatchRunner(model, new PredictionDecoder(model.manifest(), options.topK()), metrics,
                options.maxBatchSize(), options.retries());
        LOG.info("{} serves {} in batches of up to {} records or {} ms, {} at once; {} records restored",
                getRuntimeContext().getTaskInfo().getTaskNameWithSubtasks(), model.manifest().id(),
                options.maxBatchSize(), options.maxDelayMillis(), options.concurrentBatches(), recovered.size());
        for (Tuple2<EnrichedEvent, Long> record : recovered) {
            add(record.f0, record.f1);
        }
        recovered = null;
    }

    @Override
    public void processElement(StreamRecord<EnrichedEvent> record) throws Exception {
        while (inFlightRecords >= options.capacity()) {
            mailbox.yield(); // back-pressure: the input waits until batches finish
        }
        add(record.getValue(), record.hasTimestamp() ? record.getTimestamp() : NO_TIMESTAMP);
    }

    private void add(EnrichedEvent event, long timestamp) {
        Entry entry = new Entry(event, timestamp);
        queue.addLast(entry);
        inFlightRecords++;
        metrics.requests.inc();
        if (runner.rejectInvalid(entry)) {
            emitReady();
        } else {
            batcher.add(entry);
        }
    }

    @Override
    public void processWatermark(Watermark mark) {
        if (queue.isEmpty()) {
            output.emitWatermark(mark);
        } else {
            queue.addLast(new Entry(mark));
        }
    }

    /** On an inference thread: runs the batch, then hands its answers to the task thread with one mail. */
    private void runBatch(List<Entry> batch) {
        runner.run(batch);
        post("inference batch finished");
    }

    /** On the batcher's timer thread: answers the records of a late batch that still have no answer with TIMEOUT. */
    private void timeOut(List<Entry> batch) {
        boolean any = false;
        for (Entry e : batch) {
            if (!e.isDone()) {
                runner.fail(e, ReasonCode.TIMEOUT, "no answer from " + model.manifest().id() + " within "
                        + options.timeoutMillis() + " ms");
                any = true;
            }
        }
        if (any) {
            post("inference batch timed out");
        }
    }

    private void post(String description) {
        try {
            mailbox.execute(this::emitReady, description);
        } catch (RejectedExecutionException e) {
            LOG.debug("The task is closing; answers of a finished batch are dropped (they are in the last checkpoint)");
        }
    }

    /** On the task thread: emits every answer that may go out now, respecting order mode and watermarks. */
    private void emitReady() {
        if (options.ordered()) {
            while (!queue.isEmpty() && queue.peekFirst().isDone()) {
                emit(queue.pollFirst());
            }
            return;
        }
        boolean atHead = true;
        for (Iterator<Entry> it = queue.iterator(); it.hasNext(); ) {
            Entry entry = it.next();
            if (entry.watermark != null) {
                if (!atHead) {
                    break; // records after a watermark wait until every record before it is out
                }
                emit(entry);
                it.remove();
            } else if (entry.isDone()) {
                emit(entry);
                it.remove();
            } else {
                atHead = false;
            }
        }
    }

    private void emit(Entry entry) {
        if (entry.watermark != null) {
            output.emitWatermark(entry.watermark);
            return;
        }
        inFlightRecords--;
        Object answer = entry.answer.get();
        if (answer instanceof Prediction prediction) {
            output.collect(record(prediction, entry.timestamp));
        } else {
            output.collect(DeadLetters.TAG, record((DeadLetter) answer, entry.timestamp));
        }
    }

    private static <T> StreamRecord<T> record(T value, long timestamp) {
        return timestamp == NO_TIMESTAMP ? new StreamRecord<>(value) : new StreamRecord<>(value, timestamp);
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        List<Tuple2<EnrichedEvent, Long>> unanswered = new ArrayList<>(inFlightRecords);
        for (Entry entry : queue) {
            if (entry.watermark == null) {
                unanswered.add(Tuple2.of(entry.event, entry.timestamp));
            }
        }
        pendingState.update(unanswered);
    }

    @Override
    public void endInput() throws Exception {
        batcher.flush();
        while (inFlightRecords > 0) {
            mailbox.yield();
        }
        emitReady(); // watermarks still queued behind the last records
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
        super.close();
    }
}
