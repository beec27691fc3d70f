package org.streaminference.bench;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An OTLP/HTTP endpoint in the benchmark's process that accepts every export and counts it, so that
 * the tracing variant pays for spans, their batching, protobuf encoding and sending, as against a
 * real collector.
 */
final class OtlpReceiver implements AutoCloseable {
    private final HttpServer server;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();

    private OtlpReceiver(HttpServer server) {
        this.server = server;
    }

    static OtlpReceiver start() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        OtlpReceiver receiver = new OtlpReceiver(server);
        server.createContext(
                "/v1/traces",
                exchange -> {
                    try (InputStream in = exchange.getRequestBody()) {
                        receiver.bytes.addAndGet(in.readAllBytes().length);
                    }
                    receiver.requests.incrementAndGet();
                    exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
                    exchange.sendResponseHeaders(200, -1);
                    exchange.close();
                });
        server.start();
        return receiver;
    }

    /** The base endpoint, as {@code monitoring.tracing.otlp-endpoint} takes it. */
    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Export requests received (one per batch of spans). */
    long requests() {
        return requests.get();
    }

    long bytes() {
        return bytes.get();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
