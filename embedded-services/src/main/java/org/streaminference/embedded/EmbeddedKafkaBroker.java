package org.streaminference.embedded;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A real single-node Kafka broker (KRaft, combined broker and controller) in this JVM, started from
 * the Kafka Maven artifacts: what the local runner and the tests use instead of a Kafka
 * installation or Docker.
 */
@Internal
public final class EmbeddedKafkaBroker implements AutoCloseable {
    private final KafkaConfig config;
    private final String bootstrapServers;

    /** The running server; null while the broker is stopped. */
    private KafkaRaftServer server;

    private EmbeddedKafkaBroker(KafkaConfig config, String bootstrapServers) {
        this.config = config;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Formats {@code dataDir} and starts a broker.
     *
     * @param port the client port, or 0 for a free one
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int port) throws IOException {
        int brokerPort = port == 0 ? freePort() : port;
        int controllerPort = freePort();
        while (controllerPort == brokerPort) { // the system may hand out the port it just took back
            controllerPort = freePort();
        }
        Properties props = new Properties();
        props.setProperty("process.roles", "broker,controller");
        props.setProperty("node.id", "1");
        props.setProperty("controller.quorum.bootstrap.servers", "localhost:" + controllerPort);
        props.setProperty(
                "listeners",
                "PLAINTEXT://localhost:"
                        + brokerPort
                        + ",CONTROLLER://localhost:"
                        + controllerPort);
        props.setProperty("advertised.listeners", "PLAINTEXT://localhost:" + brokerPort);
        props.setProperty("controller.listener.names", "CONTROLLER");
        props.setProperty("inter.broker.listener.name", "PLAINTEXT");
        props.setProperty(
                "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        props.setProperty("log.dirs", dataDir.resolve("logs").toString());
        props.setProperty("num.partitions", "2");
        props.setProperty("auto.create.topics.enable", "false");
        props.setProperty("offsets.topic.replication.factor", "1");
        props.setProperty("offsets.topic.num.partitions", "4");
        props.setProperty("transaction.state.log.replication.factor", "1");
        props.setProperty("transaction.state.log.min.isr", "1");
        props.setProperty("transaction.state.log.num.partitions", "4");
        props.setProperty("share.coordinator.state.topic.replication.factor", "1");
        props.setProperty("share.coordinator.state.topic.min.isr", "1");
        props.setProperty("group.initial.rebalance.delay.ms", "0");
        // no log.flush.interval.messages: as in Kafka's defaults, the OS writes the log back. A
        // forced fsync every 10,000 messages held each partition's appends for 20-40 ms, the
        // longest stalls in the cluster benchmark's tail (bench/README.md)

        Files.createDirectories(dataDir);
        Path configFile = dataDir.resolve("server.properties");
        try (Writer writer = Files.newBufferedWriter(configFile)) {
            props.store(writer, "embedded Kafka broker");
        }
        ByteArrayOutputStream formatOutput = new ByteArrayOutputStream();
        int exit =
                StorageTool.execute(
                        new String[] {
                            "format",
                            "-t",
                            Uuid.randomUuid().toString(),
                            "-c",
                            configFile.toString(),
                            "--standalone"
                        },
                        new PrintStream(formatOutput, true, StandardCharsets.UTF_8));
        if (exit != 0) {
            throw new IOException(
                    "formatting Kafka storage failed: "
                            + formatOutput.toString(StandardCharsets.UTF_8));
        }
        EmbeddedKafkaBroker broker =
                new EmbeddedKafkaBroker(
                        KafkaConfig.fromProps(props, false), "localhost:" + brokerPort);
        broker.startServer();
        return broker;
    }

    private synchronized void startServer() throws IOException {
        server = new KafkaRaftServer(config, Time.SYSTEM);
        server.startup();
        awaitReady(Duration.ofSeconds(60));
    }

    /**
     * Stops the broker as an outage would, keeping its data: clients see it gone until {@link
     * #restart}. Does nothing when it is stopped.
     */
    public synchronized void stop() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
    }

    /**
     * Starts the stopped broker again on the same ports with the same data, and waits until it
     * answers.
     */
    public synchronized void restart() throws IOException {
        if (server != null) {
            throw new IllegalStateException("the broker is running");
        }
        startServer();
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
    }

    /**
     * Creates the topics (existing ones are kept) and waits until every partition answers offset
     * requests: producing right after creation can otherwise lose records (KAFKA-15591).
     */
    public void createTopics(int partitions, String... topics) throws Exception {
        try (Admin admin = admin()) {
            List<NewTopic> newTopics = new ArrayList<>();
            for (String topic : topics) {
                newTopics.add(new NewTopic(topic, partitions, (short) 1));
            }
            try {
                admin.createTopics(newTopics).all().get(60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (String topic : topics) {
                for (int p = 0; p < partitions; p++) {
                    request.put(new TopicPartition(topic, p), OffsetSpec.latest());
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try {
                    admin.listOffsets(request).all().get(10, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof RetriableException)
                            || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(
                            100); // back-off between polls of a condition, not a wait for time to
                    // pass
                }
            }
        }
    }

    private void awaitReady(Duration timeout) throws IOException {
        try (Admin admin = admin()) {
            admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for Kafka", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("Kafka did not come up within " + timeout, e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    @Override
    public void close() {
        stop();
    }
}
