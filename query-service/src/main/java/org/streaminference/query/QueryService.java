package org.streaminference.query;

import org.streaminference.schemas.Identifiers;
import org.streaminference.schemas.StorableValues;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreOptions;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.SQLTimeoutException;
import java.sql.SQLTransientConnectionException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The HTTP query service over the result store: latest predictions and history per entity, the
 * model versions answering, health, Prometheus metrics and its OpenAPI description. Every {@code
 * /v1} request needs an API key with the route's scope and is rate limited per key; parameters are
 * validated before any SQL runs, SQL is prepared statements only, and error bodies carry a code and
 * a message, never internals.
 */
@PublicEvolving
public final class QueryService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QueryService.class);

    /** Entity ids and model names: what the pipeline accepts as keys, at most 128 characters. */
    static final Pattern IDENTIFIER = Identifiers.PATTERN;

    private static final String OPENAPI = "/org/streaminference/query/openapi.json";
    private static final String STARTED = "startNanos";

    private final Javalin app;
    private final PredictionStore store;
    private final QueryMetrics metrics = new QueryMetrics();
    private final ApiKeysFile keys;
    private final RateLimiter limiter;
    private final int maxHistoryLimit;
    private final String openApi;

    private QueryService(ResultStoreConfig storeOptions, Configuration config) throws IOException {
        String keysFile = config.get(QueryServiceOptions.API_KEYS_FILE);
        if (keysFile == null) {
            throw new IllegalConfigurationException(
                    "Option '"
                            + QueryServiceOptions.API_KEYS_FILE.key()
                            + "' is required: the service answers only requests with an API key.");
        }
        this.keys = new ApiKeysFile(Path.of(keysFile), Clock.systemUTC());
        this.limiter =
                new RateLimiter(
                        config.get(QueryServiceOptions.RATE_LIMIT),
                        config.get(QueryServiceOptions.RATE_LIMIT_BURST));
        this.maxHistoryLimit = config.get(QueryServiceOptions.MAX_HISTORY_LIMIT);
        try (InputStream in = QueryService.class.getResourceAsStream(OPENAPI)) {
            this.openApi = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        this.store = new PredictionStore(storeOptions, config.get(QueryServiceOptions.POOL_SIZE));
        this.app =
                Javalin.create(
                        javalin -> {
                            javalin.http.maxRequestSize = 16 * 1024;
                            javalin.startup.showJavalinBanner = false;
                            javalin.jetty.modifyServer(
                                    server -> server.setErrorHandler(new JsonErrorHandler()));
                            javalin.routes.before(this::start);
                            javalin.routes.before(
                                    "/v1/*", ctx -> authorize(ctx, requiredScope(ctx.path())));
                            javalin.routes.get("/health", this::health);
                            javalin.routes.get(
                                    "/metrics",
                                    ctx ->
                                            ctx.contentType(
                                                            "text/plain; version=0.0.4; charset=utf-8")
                                                    .result(metrics.scrape()));
                            javalin.routes.get(
                                    "/openapi.json",
                                    ctx -> ctx.contentType("application/json").result(openApi));
                            javalin.routes.get("/v1/predictions/{entityId}", this::latest);
                            javalin.routes.get("/v1/predictions/{entityId}/history", this::history);
                            javalin.routes.get("/v1/models", this::models);
                            javalin.routes.after(this::finish);
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
                            javalin.routes.exception(
                                    SQLException.class,
                                    (e, ctx) -> {
                                        if (isUnavailable(e)) {
                                            metrics.rejected("unavailable");
                                            LOG.warn(
                                                    "Request {} {}: the result store is unavailable ({})",
                                                    ctx.method(),
                                                    ctx.path(),
                                                    e.toString());
                                            error(
                                                    ctx,
                                                    new ApiError(
                                                            503,
                                                            "unavailable",
                                                            "the result store is unavailable; try again later",
                                                            Map.of(
                                                                    "Retry-After",
                                                                    Integer.toString(
                                                                            RETRY_AFTER_SECONDS))));
                                            return;
                                        }
                                        String incident = UUID.randomUUID().toString();
                                        LOG.error(
                                                "Request {} {} failed (incident {})",
                                                ctx.method(),
                                                ctx.path(),
                                                incident,
                                                e);
                                        error(
                                                ctx,
                                                new ApiError(
                                                        500,
                                                        "internal_error",
                                                        "internal error; incident " + incident));
                                    });
                            javalin.routes.exception(
                                    Exception.class,
                                    (e, ctx) -> {
                                        String incident = UUID.randomUUID().toString();
                                        LOG.error(
                                                "Request {} {} failed (incident {})",
                                                ctx.method(),
                                                ctx.path(),
                                                incident,
                                                e);
                                        error(
                                                ctx,
                                                new ApiError(
                                                        500,
                                                        "internal_error",
                                                        "internal error; incident " + incident));
                                    });
                        });
        app.start(config.get(QueryServiceOptions.HOST), config.get(QueryServiceOptions.PORT));
        LOG.info(
                "Query service listening on port {} over {}",
                app.port(),
                ResultStoreConfig.masked(storeOptions.jdbcUrl()));
    }

    /** How long a client should wait before retrying while the result store is unavailable. */
    static final int RETRY_AFTER_SECONDS = 5;

    /**
     * Whether a failed query means the database cannot be reached or did not answer in time (503,
     * retry), rather than a fault of the service (500): no connection from the pool in time, a
     * connection error (SQLState class 08), a server shutting down (57P), a statement cancelled by
     * its timeout (57014) or a socket timeout.
     */
    static boolean isUnavailable(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException
                    || t instanceof SQLTimeoutException
                    || t instanceof SocketTimeoutException
                    || t instanceof ConnectException) {
                return true;
            }
            if (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08")
                            || sql.getSQLState().startsWith("57P")
                            || sql.getSQLState().equals("57014"))) {
                return true;
            }
        }
        return false;
    }

    /** Starts the service with the given options ({@code query.*} and {@code result-store.*}). */
    public static QueryService start(Configuration config) throws IOException {
        return new QueryService(
                ResultStoreOptions.resultStoreConfig(config, System.getenv()), config);
    }

    public int port() {
        return app.port();
    }

    /** A new random API key. */
    public static String newApiKey() {
        return ApiKeys.generate();
    }

    /**
     * The line of {@code query.api-keys-file} that lets {@code key} read predictions and models.
     */
    public static String keysFileLine(String name, String key) {
        return ApiKeys.line(
                name, key, new TreeSet<>(Set.of(ApiKeys.PREDICTIONS_READ, ApiKeys.MODELS_READ)));
    }

    // --- requests
    // -----------------------------------------------------------------------------------------------

    private static String requiredScope(String path) {
        return path.startsWith("/v1/models") ? ApiKeys.MODELS_READ : ApiKeys.PREDICTIONS_READ;
    }

    private void start(Context ctx) {
        ctx.attribute(STARTED, System.nanoTime());
        ctx.header("Cache-Control", "no-store");
        ctx.header("X-Content-Type-Options", "nosniff");
    }

    private void authorize(Context ctx, String scope) {
        String presented = presentedKey(ctx);
        if (presented == null) {
            metrics.rejected("unauthenticated");
            throw new ApiError(
                    401,
                    "unauthenticated",
                    "an API key is required (Authorization: Bearer <key>)",
                    Map.of("WWW-Authenticate", "Bearer"));
        }
        ApiKeys.ApiKey key =
                keys.authenticate(presented)
                        .orElseThrow(
                                () -> {
                                    metrics.rejected("unauthenticated");
                                    return new ApiError(
                                            401,
                                            "unauthenticated",
                                            "the API key is not valid",
                                            Map.of(
                                                    "WWW-Authenticate",
                                                    "Bearer error=\"invalid_token\""));
                                });
        if (!key.scopes().contains(scope)) {
            metrics.rejected("forbidden");
            throw new ApiError(403, "forbidden", "this API key lacks the scope " + scope);
        }
        long waitMillis = limiter.tryAcquire(key.name());
        if (waitMillis > 0) {
            metrics.rejected("rate_limited");
            throw new ApiError(
                    429,
                    "rate_limited",
                    "too many requests for this API key",
                    Map.of("Retry-After", Long.toString(Math.max(1, (waitMillis + 999) / 1000))));
        }
    }

    private static String presentedKey(Context ctx) {
        String authorization = ctx.header("Authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return authorization.substring(7).strip();
        }
        return ctx.header("X-API-Key");
    }

    private void health(Context ctx) {
        boolean up = store.isReachable();
        ctx.status(up ? 200 : 503)
                .json(
                        Map.of(
                                "status",
                                up ? "ok" : "unavailable",
                                "database",
                                up ? "reachable" : "unreachable"));
    }

    private void latest(Context ctx) throws Exception {
        String entityId = identifier(ctx.pathParam("entityId"), "entityId");
        String model =
                ctx.queryParam("model") == null
                        ? null
                        : identifier(ctx.queryParam("model"), "model");
        rejectUnknownParameters(ctx, Set.of("model"));
        List<Map<String, Object>> rows = store.latest(entityId, model);
        if (rows.isEmpty()) {
            throw new ApiError(
                    404,
                    "not_found",
                    model == null
                            ? "no prediction for this entity"
                            : "no prediction for this entity from model '" + model + "'");
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("entityId", entityId);
        body.put("predictions", rows);
        ctx.json(body);
    }

    private void history(Context ctx) throws Exception {
        String entityId = identifier(ctx.pathParam("entityId"), "entityId");
        String model =
                ctx.queryParam("model") == null
                        ? null
                        : identifier(ctx.queryParam("model"), "model");
        int limit = limit(ctx.queryParam("limit"));
        Instant since = since(ctx.queryParam("since"));
        rejectUnknownParameters(ctx, Set.of("model", "limit", "since"));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("entityId", entityId);
        body.put("predictions", store.history(entityId, model, since, limit));
        ctx.json(body);
    }

    private void models(Context ctx) throws Exception {
        rejectUnknownParameters(ctx, Set.of());
        ctx.json(Map.of("models", store.models()));
    }

    private String identifier(String value, String name) {
        if (!Identifiers.isValid(value)) {
            metrics.rejected("invalid");
            throw new ApiError(400, "invalid_" + name, name + " must be " + Identifiers.RULE);
        }
        return value;
    }

    private int limit(String value) {
        if (value == null) {
            return Math.min(100, maxHistoryLimit);
        }
        try {
            int limit = Integer.parseInt(value);
            if (limit >= 1 && limit <= maxHistoryLimit) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        metrics.rejected("invalid");
        throw new ApiError(
                400, "invalid_limit", "limit must be an integer from 1 to " + maxHistoryLimit);
    }

    private static final Instant MIN_SINCE = Instant.ofEpochMilli(StorableValues.MIN_TIME_MILLIS);
    private static final Instant MAX_SINCE = Instant.ofEpochMilli(StorableValues.MAX_TIME_MILLIS);

    private Instant since(String value) {
        if (value == null) {
            return null;
        }
        try {
            if (value.length() <= 40) {
                Instant since = Instant.parse(value);
                if (since.isBefore(MIN_SINCE) || since.isAfter(MAX_SINCE)) {
                    metrics.rejected("invalid");
                    throw new ApiError(
                            400,
                            "invalid_since",
                            "since must lie between " + MIN_SINCE + " and " + MAX_SINCE);
                }
                return since;
            }
        } catch (DateTimeParseException e) {
            // answered below
        }
        metrics.rejected("invalid");
        throw new ApiError(
                400,
                "invalid_since",
                "since must be an ISO-8601 instant, e.g. 2026-11-26T12:00:00Z");
    }

    private void rejectUnknownParameters(Context ctx, Set<String> known) {
        for (String name : ctx.queryParamMap().keySet()) {
            if (!known.contains(name)) {
                metrics.rejected("invalid");
                throw new ApiError(
                        400,
                        "unknown_parameter",
                        "unknown query parameter; this route takes " + known);
            }
        }
    }

    private void error(Context ctx, ApiError e) {
        e.headers.forEach(ctx::header);
        Map<String, String> body = new LinkedHashMap<>();
        body.put("code", e.code);
        body.put("message", e.getMessage());
        ctx.status(e.status).json(body);
    }

    private void finish(Context ctx) {
        Long started = ctx.attribute(STARTED);
        String route = routeOf(ctx.path());
        metrics.observe(
                route, ctx.statusCode(), started == null ? 0 : (System.nanoTime() - started) / 1e9);
    }

    /**
     * A bounded set of route labels, so that metrics cannot be flooded with one label per entity
     * id.
     */
    private static String routeOf(String path) {
        if (path.startsWith("/v1/predictions/")) {
            return path.endsWith("/history")
                    ? "/v1/predictions/{entityId}/history"
                    : "/v1/predictions/{entityId}";
        }
        return switch (path) {
            case "/v1/models", "/health", "/metrics", "/openapi.json" -> path;
            default -> "other";
        };
    }

    @Override
    public void close() {
        app.stop();
        store.close();
    }

    // --- entry point
    // ------------------------------------------------------------------------------------------

    /** The command line: {@code serve} and {@code create-key}; see {@link QueryServiceCli}. */
    public static void main(String[] args) {
        int exitCode = QueryServiceCli.commandLine().execute(args);
        if (exitCode != 0) {
            System.exit(exitCode); // a started service keeps the JVM alive with its server threads
        }
    }
}
