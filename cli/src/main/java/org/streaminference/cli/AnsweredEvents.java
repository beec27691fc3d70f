package org.streaminference.cli;

import org.streaminference.schemas.SourcePosition;

import org.apache.flink.annotation.Internal;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * Tallies the answers a job wrote (predictions and dead letters) by the source record each answers:
 * an event fanned out to several models gets one answer per model, so events are counted by where
 * they were read, and an answer repeated for the same event and model is a duplicate. One bit per
 * event and target: a topic of a billion events costs about 125 MB per target. Not thread-safe.
 */
@Internal
public final class AnsweredEvents {
    private static final int CHUNK_BITS = 16;
    private static final String NO_TARGET = "";

    /** topic/partition → offset chunk → offsets seen, for any target and for each target. */
    private final Map<String, Map<Long, BitSet>> events = new HashMap<>();

    private final Map<String, Map<String, Map<Long, BitSet>>> byTarget = new HashMap<>();
    private long eventCount;
    private long answers;
    private long duplicates;

    /**
     * Counts one answer for the record at {@code source} from {@code target} (a model, an ensemble,
     * or null for a dead letter of the stages before inference); an answer without a source counts
     * as its own event.
     *
     * @return false when the same target already answered that record
     */
    public boolean add(SourcePosition source, String target) {
        answers++;
        if (source == null) {
            eventCount++;
            return true;
        }
        String partition = source.getTopic() + "/" + source.getPartition();
        long offset = source.getOffset();
        if (mark(events.computeIfAbsent(partition, p -> new HashMap<>()), offset)) {
            eventCount++;
        }
        Map<Long, BitSet> answered =
                byTarget.computeIfAbsent(target == null ? NO_TARGET : target, t -> new HashMap<>())
                        .computeIfAbsent(partition, p -> new HashMap<>());
        if (!mark(answered, offset)) {
            duplicates++;
            return false;
        }
        return true;
    }

    private static boolean mark(Map<Long, BitSet> chunks, long offset) {
        BitSet chunk =
                chunks.computeIfAbsent(offset >>> CHUNK_BITS, c -> new BitSet(1 << CHUNK_BITS));
        int bit = (int) (offset & ((1 << CHUNK_BITS) - 1));
        if (chunk.get(bit)) {
            return false;
        }
        chunk.set(bit);
        return true;
    }

    /** Source records with at least one answer. */
    public long events() {
        return eventCount;
    }

    /** Answers counted. */
    public long answers() {
        return answers;
    }

    /** Answers repeated for a record and target already answered. */
    public long duplicates() {
        return duplicates;
    }
}
