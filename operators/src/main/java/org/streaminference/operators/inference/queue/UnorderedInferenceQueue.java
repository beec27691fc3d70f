package org.streaminference.operators.inference.queue;

import org.apache.flink.annotation.Internal;
import org.apache.flink.streaming.api.watermark.Watermark;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Emits records as they are done, in any order, but never across a watermark: the records are kept
 * in segments, one per interval between watermarks (as Flink's {@code UnorderedStreamElementQueue}
 * does). Only the first segment's records may go out; its closing watermark goes out once they all
 * have, and the next segment opens.
 */
@Internal
public final class UnorderedInferenceQueue<R extends InferenceQueue.Request>
        implements InferenceQueue<R> {
    private final ArrayDeque<Segment<R>> segments = new ArrayDeque<>();
    private int records;

    /**
     * The records added after one watermark and before the next; {@code closedBy} is null while it
     * is open.
     */
    private static final class Segment<R> {
        final List<R> records = new ArrayList<>();
        Watermark closedBy;
    }

    @Override
    public void add(R request) {
        Segment<R> last = segments.peekLast();
        if (last == null || last.closedBy != null) {
            last = new Segment<>();
            segments.addLast(last);
        }
        last.records.add(request);
        records++;
    }

    @Override
    public void addWatermark(Watermark watermark) {
        Segment<R> last = segments.peekLast();
        if (last == null || last.closedBy != null) {
            last = new Segment<>();
            segments.addLast(last);
        }
        last.closedBy = watermark;
    }

    @Override
    public void emitCompleted(Emitter<R> emitter) throws Exception {
        while (!segments.isEmpty()) {
            Segment<R> head = segments.peekFirst();
            for (Iterator<R> it = head.records.iterator(); it.hasNext(); ) {
                R request = it.next();
                if (request.isDone()) {
                    it.remove();
                    records--;
                    emitter.emit(request);
                }
            }
            if (!head.records.isEmpty()) {
                return; // the records behind this segment's watermark wait for the rest of it
            }
            segments.pollFirst();
            if (head.closedBy == null) {
                return;
            }
            emitter.emitWatermark(head.closedBy);
        }
    }

    @Override
    public List<R> pendingRecords() {
        List<R> pending = new ArrayList<>(records);
        for (Segment<R> segment : segments) {
            pending.addAll(segment.records);
        }
        return pending;
    }

    @Override
    public int size() {
        return records;
    }

    @Override
    public boolean isEmpty() {
        return segments.isEmpty();
    }
}
