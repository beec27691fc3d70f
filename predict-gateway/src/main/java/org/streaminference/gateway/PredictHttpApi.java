package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.query.ApiKeys;
import org.streaminference.query.JsonErrorHandler;
import org.streaminference.schemas.Identifiers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The gateway's REST API: {@code POST /v1/models/{model}/predict}, {@code GET
 * /v1/models[/{model}]}, {@code GET /v1/requests/{id}}, and the Open Inference Protocol's REST
 * endpoints ({@code /v2} health, server and model metadata, readiness, {@code infer}). Requests
 * wait for the job's answer without holding a server thread (Javalin's futures). Error bodies are
 * {@code {"code", "message"}} with the status a client expects; OIP errors are {@code {"error":
 * message}} as the protocol says.
 */
@Internal
final class PredictHttpApi {
    private static final Logger LOG = LoggerFactory.getLogger(PredictHttpApi.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PredictService service;
    private final Authenticator auth;
    private final ServedModelsView models;
    private final GatewayMetrics metrics;
    private final long defaultTimeoutMs;
    private final long maxTimeoutMs;
    private final int maxBatch;
    private final Javalin app;

    PredictHttpApi(FrontDoor door) {
        this.service = door.service();
        this.auth = door.auth();
        this.models = door.models();
        this.metrics = door.metrics();
        this.defaultTimeoutMs = door.defaultTimeoutMs();
        this.maxTimeoutMs = door.maxTimeoutMs();
        this.maxBatch = door.maxBatch();
        this.app =
                Javalin.create(
                        javalin -> {
                            javalin.http.maxRequestSize = 4 * 1024 * 1024;
                            javalin.startup.showJavalinBanner = false;
                            javalin.jetty.modifyServer(
                                    server -> server.setErrorHandler(new JsonErrorHandler()));
                            javalin.routes.get("/health", ctx -> ctx.json(Map.of("status", "UP")));
                            javalin.routes.get(
                                    "/metrics",
                                    ctx ->
                                            ctx.contentType(
                                                            "text/plain; version=0.0.4; charset=utf-8")
                                                    .result(metrics.scrape()));
                            javalin.routes.post("/v1/models/{model}/predict", this::predict);
                            javalin.routes.get("/v1/models", this::listModels);
                            javalin.routes.get("/v1/models/{model}", this::describeModel);
                            javalin.routes.get("/v1/requests/{id}", this::request);
                            javalin.routes.get("/v2", this::serverMetadata);
                            javalin.routes.get(
                                    "/v2/health/live", ctx -> ctx.json(Map.of("live", true)));
                            javalin.routes.get("/v2/health/ready", this::serverReady);
                            javalin.routes.get("/v2/models/{model}", this::modelMetadata);
                            javalin.routes.get("/v2/models/{model}/ready", this::modelReady);
                            javalin.routes.post("/v2/models/{model}/infer", this::infer);
                            javalin.routes.exception(ApiError.class, (e, ctx) -> error(ctx, e));
                            javalin.routes.exception(
                                    HttpResponseException.class,
                                    (e, ctx) ->
                                            error(
                                                    ctx,
                                                    new ApiError(
                                                            e.getStatus(),
                                                            e.getStatus() == 404
                                                                    ? "not_found"
                                                                    : "bad_request",
                                                            e.getStatus() == 404
                                                                    ? "no such resource"
                                                                    : "the request cannot be served")));
                            javalin.routes.exception(Exception.class, (e, ctx) -> internal(ctx, e));
                        });
    }

    Javalin start(String host, int port) {
        return app.start(host, port);
    }

    int port() {
        return app.port();
    }

    void stop() {
        app.stop();
    }

    // --- the predict API

    private void predict(Context ctx) {
        Caller caller = auth.authorize(ctx.header("Authorization"), ApiKeys.PREDICT);
        auth.admit(caller, 1);
        PredictCall call =
                PredictCall.fromJson(
                        ctx.pathParam("model"), body(ctx), defaultTimeoutMs, maxTimeoutMs);
        CompletableFuture<PredictService.Outcome> outcome = service.submit(caller, call);
        ctx.future(
                () ->
                        outcome.handle(
                                (o, e) -> {
                                    respond(ctx, o, e, "rest");
                                    return null;
                                }));
    }

    private void respond(Context ctx, PredictService.Outcome o, Throwable e, String protocol) {
        if (e != null) {
            Throwable cause = e instanceof CompletionException ? e.getCause() : e;
            if (cause instanceof ApiError api) {
                metrics.answered(protocol, api.code);
                error(ctx, api);
            } else {
                internal(ctx, cause);
            }
            return;
        }
        if (o instanceof PredictService.Accepted accepted) {
            metrics.answered(protocol, "accepted");
            String id = accepted.call().requestId();
            ctx.status(202)
                    .header("Location", "/v1/requests/" + id)
                    .json(
                            Map.of(
                                    "request_id",
                                    id,
                                    "status",
                                    "accepted",
                                    "status_url",
                                    "/v1/requests/" + id));
            return;
        }
        Answer answer = ((PredictService.Answered) o).answer();
        if (answer.ok()) {
            metrics.answered(protocol, "ok");
            ctx.json(answer.toJson());
        } else {
            ApiError refusal = answer.refusal();
            metrics.answered(protocol, refusal.code);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("code", refusal.code);
            body.put("message", refusal.getMessage());
            body.put("request_id", answer.call().requestId());
            ctx.status(refusal.status).json(body);
        }
    }

    private void request(Context ctx) {
        Caller caller = auth.authorize(ctx.header("Authorization"), ApiKeys.PREDICT);
        String id = ctx.pathParam("id");
        if (!Identifiers.isValid(id)) {
            throw new ApiError(400, "invalid_request_id", "a request id is " + Identifiers.RULE);
        }
        var found = service.lookup(caller, id);
        if (found.isEmpty()) {
            throw new ApiError(404, "not_found", "no request " + id + " of this caller here");
        }
        if (found.get().isEmpty()) {
            ctx.status(202).json(Map.of("request_id", id, "status", "pending"));
            return;
        }
        Answer answer = found.get().get();
        Map<String, Object> body = answer.toJson();
        body.put("status", answer.ok() ? "done" : "refused");
        ctx.json(body);
    }

    private void listModels(Context ctx) {
        auth.authorize(ctx.header("Authorization"), ApiKeys.MODELS_READ);
        ctx.json(Map.of("models", models.list()));
    }

    private void describeModel(Context ctx) {
        auth.authorize(ctx.header("Authorization"), ApiKeys.MODELS_READ);
        String model = ctx.pathParam("model");
        ctx.json(
                models.describe(model)
                        .orElseThrow(
                                () ->
                                        new ApiError(
                                                404,
                                                "model_not_found",
                                                "no job reported serving model '"
                                                        + (Identifiers.isValid(model) ? model : "?")
                                                        + "'")));
    }

    // --- the Open Inference Protocol (REST)

    private void serverMetadata(Context ctx) {
        ctx.json(
                Map.of(
                        "name", "streaminference-predict-gateway",
                        "version", "v2",
                        "extensions", List.of()));
    }

    private void serverReady(Context ctx) {
        boolean ready = service.ready();
        ctx.status(ready ? 200 : 503).json(Map.of("ready", ready));
    }

    private void modelReady(Context ctx) {
        auth.authorize(ctx.header("Authorization"), ApiKeys.MODELS_READ);
        boolean ready = service.ready() && models.serves(ctx.pathParam("model"));
        ctx.status(ready ? 200 : 400).json(Map.of("name", ctx.pathParam("model"), "ready", ready));
    }

    private void modelMetadata(Context ctx) {
        auth.authorize(ctx.header("Authorization"), ApiKeys.MODELS_READ);
        String model = ctx.pathParam("model");
        var deployment =
                models.deployment(model)
                        .orElseThrow(
                                () ->
                                        oipError(
                                                404,
                                                "no job reported serving model '" + model + "'"));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", model);
        body.put("versions", new ArrayList<>(deployment.servedVersions()));
        body.put("platform", "streaminference_onnx");
        body.put("inputs", metadata(OipTensors.inputsMetadata(service.fields().eventFields())));
        body.put("outputs", metadata(OipTensors.outputsMetadata()));
        ctx.json(body);
    }

    private static List<Map<String, Object>> metadata(List<OipTensors.Tensor> tensors) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (OipTensors.Tensor t : tensors) {
            list.add(Map.of("name", t.name(), "datatype", t.datatype(), "shape", t.shape()));
        }
        return list;
    }

