package org.streaminference.operators.inference.queue;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.watermark.Watermark;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Emits records in the order they were added, each once it and every record before it are done; a
 * watermark goes out when it reaches the head.
 */
@Internal
public final class OrderedInferenceQueue<R extends InferenceQueue.Request>
        implements InferenceQueue<R> {
    /** Records ({@code R}) and watermarks in arrival order. */
    private final ArrayDeque<Object> entries = new ArrayDeque<>();

    private int records;

    @Override
    public void add(R request) {
        entries.addLast(request);
        records++;
    }

    @Override
    public void addWatermark(Watermark watermark) {
        entries.addLast(watermark);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void emitCompleted(Emitter<R> emitter) throws Exception {
        while (!entries.isEmpty()) {
            Object head = entries.peekFirst();
            if (head instanceof Watermark watermark) {
                entries.pollFirst();
                emitter.emitWatermark(watermark);
            } else if (((R) head).isDone()) {
                entries.pollFirst();
                records--;
                emitter.emit((R) head);
            } else {
                return;
            }
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public List<R> pendingRecords() {
        List<R> pending = new ArrayList<>(records);
        for (Object entry : entries) {
            if (!(entry instanceof Watermark)) {
                pending.add((R) entry);
            }
        }
        return pending;
    }

    @Override
    public int size() {
        return records;
    }

    @Override
    public boolean isEmpty() {
        return entries.isEmpty();
    }
}
