package org.streaminference.embedded;

import org.streaminference.schemas.InputEvent;

import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Produces demo events to the input topic at a fixed rate, keyed by entity id, with a configurable
 * fraction of deliberately bad records (undecodable bytes, truncated Avro, a missing required
 * field) so that the dead-letter path is visible in the demo.
 */
@Internal
public final class DemoEventGenerator implements Runnable, AutoCloseable {
    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;
    private final DemoEvents events;
    private final double ratePerSecond;
    private final double badFraction;
    private final Random random;
    private final AtomicLong produced = new AtomicLong();
    private final AtomicLong bad = new AtomicLong();
    private volatile boolean running = true;
    private volatile Exception failure;

    public DemoEventGenerator(
            String bootstrapServers,
            String topic,
            DemoEvents events,
            double ratePerSecond,
            double badFraction,
            long seed) {
        if (ratePerSecond <= 0) {
            throw new IllegalArgumentException("rate must be positive");
        }
        if (badFraction < 0 || badFraction > 1) {
            throw new IllegalArgumentException("bad fraction must be within [0, 1]");
        }
        Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        this.producer =
                new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        this.topic = topic;
        this.events = events;
        this.ratePerSecond = ratePerSecond;
        this.badFraction = badFraction;
        this.random = new Random(seed);
    }

    /** Records sent so far, good and bad. */
    public long produced() {
        return produced.get();
    }

    /** Deliberately bad records among {@link #produced()}. */
    public long bad() {
        return bad.get();
    }

    /** The error that stopped the generator, if one did. */
    public Exception failure() {
        return failure;
    }

    @Override
    public void run() {
        long start = System.nanoTime();
        try {
            while (running) {
                long due = (long) ((System.nanoTime() - start) / 1e9 * ratePerSecond);
                while (produced.get() < due && running) {
                    send();
                }
                LockSupport.parkNanos(
                        TimeUnit.MILLISECONDS.toNanos(2)); // pacing to the configured rate
            }
            producer.flush();
        } catch (Exception e) {
            failure = e;
        }
    }

    private void send() {
        InputEvent event = events.next(System.currentTimeMillis());
        byte[] key = event.getEntityId().getBytes(StandardCharsets.UTF_8);
        byte[] value;
        if (random.nextDouble() < badFraction) {
            value = badValue(event);
            bad.incrementAndGet();
        } else {
            value = encode(event);
        }
        producer.send(
                new ProducerRecord<>(topic, key, value),
                (metadata, error) -> {
                    if (error != null && failure == null) {
                        failure = error;
                    }
                });
        produced.incrementAndGet();
    }

    private byte[] badValue(InputEvent event) {
        switch (random.nextInt(3)) {
            case 0:
                return ("{\"not\": \"avro\", \"id\": \"" + event.getEventId() + "\"}")
                        .getBytes(StandardCharsets.UTF_8);
            case 1:
                byte[] full = encode(event);
                return Arrays.copyOf(full, full.length / 2);
            default:
                event.setNumericFields(Map.of("quantity", 1.0)); // no amount
                return encode(event);
        }
    }

    private static byte[] encode(InputEvent event) {
        try {
            ByteBuffer buffer = event.toByteBuffer();
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        running = false;
        producer.close();
    }
}