    private void infer(Context ctx) {
        Caller caller = auth.authorize(ctx.header("Authorization"), ApiKeys.PREDICT);
        JsonNode body = body(ctx);
        Map<String, Object> parameters = new HashMap<>();
        body.path("parameters")
                .fields()
                .forEachRemaining(
                        p ->
                                parameters.put(
                                        p.getKey(),
                                        p.getValue().isNumber()
                                                ? p.getValue().numberValue()
                                                : p.getValue().asText()));
        String id = body.path("id").asText(null);
        String model = ctx.pathParam("model");
        List<PredictCall> calls;
        try {
            calls =
                    OipTensors.calls(
                            model,
                            id,
                            parameters,
                            OipTensors.fromJson(body.path("inputs")),
                            service.fields().eventFields(),
                            defaultTimeoutMs,
                            maxTimeoutMs,
                            maxBatch);
        } catch (ApiError e) {
            throw oipError(e.status, e.getMessage());
        }
        auth.admit(caller, calls.size());
        CompletableFuture<List<Answer>> all = submitAll(service, caller, calls);
        ctx.future(
                () ->
                        all.handle(
                                (answers, e) -> {
                                    if (e != null) {
                                        Throwable cause =
                                                e instanceof CompletionException ? e.getCause() : e;
                                        ApiError api =
                                                cause instanceof ApiError a
                                                        ? a
                                                        : new ApiError(
                                                                500,
                                                                "internal_error",
                                                                "internal error");
                                        metrics.answered("oip", api.code);
                                        api.headers.forEach(ctx::header);
                                        ctx.status(api.status)
                                                .json(Map.of("error", api.getMessage()));
                                        return null;
                                    }
                                    metrics.answered("oip", "ok");
                                    Map<String, Object> response = new LinkedHashMap<>();
                                    response.put("model_name", model);
                                    response.put("model_version", OipTensors.versions(answers));
                                    if (id != null) {
                                        response.put("id", id);
                                    }
                                    response.put(
                                            "outputs",
                                            OipTensors.toJson(OipTensors.outputs(answers)));
                                    ctx.json(response);
                                    return null;
                                }));
    }

