package org.streaminference.gateway;

import org.streaminference.gateway.grpc.BatchPredictRequest;
import org.streaminference.gateway.grpc.BatchPredictResponse;
import org.streaminference.gateway.grpc.GetModelInfoRequest;
import org.streaminference.gateway.grpc.ModelInfo;
import org.streaminference.gateway.grpc.PredictOptions;
import org.streaminference.gateway.grpc.PredictRequest;
import org.streaminference.gateway.grpc.PredictResponse;
import org.streaminference.gateway.grpc.PredictionServiceGrpc;
import org.streaminference.gateway.grpc.Timing;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.query.ApiError;
import org.streaminference.query.ApiKeys;
import org.streaminference.schemas.Prediction;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code streaminference.predict.v1.PredictionService}: the REST API's predict and model operations
 * over gRPC, plus {@code StreamPredict}, one bidirectional stream whose answers come as they are
 * ready (matched by request id). A refused request fails a unary call with the status the refusal
 * maps to; in a batch or a stream it is a response with that status, so one bad request does not
 * end the others.
 */
@Internal
final class PredictGrpcService extends PredictionServiceGrpc.PredictionServiceImplBase {
    private final PredictService service;
    private final Authenticator auth;
    private final ServedModelsView models;
    private final GatewayMetrics metrics;
    private final long defaultTimeoutMs;
    private final long maxTimeoutMs;
    private final int maxBatch;

    PredictGrpcService(FrontDoor door) {
        this.service = door.service();
        this.auth = door.auth();
        this.models = door.models();
        this.metrics = door.metrics();
        this.defaultTimeoutMs = door.defaultTimeoutMs();
        this.maxTimeoutMs = door.maxTimeoutMs();
        this.maxBatch = door.maxBatch();
    }

    @Override
    public void predict(PredictRequest request, StreamObserver<PredictResponse> out) {
        CompletableFuture<PredictResponse> response;
        try {
            Caller caller = caller(ApiKeys.PREDICT);
            auth.admit(caller, 1);
            response = answer(caller, request);
        } catch (ApiError e) {
            metrics.answered("grpc", e.code);
            out.onError(GrpcSupport.status(e));
            return;
        }
        response.whenComplete(
                (r, e) -> {
                    if (e != null) {
                        metrics.answered("grpc", GrpcSupport.apiError(e).code);
                        out.onError(GrpcSupport.status(e));
                    } else if (!r.getStatus().equals("ok") && !r.getStatus().equals("accepted")) {
                        metrics.answered("grpc", r.getStatus());
                        out.onError(
                                GrpcSupport.status(
                                        new ApiError(
                                                r.getStatus().equals("model_not_found")
                                                        ? 404
                                                        : r.getStatus().equals("model_error")
                                                                ? 500
                                                                : 400,
                                                r.getStatus(),
                                                r.getMessage())));
                    } else {
                        metrics.answered("grpc", r.getStatus());
                        out.onNext(r);
                        out.onCompleted();
                    }
                });
    }

    @Override
    public void batchPredict(
            BatchPredictRequest request, StreamObserver<BatchPredictResponse> out) {
        Caller caller;
        try {
            caller = caller(ApiKeys.PREDICT);
            if (request.getRequestsCount() > maxBatch) {
                throw new ApiError(
                        400, "invalid_batch", "a batch holds at most " + maxBatch + " requests");
            }
            auth.admit(caller, request.getRequestsCount());
        } catch (ApiError e) {
            out.onError(GrpcSupport.status(e));
            return;
        }
        List<CompletableFuture<PredictResponse>> responses = new ArrayList<>();
        for (PredictRequest one : request.getRequestsList()) {
            responses.add(settled(caller, one));
        }
        CompletableFuture.allOf(responses.toArray(CompletableFuture[]::new))
                .whenComplete(
                        (v, e) -> {
                            BatchPredictResponse.Builder batch = BatchPredictResponse.newBuilder();
                            responses.forEach(r -> batch.addResponses(r.join()));
                            metrics.answered("grpc", "batch");
                            out.onNext(batch.build());
                            out.onCompleted();
                        });
    }

    @Override
    public StreamObserver<PredictRequest> streamPredict(StreamObserver<PredictResponse> out) {
        Caller caller;
        try {
            caller = caller(ApiKeys.PREDICT);
        } catch (ApiError e) {
            out.onError(GrpcSupport.status(e));
            return new StreamObserver<>() {
                @Override
                public void onNext(PredictRequest value) {}

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {}
            };
        }
        AtomicInteger open = new AtomicInteger(1); // the client's half counts until it completes
        AtomicBoolean ended = new AtomicBoolean();
        ServerCallStreamObserver<PredictResponse> serverOut =
                (ServerCallStreamObserver<PredictResponse>) out;
        Runnable finishOne =
                () -> {
                    if (open.decrementAndGet() == 0 && ended.compareAndSet(false, true)) {
                        synchronized (out) {
                            out.onCompleted();
                        }
                    }
                };
        return new StreamObserver<>() {
            @Override
            public void onNext(PredictRequest request) {
                open.incrementAndGet();
                CompletableFuture<PredictResponse> response;
                try {
                    auth.admit(caller, 1);
                    response = settled(caller, request);
                } catch (ApiError e) {
                    response =
                            CompletableFuture.completedFuture(refused(request.getRequestId(), e));
                }
                response.whenComplete(
                        (r, e) -> {
                            if (!ended.get() && !serverOut.isCancelled()) {
                                synchronized (out) {
                                    out.onNext(r);
                                }
                            }
                            finishOne.run();
                        });
            }

            @Override
            public void onError(Throwable t) {
                ended.set(true);
            }

            @Override
            public void onCompleted() {
                finishOne.run();
            }
        };
    }

