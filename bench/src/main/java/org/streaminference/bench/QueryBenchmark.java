package org.streaminference.bench;

import org.streaminference.query.QueryService;
import org.streaminference.query.QueryServiceOptions;
import org.streaminference.sinks.ResultStoreConfig;
import org.streaminference.sinks.ResultStoreOptions;
import org.streaminference.sinks.ResultStoreSchema;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Point lookups through the query service under concurrent load, against a real PostgreSQL holding
 * the given number of entities, next to the same lookups made with plain JDBC (the ceiling):
 * requests per second and latency percentiles at each concurrency, measured in one run.
 */
@Command(
        name = "query-benchmark",
        mixinStandardHelpOptions = true,
        description = "Latency and throughput of the query service's point lookups.")
public final class QueryBenchmark implements Callable<Integer> {
    @Option(
            names = "--entities",
            defaultValue = "100000",
            description = "Entities in the store (default ${DEFAULT-VALUE}).")
    int entities;

    @Option(
            names = "--history-per-entity",
            defaultValue = "10",
            description = "History rows per entity (default ${DEFAULT-VALUE}).")
    int historyPerEntity;

    @Option(
            names = "--clients",
            split = ",",
            defaultValue = "1,4,16",
            description = "Concurrent clients to measure with (default ${DEFAULT-VALUE}).")
    List<Integer> clients;

    @Option(
            names = "--seconds",
            defaultValue = "8",
            description = "Length of each measurement (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--out", defaultValue = "bench/results", description = "Where results go.")
    Path out;

    public static void main(String[] args) {
        System.exit(new CommandLine(new QueryBenchmark()).execute(args));
    }

    private record Result(
            String what, int clients, long requests, long errors, double seconds, long[] nanos) {
        double rps() {
            return requests / seconds;
        }

        double percentileMillis(double q) {
            if (nanos.length == 0) {
                return 0;
            }
            return nanos[(int) Math.min(nanos.length - 1, Math.floor(q * nanos.length))] / 1e6;
        }
    }

