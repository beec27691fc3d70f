package org.streaminference.operators.inference.queue;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.watermark.Watermark;

import java.util.List;

/**
 * The records of an inference subtask that have no emitted answer yet, with the watermarks that
 * arrived between them, in the manner of Flink's {@code StreamElementQueue}: the operator adds
 * records and watermarks on the task thread, inference threads complete records, and {@link
 * #emitCompleted} hands out what may go out now. The two implementations differ only in what "may
 * go out" means: {@link OrderedInferenceQueue} keeps input order, {@link UnorderedInferenceQueue}
 * lets records overtake each other but never a watermark. Task thread only, except for {@link
 * Request#isDone()}.
 *
 * @param <R> the queued record
 */
@Internal
public interface InferenceQueue<R extends InferenceQueue.Request> {

    /** A queued record; done once it has its answer (set by another thread). */
    interface Request {
        boolean isDone();
    }

    /**
     * Where {@link #emitCompleted} sends records and watermarks, in the order they may be emitted.
     */
    interface Emitter<R> {
        void emit(R request) throws Exception;

        void emitWatermark(Watermark watermark) throws Exception;
    }

    /** Adds a record behind everything queued. */
    void add(R request);

    /**
     * Adds a watermark behind everything queued; it goes out after every record added before it.
     */
    void addWatermark(Watermark watermark);

    /** Emits, in order, every record and watermark that may go out now, and removes them. */
    void emitCompleted(Emitter<R> emitter) throws Exception;

    /** Records not emitted yet, done or not, in arrival order: what a checkpoint keeps. */
    List<R> pendingRecords();

    /** Records not emitted yet. */
    int size();

    /** No records and no watermarks queued. */
    boolean isEmpty();

    /** The queue for the operator's emission mode. */
    static <R extends Request> InferenceQueue<R> create(boolean ordered) {
        return ordered ? new OrderedInferenceQueue<>() : new UnorderedInferenceQueue<>();
    }
}
