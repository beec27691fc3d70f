package org.streaminference.query;

import org.streaminference.schemas.Prediction;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreOptions;
import org.streaminference.sinks.ResultStoreSchema;
import org.streaminference.sinks.ResultStoreTestWrites;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The query service over a real PostgreSQL, through real HTTP: every route and every error status.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class QueryServiceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final long NOW = System.currentTimeMillis();

    @TempDir static Path dir;

    private static EmbeddedPostgres postgres;
    private static QueryService service;
    private static String reader;
    private static String modelsReader;

    @BeforeAll
    static void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        ResultStoreConfig store =
                new ResultStoreConfig(
                        postgres.getJdbcUrl("postgres", "postgres"), "postgres", "", 100, 100, 3);
        ResultStoreSchema.migrate(store);
        List<Prediction> predictions = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            predictions.add(prediction("u1", "e" + i, "churn", "1", NOW - (5 - i) * 60_000L));
        }
        predictions.add(prediction("u1", "e4", "fraud", "3", NOW - 60_000L));
        predictions.add(prediction("u2", "e9", "churn", "2", NOW));
        ResultStoreTestWrites.write(postgres.getPostgresDatabase(), predictions);

        reader = ApiKeys.generate();
        modelsReader = ApiKeys.generate();
        Path keys = dir.resolve("keys");
        Files.writeString(
                keys,
                "# test keys\n"
                        + ApiKeys.line("reader", reader, Set.of(ApiKeys.PREDICTIONS_READ))
                        + "\n"
                        + ApiKeys.line("ops", modelsReader, Set.of(ApiKeys.MODELS_READ))
                        + "\n");
        service = QueryService.start(config(keys, 1000, 1000));
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.close();
        }
        postgres.close();
    }

    private static Configuration config(Path keys, double rate, int burst) {
        Configuration config = new Configuration();
        config.set(
                ResultStoreOptions.RESULT_STORE_JDBC_URL,
                postgres.getJdbcUrl("postgres", "postgres"));
        config.set(ResultStoreOptions.RESULT_STORE_PASSWORD, "");
        config.set(QueryServiceOptions.HOST, "127.0.0.1");
        config.set(QueryServiceOptions.PORT, 0);
        config.set(QueryServiceOptions.API_KEYS_FILE, keys.toString());
        config.set(QueryServiceOptions.RATE_LIMIT, rate);
        config.set(QueryServiceOptions.RATE_LIMIT_BURST, burst);
        return config;
    }

    private static Prediction prediction(
            String entity, String eventId, String model, String version, long time) {
        return Prediction.newBuilder()
                .setEventId(eventId)
                .setEntityId(entity)
                .setModelName(model)
                .setModelVersion(version)
                .setScore(0.25)
                .setPredictedClass(0)
                .setPredictedLabel("stay")
                .setProbabilities(List.of(0.75, 0.25))
                .setEventTime(time)
                .setInferenceTime(time + 3)
                .build();
    }

    private record Response(int status, JsonNode body, HttpResponse<String> raw) {}

    private static Response get(QueryService s, String pathAndQuery, String key) throws Exception {
        HttpRequest.Builder request =
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + pathAndQuery))
                        .timeout(Duration.ofSeconds(20));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        HttpResponse<String> response =
                HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = response.body().startsWith("{") ? JSON.readTree(response.body()) : null;
        return new Response(response.statusCode(), body, response);
    }

    private static Response get(String pathAndQuery, String key) throws Exception {
        return get(service, pathAndQuery, key);
    }

    private static void assertError(Response r, int status, String code) {
        assertThat(r.status()).as(r.raw().uri() + " " + r.raw().body()).isEqualTo(status);
        assertThat(r.body())
                .as("JSON error body of %s: %s %s", r.raw().uri(), r.status(), r.raw().body())
                .isNotNull();
        assertThat(r.body().get("code").asText()).isEqualTo(code);
        assertThat(r.body().get("message").asText()).isNotBlank();
        assertThat(r.raw().body()).doesNotContain("Exception", "\tat ", "org.", "SQL", "postgres");
    }

    @Test
    void latestHasTheNewestPredictionOfEachModel() throws Exception {
        Response r = get("/v1/predictions/u1", reader);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("entityId").asText()).isEqualTo("u1");
        JsonNode predictions = r.body().get("predictions");
        assertThat(predictions).hasSize(2);
        assertThat(predictions.get(0).get("model").asText()).isEqualTo("churn");
        assertThat(predictions.get(0).get("eventId").asText()).isEqualTo("e4");
        assertThat(predictions.get(0).get("version").asText()).isEqualTo("1");
        assertThat(predictions.get(0).get("probabilities").get(1).asDouble()).isEqualTo(0.25);
        assertThat(predictions.get(1).get("model").asText()).isEqualTo("fraud");
        assertThat(r.raw().headers().firstValue("Cache-Control")).hasValue("no-store");

        Response fraud = get("/v1/predictions/u1?model=fraud", reader);
        assertThat(fraud.body().get("predictions"))
                .singleElement()
                .satisfies(p -> assertThat(p.get("model").asText()).isEqualTo("fraud"));
        assertError(get("/v1/predictions/u1?model=nobody", reader), 404, "not_found");
        assertError(get("/v1/predictions/u1?model=" + enc("a b"), reader), 400, "invalid_model");
        assertError(get("/v1/predictions/u1?modle=fraud", reader), 400, "unknown_parameter");
    }

    @Test
    void historyIsNewestFirstAndFiltersByModelTimeAndLimit() throws Exception {
        Response all = get("/v1/predictions/u1/history", reader);
        assertThat(all.status()).isEqualTo(200);
        assertThat(all.body().get("predictions")).hasSize(6);
        Response churn = get("/v1/predictions/u1/history?model=churn&limit=2", reader);
        assertThat(churn.body().get("predictions")).hasSize(2);
        assertThat(churn.body().get("predictions").get(0).get("eventId").asText()).isEqualTo("e4");
        assertThat(churn.body().get("predictions").get(1).get("eventId").asText()).isEqualTo("e3");
        String since =
                URLEncoder.encode(
                        Instant.ofEpochMilli(NOW - 150_000).toString(), StandardCharsets.UTF_8);
        Response recent = get("/v1/predictions/u1/history?model=churn&since=" + since, reader);
        assertThat(recent.body().get("predictions"))
                .extracting(p -> p.get("eventId").asText())
                .containsExactly("e4", "e3");
        assertThat(get("/v1/predictions/nobody/history", reader).body().get("predictions"))
                .isEmpty();
    }

    @Test
    void modelsNeedsItsOwnScope() throws Exception {
        Response r = get("/v1/models", modelsReader);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("models"))
                .extracting(
                        m ->
                                m.get("model").asText()
                                        + ":"
                                        + m.get("version").asText()
                                        + "="
                                        + m.get("entities").asLong())
                .containsExactly("churn:1=1", "churn:2=1", "fraud:3=1");
        assertError(get("/v1/models", reader), 403, "forbidden");
        assertError(get("/v1/predictions/u1", modelsReader), 403, "forbidden");
    }

    @Test
    void keysAreRequiredAndChecked() throws Exception {
        Response none = get("/v1/predictions/u1", null);
        assertError(none, 401, "unauthenticated");
        assertThat(none.raw().headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertError(get("/v1/predictions/u1", ApiKeys.generate()), 401, "unauthenticated");
        assertError(get("/v1/predictions/u1", reader + "x"), 401, "unauthenticated");
        assertError(get("/v1/predictions/u1", "x".repeat(5000)), 401, "unauthenticated");
        HttpResponse<String> viaHeader =
                HTTP.send(
                        HttpRequest.newBuilder(
                                        URI.create(
                                                "http://127.0.0.1:"
                                                        + service.port()
                                                        + "/v1/predictions/u1"))
                                .header("X-API-Key", reader)
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(viaHeader.statusCode()).isEqualTo(200);
    }

    @Test
    void keysRemovedFromTheFileOrExpiredAreRefusedWithinSecondsAndABrokenFileRefusesAll()
            throws Exception {
        Path keys = dir.resolve("rotating-keys");
        String kept = ApiKeys.generate();
        String revoked = ApiKeys.generate();
        String expired = ApiKeys.generate();
        String expiring = ApiKeys.generate();
        String keptLine = ApiKeys.line("kept", kept, Set.of(ApiKeys.PREDICTIONS_READ));
        Files.writeString(
                keys,
                keptLine
                        + "\n"
                        + ApiKeys.line("revoked", revoked, Set.of(ApiKeys.PREDICTIONS_READ))
                        + "\n"
                        + ApiKeys.line("expired", expired, Set.of(ApiKeys.PREDICTIONS_READ))
                        + " expires="
                        + Instant.now().minusSeconds(1)
                        + "\n"
                        + ApiKeys.line("expiring", expiring, Set.of(ApiKeys.PREDICTIONS_READ))
                        + " expires="
                        + Instant.now().plusSeconds(3600)
                        + "\n");
        try (QueryService s = QueryService.start(config(keys, 1000, 1000))) {
            assertThat(get(s, "/v1/predictions/u1", kept).status()).isEqualTo(200);
            assertThat(get(s, "/v1/predictions/u1", revoked).status()).isEqualTo(200);
            assertThat(get(s, "/v1/predictions/u1", expiring).status())
                    .as("not expired yet")
                    .isEqualTo(200);
            assertError(get(s, "/v1/predictions/u1", expired), 401, "unauthenticated");

            Files.writeString(
                    keys, keptLine + "\n"); // the operator takes a key back, with no restart
            await().atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> get(s, "/v1/predictions/u1", revoked).status() == 401);
            assertError(get(s, "/v1/predictions/u1", revoked), 401, "unauthenticated");
            assertThat(get(s, "/v1/predictions/u1", kept).status()).isEqualTo(200);

            Files.writeString(
                    keys,
                    keptLine + " expires=soon\n"); // a mistake: refuse everything, keep nothing
            await().atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> get(s, "/v1/predictions/u1", kept).status() == 503);
            assertError(get(s, "/v1/predictions/u1", kept), 503, "keys_unavailable");
            Files.writeString(keys, keptLine + "\n");
            await().atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> get(s, "/v1/predictions/u1", kept).status() == 200);
        }
    }

    @Test
    void aCorpusOfBadRequestsGetsTheRightStatusAndTheServiceStaysHealthy() throws Exception {
        String[][] corpus = {
            {"/v1/predictions/" + "a".repeat(129), "400", "invalid_entityId"},
            {
                "/v1/predictions/" + enc("ünïcødé"), "404", "not_found"
            }, // letters of any script: a valid id, as in the job
            {"/v1/predictions/" + enc("a b"), "400", "invalid_entityId"},
            {"/v1/predictions/" + enc("x".repeat(129)), "400", "invalid_entityId"},
            {"/v1/predictions/" + enc("1' OR '1'='1"), "400", "invalid_entityId"},
            {
                "/v1/predictions/" + enc("u1; DROP TABLE latest_prediction;--"),
                "400",
                "invalid_entityId"
            },
            {
                "/v1/predictions/" + enc("u1\u0000"), "400", "bad_request"
            }, // refused by Jetty, in the same shape
            {"/v1/predictions/" + enc("$(reboot)"), "400", "invalid_entityId"},
            {"/v1/predictions/" + enc("<script>alert(1)</script>"), "400", "invalid_entityId"},
            {"/v1/predictions/u1/history?limit=0", "400", "invalid_limit"},
            {"/v1/predictions/u1/history?limit=-1", "400", "invalid_limit"},
            {"/v1/predictions/u1/history?limit=1000000", "400", "invalid_limit"},
            {"/v1/predictions/u1/history?limit=ten", "400", "invalid_limit"},
            {"/v1/predictions/u1/history?limit=99999999999999999999", "400", "invalid_limit"},
            {"/v1/predictions/u1/history?since=yesterday", "400", "invalid_since"},
            {"/v1/predictions/u1/history?since=" + "9".repeat(100), "400", "invalid_since"},
            {
                "/v1/predictions/u1/history?since=" + enc("+10000-01-01T00:00:00Z"),
                "400",
                "invalid_since"
            },
            {
                "/v1/predictions/u1/history?since=" + enc("-0001-01-01T00:00:00Z"),
                "400",
                "invalid_since"
            },
            {"/v1/predictions/u1/history?model=" + enc("churn' --"), "400", "invalid_model"},
            {"/v1/predictions/u1/history?model=", "400", "invalid_model"},
            {"/v1/predictions/u1/history?order=asc", "400", "unknown_parameter"},
            {"/v1/models?debug=true", "403", "forbidden"},
            {"/v1/predictions/unknown-entity", "404", "not_found"},
            {"/v1/nothing-here", "404", "not_found"},
            {"/admin", "404", "not_found"},
        };
        for (String[] c : corpus) {
            assertError(get(c[0], reader), Integer.parseInt(c[1]), c[2]);
        }
        assertThat(get("/health", null).status()).isEqualTo(200);
        assertThat(get("/v1/predictions/u1", reader).status()).isEqualTo(200);
    }

    @Test
    void aFloodIsRateLimitedPerKeyWithRetryAfter() throws Exception {
        Path keys = dir.resolve("flood-keys");
        String flooder = ApiKeys.generate();
        String bystander = ApiKeys.generate();
        Files.writeString(
                keys,
                ApiKeys.line("flooder", flooder, Set.of(ApiKeys.PREDICTIONS_READ))
                        + "\n"
                        + ApiKeys.line("bystander", bystander, Set.of(ApiKeys.PREDICTIONS_READ))
                        + "\n");
        try (QueryService limited = QueryService.start(config(keys, 1, 5))) {
            List<Integer> statuses = new ArrayList<>();
            Response last = null;
            for (int i = 0; i < 30; i++) {
                last = get(limited, "/v1/predictions/u1", flooder);
                statuses.add(last.status());
            }
            assertThat(statuses.subList(0, 5)).containsOnly(200);
            assertThat(statuses).contains(429);
            assertError(last, 429, "rate_limited");
            assertThat(
                            Integer.parseInt(
                                    last.raw().headers().firstValue("Retry-After").orElseThrow()))
                    .isBetween(1, 2);
            assertThat(get(limited, "/v1/predictions/u1", bystander).status())
                    .as("other keys are not limited")
                    .isEqualTo(200);
            assertThat(get(limited, "/health", null).status()).isEqualTo(200);
        }
    }

    @Test
    void metricsCountRequestsByRouteNotByEntity() throws Exception {
        get("/v1/predictions/u2", reader);
        Response metrics = get("/metrics", null);
        assertThat(metrics.status()).isEqualTo(200);
        assertThat(metrics.raw().body())
                .contains(
                        "query_requests_total{route=\"/v1/predictions/{entityId}\",status=\"200\"}")
                .contains("query_request_duration_seconds")
                .doesNotContain("u2");
    }

    @Test
    void theOpenApiDescriptionCoversEveryRoute() throws Exception {
        Response r = get("/openapi.json", null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("openapi").asText()).startsWith("3.");
        List<String> paths = new ArrayList<>();
        r.body().get("paths").fieldNames().forEachRemaining(paths::add);
        assertThat(paths)
                .containsExactlyInAnyOrder(
                        "/v1/predictions/{entityId}",
                        "/v1/predictions/{entityId}/history",
                        "/v1/models",
                        "/health",
                        "/metrics",
                        "/openapi.json");
        assertThat(r.body().at("/components/parameters/entityId/schema/pattern").asText())
                .isEqualTo("^" + QueryService.IDENTIFIER.pattern() + "$");
    }

    @Test
    void healthSaysWhenTheDatabaseIsUnreachable() throws Exception {
        Configuration config = config(dir.resolve("keys"), 10, 10);
        config.set(ResultStoreOptions.RESULT_STORE_JDBC_URL, "jdbc:postgresql://127.0.0.1:1/none");
        try (QueryService down = QueryService.start(config)) {
            Response health = get(down, "/health", null);
            assertThat(health.status()).isEqualTo(503);
            assertThat(health.body().get("status").asText()).isEqualTo("unavailable");
        }
    }

    @Test
    void dataRoutesAnswer503WithRetryAfterWhileTheDatabaseIsUnreachable() throws Exception {
        Configuration config = config(dir.resolve("keys"), 10, 10);
        config.set(ResultStoreOptions.RESULT_STORE_JDBC_URL, "jdbc:postgresql://127.0.0.1:1/none");
        try (QueryService down = QueryService.start(config)) {
            for (String path : List.of("/v1/predictions/u1", "/v1/predictions/u1/history")) {
                Response r = get(down, path, reader);
                assertError(r, 503, "unavailable");
                assertThat(r.raw().headers().firstValue("Retry-After")).as(path).hasValue("5");
            }
        }
    }

    private static String enc(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