    @Override
    public void getModelInfo(GetModelInfoRequest request, StreamObserver<ModelInfo> out) {
        try {
            caller(ApiKeys.MODELS_READ);
            String model = request.getModel();
            Map<String, Object> details =
                    models.describe(model)
                            .orElseThrow(
                                    () ->
                                            new ApiError(
                                                    404,
                                                    "model_not_found",
                                                    "no job reported serving this model"));
            ModelDeployment d = models.deployment(model).orElseThrow();
            ModelInfo.Builder info =
                    ModelInfo.newBuilder()
                            .setName(model)
                            .setActive(d.active())
                            .setCanaryPercent(d.canaryPercent())
                            .addAllVersions(d.servedVersions())
                            .setDetails(GrpcSupport.struct(details));
            if (d.canary() != null) {
                info.setCanary(d.canary());
            }
            if (d.shadow() != null) {
                info.setShadow(d.shadow());
            }
            if (d.previous() != null) {
                info.setPrevious(d.previous());
            }
            out.onNext(info.build());
            out.onCompleted();
        } catch (ApiError e) {
            out.onError(GrpcSupport.status(e));
        }
    }

    private Caller caller(String scope) {
        return auth.authorize(GrpcSupport.AUTHORIZATION.get(), scope);
    }

    /** The response to one request, a refusal included (never a failed future). */
    private CompletableFuture<PredictResponse> settled(Caller caller, PredictRequest request) {
        try {
            return answer(caller, request)
                    .exceptionally(e -> refused(request.getRequestId(), GrpcSupport.apiError(e)));
        } catch (ApiError e) {
            return CompletableFuture.completedFuture(refused(request.getRequestId(), e));
        }
    }

    private CompletableFuture<PredictResponse> answer(Caller caller, PredictRequest request) {
        PredictOptions options = request.getOptions();
        long timeout = options.getTimeoutMs() == 0 ? defaultTimeoutMs : options.getTimeoutMs();
        if (timeout > maxTimeoutMs) {
            throw RequestFields.invalid("options.timeout_ms", "must be at most " + maxTimeoutMs);
        }
        PredictCall call =
                PredictCall.of(
                        request.getRequestId().isEmpty() ? null : request.getRequestId(),
                        request.getModel(),
                        request.getEntityId().isEmpty() ? null : request.getEntityId(),
                        request.getEventType().isEmpty() ? null : request.getEventType(),
                        request.getEventTime() == 0 ? null : request.getEventTime(),
                        request.hasFields() ? GrpcSupport.json(request.getFields()) : null,
                        PredictCall.mode(options.getMode()),
                        options.getReturnProbabilities(),
                        timeout,
                        PredictCall.path(options.getPath()));
        return service.submit(caller, call).thenApply(PredictGrpcService::response);
    }

    static PredictResponse response(PredictService.Outcome outcome) {
        if (outcome instanceof PredictService.Accepted accepted) {
            return PredictResponse.newBuilder()
                    .setRequestId(accepted.call().requestId())
                    .setModel(accepted.call().model())
                    .setStatus("accepted")
                    .build();
        }
        Answer answer = ((PredictService.Answered) outcome).answer();
        PredictResponse.Builder r =
                PredictResponse.newBuilder()
                        .setRequestId(answer.call().requestId())
                        .setModel(answer.call().model())
                        .setTiming(
                                Timing.newBuilder()
                                        .setTotalMs(answer.totalMs())
                                        .setJobMs(answer.jobMs())
                                        .setKafkaMs(answer.kafkaMs())
                                        .setGatewayMs(answer.gatewayMs())
                                        .setRequestLegMs(answer.requestLegMs())
                                        .setReplyLegMs(answer.replyLegMs()));
        if (!answer.ok()) {
            ApiError refusal = answer.refusal();
            return r.setStatus(refusal.code)
                    .setMessage(refusal.getMessage())
                    .setReason(answer.deadLetter().getReasonCode().name())
                    .build();
        }
        Prediction p = answer.prediction();
        r.setStatus("ok").setVersion(p.getModelVersion()).setScore(p.getScore());
        if (p.getPredictedClass() != null) {
            r.setHasClass(true).setPredictedClass(p.getPredictedClass());
        }
        if (p.getPredictedLabel() != null) {
            r.setLabel(p.getPredictedLabel());
        }
        if (answer.call().returnProbabilities()) {
            r.addAllProbabilities(p.getProbabilities());
        }
        return r.build();
    }

    private static PredictResponse refused(String requestId, ApiError e) {
        return PredictResponse.newBuilder()
                .setRequestId(requestId)
                .setStatus(e.code)
                .setMessage(e.getMessage())
                .build();
    }
}
