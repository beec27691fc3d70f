package org.streaminference.gateway;

import org.streaminference.schemas.PredictReply;

import org.apache.flink.annotation.Internal;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The requests this instance sent and has no answer to yet, and the answers it keeps for {@code GET
 * /v1/requests/{id}} (asynchronous requests, and synchronous ones whose caller stopped waiting).
 * Both are bounded: an open request expires after the retention, and the kept answers are the
 * newest {@code capacity}. An answer belongs to the caller that asked: another caller cannot fetch
 * it, or learn that it exists.
 */
@Internal
final class OpenRequests {
    /** One request sent: its offset once the broker acknowledged it, and its answer. */
    static final class Open {
        final PredictCall call;
        final Caller caller;
        final long receivedNanos;
        final long sentMillis;
        final CompletableFuture<Long> offset = new CompletableFuture<>();
        final CompletableFuture<Answer> answer = new CompletableFuture<>();

        /** Whether its answer is kept when it comes (async, or its caller gave up waiting). */
        volatile boolean keep;

        Open(PredictCall call, Caller caller, long receivedNanos, long sentMillis, boolean keep) {
            this.call = call;
            this.caller = caller;
            this.receivedNanos = receivedNanos;
            this.sentMillis = sentMillis;
            this.keep = keep;
        }
    }

    private record Kept(String caller, Answer answer, long expiresAtMillis) {}

    private final ConcurrentHashMap<String, Open> open = new ConcurrentHashMap<>();
    private final LinkedHashMap<String, Kept> kept = new LinkedHashMap<>();
    private final long retentionMillis;
    private final int capacity;

    OpenRequests(long retentionMillis, int capacity) {
        this.retentionMillis = retentionMillis;
        this.capacity = capacity;
    }

    /** Registers a request, or returns false when its id is open or answered already. */
    boolean add(Open request) {
        synchronized (kept) {
            if (kept.containsKey(request.call.requestId())) {
                return false;
            }
        }
        return open.putIfAbsent(request.call.requestId(), request) == null;
    }

    /** Whether another request may wait for its answer here (the open ones fill the capacity). */
    boolean hasRoom() {
        return open.size() < capacity;
    }

    Open get(String requestId) {
        return open.get(requestId);
    }

    void forget(String requestId) {
        open.remove(requestId);
    }

    /**
     * The open request {@code reply} answers: one of this instance's, and the record it wrote
     * itself (its partition and offset), else empty.
     */
    Optional<Open> answered(PredictReply reply, int partition, long offset) {
        Open request = open.get(reply.getRequestId());
        if (request == null
                || reply.getRequestPartition() != partition
                || !request.offset.isDone()
                || request.offset.join() != offset) {
            return Optional.empty();
        }
        return open.remove(reply.getRequestId(), request) ? Optional.of(request) : Optional.empty();
    }

    /** Whether {@code requestId} was answered here already (a duplicate reply). */
    boolean isKept(String requestId) {
        synchronized (kept) {
            return kept.containsKey(requestId);
        }
    }

    void keep(Open request, Answer answer, long nowMillis) {
        synchronized (kept) {
            kept.put(
                    request.call.requestId(),
                    new Kept(request.caller.name(), answer, nowMillis + retentionMillis));
            while (kept.size() > capacity) {
                Iterator<String> oldest = kept.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }
    }

    /**
     * What {@code caller} may see of {@code requestId}: its answer, an open request (empty answer),
     * or nothing.
     */
    Optional<Optional<Answer>> lookup(String caller, String requestId, long nowMillis) {
        synchronized (kept) {
            Kept k = kept.get(requestId);
            if (k != null && k.caller.equals(caller) && k.expiresAtMillis > nowMillis) {
                return Optional.of(Optional.of(k.answer));
            }
        }
        Open request = open.get(requestId);
        if (request != null && request.caller.name().equals(caller)) {
            return Optional.of(Optional.empty());
        }
        return Optional.empty();
    }

    /** Drops open requests older than the retention and kept answers past theirs. */
    void expire(long nowMillis) {
        open.values()
                .removeIf(
                        r -> {
                            if (r.sentMillis + retentionMillis < nowMillis) {
                                r.answer.cancel(false);
                                return true;
                            }
                            return false;
                        });
        synchronized (kept) {
            kept.values().removeIf(k -> k.expiresAtMillis <= nowMillis);
        }
    }

    /** When the oldest open request was sent, or {@link Long#MAX_VALUE} where none is open. */
    long oldestSentMillis() {
        long oldest = Long.MAX_VALUE;
        for (Open r : open.values()) {
            oldest = Math.min(oldest, r.sentMillis);
        }
        return oldest;
    }
}
