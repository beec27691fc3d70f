package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.PredictRequestFormat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.annotation.Internal;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What every front door (REST, gRPC, the Open Inference Protocol) does with a prediction request:
 * checks its fields against the feature spec, picks its path (the caller's choice, else the routing
 * by event type), bounds what is in flight (shed with 503, never queued), sends it to the job and
 * waits for the answer until its timeout (then 504; the answer is kept for {@code GET
 * /v1/requests/{id}}). While the job does not answer at all (requests older than {@link
 * #stallAfterMillis} and no reply since they were sent), new requests get 503 at once, one probe a
 * second excepted, instead of each waiting out its timeout.
 */
@Internal
public final class PredictService implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What became of a request: its answer, or (asynchronous) its acceptance. */
    public sealed interface Outcome permits Answered, Accepted {}

    public record Answered(Answer answer) implements Outcome {}

    public record Accepted(PredictCall call) implements Outcome {}

    private final RequestFields fields;
    private final ReplyChannel channel;
    private final OpenRequests open;
    private final GatewayMetrics metrics;
    private final Semaphore inFlight;
    private final Set<String> asyncEventTypes;
    private final long stallAfterMillis;
    private final ScheduledThreadPoolExecutor timer =
            new ScheduledThreadPoolExecutor(
                    1,
                    r -> {
                        Thread t = new Thread(r, "predict-timeouts");
                        t.setDaemon(true);
                        return t;
                    });
    private volatile boolean stalled;
    private volatile long lastProbeMillis;

    PredictService(
            RequestFields fields,
            ReplyChannel channel,
            OpenRequests open,
            GatewayMetrics metrics,
            int maxInFlight,
            Set<String> asyncEventTypes,
            long stallAfterMillis) {
        this.fields = fields;
        this.channel = channel;
        this.open = open;
        this.metrics = metrics;
        this.inFlight = new Semaphore(maxInFlight);
        this.asyncEventTypes = Set.copyOf(asyncEventTypes);
        this.stallAfterMillis = stallAfterMillis;
        // an answered request's deadline is cancelled and leaves the queue at once
        timer.setRemoveOnCancelPolicy(true);
        timer.scheduleWithFixedDelay(this::sweep, 500, 500, TimeUnit.MILLISECONDS);
    }

    RequestFields fields() {
        return fields;
    }

    /** Whether the job answers (false while it is stalled) and the reply partition is read. */
    boolean ready() {
        return !stalled && channel.reading();
    }

    /**
     * Sends {@code call} for {@code caller}.
     *
     * @throws ApiError for a request refused at the door (400, 409, 503)
     * @return the answer or the acceptance; completes exceptionally with an {@link ApiError} (503
     *     when the job cannot be reached, 504 when the timeout passed)
     */
    public CompletableFuture<Outcome> submit(Caller caller, PredictCall call) {
        long receivedNanos = System.nanoTime();
        fields.check(call.fields());
        boolean async =
                call.async() != null ? call.async() : asyncEventTypes.contains(call.eventType());
        long now = System.currentTimeMillis();
        if (stalled) {
            if (now - lastProbeMillis < 1_000) {
                metrics.rejected("job_not_answering");
                throw new ApiError(
                        503,
                        "unavailable",
                        "the job is not answering requests; try again later",
                        Map.of("Retry-After", "1"));
            }
            lastProbeMillis = now;
        }
        if (async ? !open.hasRoom() : !inFlight.tryAcquire()) {
            metrics.rejected("overloaded");
            throw new ApiError(
                    503,
                    "overloaded",
                    "this gateway instance has as many requests open as it takes; try again later",
                    Map.of("Retry-After", "1"));
        }
        OpenRequests.Open request = new OpenRequests.Open(call, caller, receivedNanos, now, async);
        if (!open.add(request)) {
            if (!async) {
                inFlight.release();
            }
            throw new ApiError(
                    409, "duplicate_request", "request_id " + call.requestId() + " is in use");
        }
        if (!async) {
            metrics.inFlight.inc();
        }
        channel.send(request, body(call, now));
        if (async) {
            return request.offset
                    .<Outcome>thenApply(offset -> new Accepted(call))
                    .whenComplete(
                            (o, e) -> {
                                if (e != null) {
                                    open.forget(call.requestId());
                                }
                            });
        }
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        request.offset.whenComplete(
                (offset, e) -> {
                    if (e != null) {
                        open.forget(call.requestId());
                        outcome.completeExceptionally(e);
                    }
                });
        request.answer.whenComplete(
                (answer, e) -> {
                    if (answer != null) {
                        outcome.complete(new Answered(answer));
                    }
                });
        ScheduledFuture<?> deadline =
                timer.schedule(
                        () -> {
                            if (request.answer.completeExceptionally(new TimeoutException())) {
                                request.keep = true;
                                outcome.completeExceptionally(
                                        new ApiError(
                                                504,
                                                "timeout",
                                                "no answer within "
                                                        + call.timeoutMs()
                                                        + " ms; request "
                                                        + call.requestId()
                                                        + " is still open: GET /v1/requests/"
                                                        + call.requestId(),
                                                Map.of("X-Request-Id", call.requestId())));
                            }
                        },
                        call.timeoutMs(),
                        TimeUnit.MILLISECONDS);
        outcome.whenComplete(
                (o, e) -> {
                    deadline.cancel(false);
                    inFlight.release();
                    metrics.inFlight.dec();
                    if (o instanceof Answered a && a.answer().ok()) {
                        Answer answer = a.answer();
                        metrics.timing(
                                answer.totalMs(),
                                answer.jobMs(),
                                answer.kafkaMs(),
                                answer.gatewayMs());
                    }
                });
        return outcome;
    }

    /** What {@code caller} may see of a request: its answer, empty while open, or nothing. */
    Optional<Optional<Answer>> lookup(Caller caller, String requestId) {
        return open.lookup(caller.name(), requestId, System.currentTimeMillis());
    }

    /** The request's value: its fields with its id, entity, time and type beside them. */
    static byte[] body(PredictCall call, long sentMillis) {
        ObjectNode body =
                call.fields() != null && call.fields().isObject()
                        ? ((ObjectNode) call.fields()).deepCopy()
                        : JSON.createObjectNode();
        body.put(PredictRequestFormat.REQUEST_ID, call.requestId());
        body.put(PredictRequestFormat.ENTITY_ID, call.entityId());
        body.put(
                PredictRequestFormat.EVENT_TIME,
                call.eventTime() != null ? call.eventTime() : sentMillis);
        body.put(PredictRequestFormat.EVENT_TYPE, call.eventType());
        try {
            return JSON.writeValueAsBytes(body);
        } catch (Exception e) {
            throw new IllegalStateException("a JSON tree always serializes", e);
        }
    }

    private void sweep() {
        long now = System.currentTimeMillis();
        open.expire(now);
        long oldest = open.oldestSentMillis();
        stalled =
                oldest != Long.MAX_VALUE
                        && now - oldest > stallAfterMillis
                        && channel.lastReplyMillis() < oldest;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