    @FunctionalInterface
    private interface Lookup {
        boolean run(String entityId) throws Exception;
    }

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("query-bench");
        System.out.printf(
                "Query benchmark: %d cores; %,d entities, %,d history rows; real PostgreSQL (embedded)%n",
                Runtime.getRuntime().availableProcessors(),
                entities,
                (long) entities * historyPerEntity);
        try (EmbeddedPostgres postgres =
                EmbeddedPostgres.builder()
                        .setDataDirectory(work.resolve("pg"))
                        .setCleanDataDirectory(true)
                        .start()) {
            String jdbcUrl = postgres.getJdbcUrl("postgres", "postgres");
            ResultStoreConfig store = new ResultStoreConfig(jdbcUrl, "postgres", "", 100, 100, 3);
            ResultStoreSchema.migrate(store);
            load(jdbcUrl);

            String key = QueryService.newApiKey();
            Path keys = work.resolve("keys");
            Files.writeString(keys, QueryService.keysFileLine("bench", key) + "\n");
            Configuration config = new Configuration();
            config.set(ResultStoreOptions.RESULT_STORE_JDBC_URL, jdbcUrl);
            config.set(ResultStoreOptions.RESULT_STORE_PASSWORD, "");
            config.set(QueryServiceOptions.HOST, "127.0.0.1");
            config.set(QueryServiceOptions.PORT, 0);
            config.set(QueryServiceOptions.API_KEYS_FILE, keys.toString());
            config.set(QueryServiceOptions.RATE_LIMIT, 1e9);
            config.set(QueryServiceOptions.RATE_LIMIT_BURST, 1_000_000_000);
            int maxClients = clients.stream().mapToInt(Integer::intValue).max().orElse(1);
            config.set(QueryServiceOptions.POOL_SIZE, Math.max(8, maxClients));
            List<Result> results = new ArrayList<>();
            try (QueryService service = QueryService.start(config)) {
                HttpClient http =
                        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
                String base = "http://127.0.0.1:" + service.port();
                Lookup latest =
                        id ->
                                http.send(
                                                        HttpRequest.newBuilder(
                                                                        URI.create(
                                                                                base
                                                                                        + "/v1/predictions/"
                                                                                        + id))
                                                                .header(
                                                                        "Authorization",
                                                                        "Bearer " + key)
                                                                .build(),
                                                        HttpResponse.BodyHandlers.ofString())
                                                .statusCode()
                                        == 200;
                Lookup history =
                        id ->
                                http.send(
                                                        HttpRequest.newBuilder(
                                                                        URI.create(
                                                                                base
                                                                                        + "/v1/predictions/"
                                                                                        + id
                                                                                        + "/history?limit=10"))
                                                                .header(
                                                                        "Authorization",
                                                                        "Bearer " + key)
                                                                .build(),
                                                        HttpResponse.BodyHandlers.ofString())
                                                .statusCode()
                                        == 200;
                Lookup noDatabase =
                        id ->
                                http.send(
                                                        HttpRequest.newBuilder(
                                                                        URI.create(
                                                                                base
                                                                                        + "/v1/predictions/"
                                                                                        + id
                                                                                        + "/history?limit=0"))
                                                                .header(
                                                                        "Authorization",
                                                                        "Bearer " + key)
                                                                .build(),
                                                        HttpResponse.BodyHandlers.ofString())
                                                .statusCode()
                                        == 400;
                measure("warm-up", 4, latest, 3); // JIT, connection pools
                results.add(
                        measure("query service: refused before SQL (400)", 1, noDatabase, seconds));
                for (int c : clients) {
                    results.add(measure("query service: latest", c, latest, seconds));
                    results.add(measureJdbc(jdbcUrl, c));
                }
                results.add(measure("query service: history (limit 10)", 4, history, seconds));
            }
            report(results);
        }
        return 0;
    }

    private void load(String jdbcUrl) throws Exception {
        long start = System.nanoTime();
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
                Statement s = c.createStatement()) {
            s.execute(
                    "INSERT INTO latest_prediction (entity_id, model_name, model_version, event_id, event_time, score,"
                            + " predicted_class, predicted_label, probabilities, inference_time)"
                            + " SELECT 'entity-' || i, 'churn', '1', 'e-' || i, now() - (i || ' seconds')::interval, 0.7, 1,"
                            + " 'leave', ARRAY[0.3, 0.7], now() FROM generate_series(1, "
                            + entities
                            + ") i");
            s.execute(
                    "INSERT INTO prediction_history (event_id, model_name, model_version, entity_id, event_time,"
                            + " score, predicted_class, predicted_label, probabilities, inference_time)"
                            + " SELECT 'h-' || i, 'churn', '1', 'entity-' || (i % "
                            + entities
                            + " + 1),"
                            + " now() - (i || ' seconds')::interval, 0.7, 1, 'leave', ARRAY[0.3, 0.7], now()"
                            + " FROM generate_series(1, "
                            + (long) entities * historyPerEntity
                            + ") i");
            s.execute("ANALYZE");
        }
        System.out.printf("Loaded in %.1f s%n", (System.nanoTime() - start) / 1e9);
    }

    private static String randomEntity(int entities) {
        return "entity-" + (1 + ThreadLocalRandom.current().nextInt(entities));
    }

    private Result measure(String what, int concurrency, Lookup lookup, int durationSeconds)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        AtomicLong errors = new AtomicLong();
        long deadline = System.nanoTime() + Duration.ofSeconds(durationSeconds).toNanos();
        List<Future<long[]>> futures = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < concurrency; t++) {
            futures.add(
                    pool.submit(
                            () -> {
                                long[] samples = new long[1 << 16];
                                int n = 0;
                                while (System.nanoTime() < deadline) {
                                    long begin = System.nanoTime();
                                    if (!lookup.run(randomEntity(entities))) {
                                        errors.incrementAndGet();
                                    }
                                    if (n == samples.length) {
                                        samples = Arrays.copyOf(samples, n * 2);
                                    }
                                    samples[n++] = System.nanoTime() - begin;
                                }
                                return Arrays.copyOf(samples, n);
                            }));
        }
        List<long[]> parts = new ArrayList<>();
        for (Future<long[]> f : futures) {
            parts.add(f.get());
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        long[] all = parts.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        Result r = new Result(what, concurrency, all.length, errors.get(), elapsed, all);
        System.out.printf(
                Locale.ROOT,
                "  %-38s %3d clients: %,9.0f req/s, p50 %6.2f ms, p99 %6.2f ms, errors %d%n",
                what,
                concurrency,
                r.rps(),
                r.percentileMillis(0.5),
                r.percentileMillis(0.99),
                r.errors());
        return r;
    }

    /**
     * The same point lookup with plain JDBC, one connection per client: what the database alone can
     * do.
     */
    private Result measureJdbc(String jdbcUrl, int concurrency) throws Exception {
        List<Connection> connections = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            connections.add(DriverManager.getConnection(jdbcUrl, "postgres", ""));
        }
        ThreadLocal<PreparedStatement> statements = new ThreadLocal<>();
        AtomicLong next = new AtomicLong();
        try {
            return measure(
                    "plain JDBC: latest",
                    concurrency,
                    id -> {
                        PreparedStatement ps = statements.get();
                        if (ps == null) {
                            ps =
                                    connections
                                            .get((int) next.getAndIncrement())
                                            .prepareStatement(
                                                    "SELECT model_name, model_version, event_id, event_time, score, predicted_class,"
                                                            + " predicted_label, probabilities, inference_time FROM latest_prediction"
                                                            + " WHERE entity_id = ? ORDER BY model_name");
                            statements.set(ps);
                        }
                        ps.setString(1, id);
                        try (ResultSet rs = ps.executeQuery()) {
                            return rs.next();
                        }
                    },
                    seconds);
        } finally {
            for (Connection c : connections) {
                c.close();
            }
        }
    }

    private void report(List<Result> results) throws Exception {
        StringBuilder md = new StringBuilder();
        md.append(
                String.format(
                        Locale.ROOT,
                        "# Query service point lookups, %s, %d cores%n%n",
                        LocalDate.now(),
                        Runtime.getRuntime().availableProcessors()));
        md.append(
                String.format(
                        Locale.ROOT,
                        "`bench/run.sh query --entities %d --history-per-entity %d --seconds %d`:"
                                + " random entities, API key checked and rate limiter passed on every request, HTTP/1.1 from"
                                + " java.net.http clients on the same machine, embedded PostgreSQL with %,d latest rows and %,d"
                                + " history rows. Plain JDBC runs the service's query directly (one connection per client): the"
                                + " ceiling. Client, service and database share the machine's cores.%n%n",
                        entities,
                        historyPerEntity,
                        seconds,
                        entities,
                        (long) entities * historyPerEntity));
        md.append(
                "| lookup | clients | requests/s | p50 (ms) | p99 (ms) | errors | service / plain JDBC |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            String ratio = "";
            if (r.what().startsWith("query service: latest")) {
                for (Result j : results) {
                    if (j.what().startsWith("plain JDBC") && j.clients() == r.clients()) {
                        ratio = String.format(Locale.ROOT, "%.0f%%", 100 * r.rps() / j.rps());
                    }
                }
            }
            md.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %d | %,.0f | %.2f | %.2f | %d | %s |%n",
                            r.what(),
                            r.clients(),
                            r.rps(),
                            r.percentileMillis(0.5),
                            r.percentileMillis(0.99),
                            r.errors(),
                            ratio));
        }
        System.out.println();
        System.out.println(md);
        Files.createDirectories(out);
        Path file =
                out.resolve(
                        "query-"
                                + LocalDate.now()
                                + "-"
                                + Runtime.getRuntime().availableProcessors()
                                + "cores.md");
        Files.writeString(file, md.toString());
        System.out.println("Wrote " + file);
    }
}
