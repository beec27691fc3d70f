package org.streaminference.bench;

import org.streaminference.gateway.grpc.PredictOptions;
import org.streaminference.gateway.grpc.PredictRequest;
import org.streaminference.gateway.grpc.PredictResponse;
import org.streaminference.gateway.grpc.PredictionServiceGrpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The predict benchmark's load client, run in a JVM of its own: requests at a fixed rate, open loop
 * (request i is due at start + i / rate and its latency counts from then, so a stalled server
 * cannot hide its queue), over REST (the JDK's HTTP client) or gRPC (the generated async stub).
 * Prints one JSON line: sent, errors, achieved rate, p50/p99/p99.9 in ms, and the answers' own time
 * shares (job, Kafka and its two legs, gateway).
 *
 * <p>Arguments: {@code rest|grpc target key rate seconds warm-up} (target: the predict URL, or
 * host:port for gRPC).
 */
public final class PredictLoad {
    static final int WIDTH = 32;
    private static final ObjectMapper JSON = new ObjectMapper();

    private PredictLoad() {}

    /** Sends request {@code i}; completes {@code done} with its answer's metadata or fails. */
    @FunctionalInterface
    interface Sender {
        void send(long i, CompletableFuture<double[]> done);
    }

    public static void main(String[] args) throws Exception {
        String protocol = args[0];
        String target = args[1];
        String key = args[2];
        double rate = Double.parseDouble(args[3]);
        int seconds = Integer.parseInt(args[4]);
        int warmUp = Integer.parseInt(args[5]);
        ManagedChannel channel = null;
        Sender sender;
        if (protocol.equals("grpc")) {
            channel = ManagedChannelBuilder.forTarget(target).usePlaintext().build();
            Metadata auth = new Metadata();
            auth.put(
                    Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
                    "Bearer " + key);
            var stub =
                    PredictionServiceGrpc.newStub(channel)
                            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
            sender = (i, done) -> grpc(stub, i, done);
        } else {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            sender = (i, done) -> rest(http, target, key, i, done);
        }
        System.out.println(measure(sender, rate, seconds, warmUp));
        if (channel != null) {
            channel.shutdownNow();
        }
        System.exit(0);
    }

    static String measure(Sender sender, double rate, int seconds, int warmUp) {
        long total = (long) (rate * (warmUp + seconds));
        long measuredFrom = (long) (rate * warmUp);
        long intervalNanos = (long) (1e9 / rate);
        ConcurrentLinkedQueue<double[]> results = new ConcurrentLinkedQueue<>();
        AtomicLong errors = new AtomicLong();
        List<CompletableFuture<double[]>> pending = new ArrayList<>();
        long start = System.nanoTime() + 10_000_000;
        long firstMeasured = start + measuredFrom * intervalNanos;
        for (long i = 0; i < total; i++) {
            long due = start + i * intervalNanos;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            CompletableFuture<double[]> done = new CompletableFuture<>();
            boolean measured = i >= measuredFrom;
            done.whenComplete(
                    (m, e) -> {
                        if (!measured) {
                            return;
                        }
                        if (e != null) {
                            errors.incrementAndGet();
                        } else {
                            double fromSchedule = (System.nanoTime() - due) / 1e6;
                            double[] row = new double[m.length + 1];
                            row[0] = fromSchedule;
                            System.arraycopy(m, 0, row, 1, m.length);
                            results.add(row);
                        }
                    });
            sender.send(i, done);
            pending.add(done);
        }
        long sendEnd = System.nanoTime();
        for (CompletableFuture<double[]> f : pending) {
            try {
                f.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // counted as an error
            }
        }
        double[] latencies = results.stream().mapToDouble(r -> r[0]).sorted().toArray();
        double[] sums = new double[7];
        for (double[] r : results) {
            for (int c = 1; c < 7; c++) {
                sums[c] += r[c];
            }
        }
        double totalMs = sums[1] == 0 ? 1 : sums[1];
        return String.format(
                Locale.ROOT,
                "{\"sent\": %d, \"errors\": %d, \"achieved\": %.1f, \"p50\": %.3f, \"p99\": %.3f,"
                        + " \"p999\": %.3f, \"job\": %.4f, \"kafka\": %.4f, \"gateway\": %.4f,"
                        + " \"request_leg\": %.4f, \"reply_leg\": %.4f}",
                total - measuredFrom,
                errors.get(),
                (total - measuredFrom) / ((sendEnd - firstMeasured) / 1e9),
                percentile(latencies, 0.50),
                percentile(latencies, 0.99),
                percentile(latencies, 0.999),
                sums[2] / totalMs,
                sums[3] / totalMs,
                sums[4] / totalMs,
                sums[5] / totalMs,
                sums[6] / totalMs);
    }

    private static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    /** A read-only request of 32 fields for entity {@code i % 1000}. */
    static String body(long i) {
        StringBuilder fields = new StringBuilder();
        for (int f = 0; f < WIDTH; f++) {
            fields.append(f == 0 ? "" : ",")
                    .append("\"f")
                    .append(f)
                    .append("\":")
                    .append(EventGenerator.value(i, f));
        }
        return "{\"entity_id\":\"req-"
                + (i % 1000)
                + "\",\"fields\":{"
                + fields
                + "},\"options\":{\"mode\":\"read\"}}";
    }

    static void rest(
            HttpClient http, String url, String key, long i, CompletableFuture<double[]> done) {
        http.sendAsync(
                        HttpRequest.newBuilder(URI.create(url))
                                .header("Authorization", "Bearer " + key)
                                .header("Content-Type", "application/json")
                                .timeout(Duration.ofSeconds(15))
                                .POST(HttpRequest.BodyPublishers.ofString(body(i)))
                                .build(),
                        HttpResponse.BodyHandlers.ofByteArray())
                .whenComplete(
                        (r, e) -> {
                            if (e != null || r.statusCode() != 200) {
                                done.completeExceptionally(
                                        e != null
                                                ? e
                                                : new IllegalStateException("" + r.statusCode()));
                                return;
                            }
                            try {
                                JsonNode m = JSON.readTree(r.body()).path("metadata");
                                done.complete(
                                        new double[] {
                                            m.path("total_ms").asDouble(),
                                            m.path("job_ms").asDouble(),
                                            m.path("kafka_ms").asDouble(),
                                            m.path("gateway_ms").asDouble(),
                                            m.path("request_leg_ms").asDouble(),
                                            m.path("reply_leg_ms").asDouble()
                                        });
                            } catch (Exception parse) {
                                done.completeExceptionally(parse);
                            }
                        });
    }

    static void grpc(
            PredictionServiceGrpc.PredictionServiceStub stub,
            long i,
            CompletableFuture<double[]> done) {
        Struct.Builder fields = Struct.newBuilder();
        for (int f = 0; f < WIDTH; f++) {
            fields.putFields(
                    "f" + f, Value.newBuilder().setNumberValue(EventGenerator.value(i, f)).build());
        }
        stub.withDeadlineAfter(15, TimeUnit.SECONDS)
                .predict(
                        PredictRequest.newBuilder()
                                .setModel("tiny-mlp")
                                .setEntityId("req-" + (i % 1000))
                                .setFields(fields)
                                .setOptions(PredictOptions.newBuilder().setMode("read"))
                                .build(),
                        new StreamObserver<>() {
                            @Override
                            public void onNext(PredictResponse r) {
                                done.complete(
                                        new double[] {
                                            r.getTiming().getTotalMs(),
                                            r.getTiming().getJobMs(),
                                            r.getTiming().getKafkaMs(),
                                            r.getTiming().getGatewayMs(),
                                            r.getTiming().getRequestLegMs(),
                                            r.getTiming().getReplyLegMs()
                                        });
                            }

                            @Override
                            public void onError(Throwable t) {
                                done.completeExceptionally(t);
                            }

                            @Override
                            public void onCompleted() {}
                        });
    }
}