    /**
     * Every call's answer, in order; fails with the first refusal (the protocol has no per-row
     * errors).
     */
    static CompletableFuture<List<Answer>> submitAll(
            PredictService service, Caller caller, List<PredictCall> calls) {
        List<CompletableFuture<PredictService.Outcome>> futures = new ArrayList<>();
        for (PredictCall call : calls) {
            futures.add(service.submit(caller, call));
        }
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new))
                .thenApply(
                        v -> {
                            List<Answer> answers = new ArrayList<>();
                            for (CompletableFuture<PredictService.Outcome> f : futures) {
                                Answer a = ((PredictService.Answered) f.join()).answer();
                                if (!a.ok()) {
                                    throw a.refusal();
                                }
                                answers.add(a);
                            }
                            return answers;
                        });
    }

    private static ApiError oipError(int status, String message) {
        return new ApiError(status, "oip", message);
    }

    // --- plumbing

    private static JsonNode body(Context ctx) {
        try {
            return JSON.readTree(ctx.bodyAsBytes());
        } catch (Exception e) {
            throw new ApiError(400, "invalid_body", "the body is not JSON");
        }
    }

    private void error(Context ctx, ApiError e) {
        e.headers.forEach(ctx::header);
        if (e.code.equals("oip")) {
            ctx.status(e.status).json(Map.of("error", e.getMessage()));
            return;
        }
        Map<String, String> body = new LinkedHashMap<>();
        body.put("code", e.code);
        body.put("message", e.getMessage());
        ctx.status(e.status).json(body);
    }

    private void internal(Context ctx, Throwable e) {
        String incident = UUID.randomUUID().toString();
        LOG.error("Request {} {} failed (incident {})", ctx.method(), ctx.path(), incident, e);
        error(ctx, new ApiError(500, "internal_error", "internal error; incident " + incident));
    }
}
