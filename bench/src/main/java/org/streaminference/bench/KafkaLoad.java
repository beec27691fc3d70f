package org.streaminference.bench;

import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;

import com.sun.management.OperatingSystemMXBean;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/** The load generator and the clock at the end of the pipeline. */
final class KafkaLoad {
    private KafkaLoad() {}

    /** How the benchmark's events are written to Kafka. */
    enum Encoding {
        /** The job's envelope {@code InputEvent}: one entry of its numeric map per value. */
        map,
        /**
         * The user's own Avro schema ({@link #IMAGE_SCHEMA}): the values as one {@code
         * array<float>}.
         */
        avro,
        /** The same image as one JSON object, its pixels a JSON array of numbers. */
        json
    }

    /**
     * The events of {@link Encoding#avro}: an image as a user would produce it, its pixels one
     * float array.
     */
    static final Schema IMAGE_SCHEMA =
            new Schema.Parser()
                    .parse(
                            """
            {"type": "record", "name": "Image", "namespace": "com.example.bench", "fields": [
              {"name": "id", "type": "string"},
              {"name": "entity", "type": "string"},
              {"name": "ts", "type": "long"},
              {"name": "pixels", "type": {"type": "array", "items": "float"}}]}""");

    /**
     * Made once: a new encoder per event would work out the schema's fingerprint for every event
     * sent.
     */
    private static final BinaryMessageEncoder<GenericRecord> IMAGE_ENCODER =
            new BinaryMessageEncoder<>(GenericData.get(), IMAGE_SCHEMA);

    /** The vector field of {@link #IMAGE_SCHEMA}. */
    static final String PIXELS = "pixels";

    /**
     * An event of {@code width} values with the given event time, written as {@code encoding} says.
     */
    static byte[] event(
            Encoding encoding, long index, int width, int entities, long eventTimeMillis)
            throws Exception {
        if (encoding == Encoding.map) {
            return event(index, width, entities, eventTimeMillis);
        }
        if (encoding == Encoding.json) {
            throw new IllegalArgumentException(
                    "JSON events are written by ImageEvents (bench/run.sh cluster)");
        }
        GenericData.Record image = new GenericData.Record(IMAGE_SCHEMA);
        image.put("id", "e" + index);
        image.put("entity", "entity-" + (index % entities));
        image.put("ts", eventTimeMillis);
        List<Float> pixels = new ArrayList<>(width);
        for (int i = 0; i < width; i++) {
            pixels.add(EventGenerator.value(index, i));
        }
        image.put(PIXELS, pixels);
        ByteBuffer buffer = IMAGE_ENCODER.encode(image);
        return Arrays.copyOfRange(
                buffer.array(),
                buffer.arrayOffset() + buffer.position(),
                buffer.arrayOffset() + buffer.limit());
    }

    /** An event of {@code width} numeric fields with the given event time. */
    static byte[] event(long index, int width, int entities, long eventTimeMillis)
            throws Exception {
        Map<String, Double> fields = new HashMap<>();
        for (int i = 0; i < width; i++) {
            fields.put(EventGenerator.field(i), (double) EventGenerator.value(index, i));
        }
        fields.put("amount", 1.0);
        InputEvent event =
                new InputEvent(
                        "e" + index,
                        "entity-" + (index % entities),
                        eventTimeMillis,
                        "bench",
                        fields,
                        Map.of(),
                        Map.of());
        ByteBuffer buffer = event.toByteBuffer();
        return Arrays.copyOfRange(
                buffer.array(),
                buffer.arrayOffset() + buffer.position(),
                buffer.arrayOffset() + buffer.limit());
    }

    /**
     * Produces {@code count} events at {@code ratePerSecond} (0: as fast as possible). At a fixed
     * rate each event's time is when it was scheduled, not when it was sent: a producer held up by
     * back-pressure counts the wait as latency (no coordinated omission). Returns the wall-clock
     * time of the first scheduled send.
     */
    static long produce(
            String bootstrap,
            String topic,
            long firstIndex,
            long count,
            int width,
            double ratePerSecond)
            throws Exception {
        return produce(bootstrap, topic, firstIndex, count, width, ratePerSecond, Encoding.map);
    }

    /**
     * As {@link #produce(String, String, long, long, int, double)}, with events written as {@code
     * encoding} says.
     */
    static long produce(
            String bootstrap,
            String topic,
            long firstIndex,
            long count,
            int width,
            double ratePerSecond,
            Encoding encoding)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ProducerConfig.LINGER_MS_CONFIG,
                                ratePerSecond > 0 ? 1 : 20,
                                ProducerConfig.BATCH_SIZE_CONFIG,
                                256 * 1024,
                                ProducerConfig.ACKS_CONFIG,
                                "1"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            long start = System.nanoTime();
            long startWall = System.currentTimeMillis();
            int entities = 10_000;
            for (long i = 0; i < count; i++) {
                long eventTime;
                if (ratePerSecond > 0) {
                    long offset = (long) (i / ratePerSecond * 1e9);
                    long due = start + offset;
                    while (System.nanoTime() < due) {
                        LockSupport.parkNanos(due - System.nanoTime()); // pacing to the rate
                    }
                    eventTime = startWall + offset / 1_000_000;
                } else {
                    eventTime = System.currentTimeMillis();
                }
                long index = firstIndex + i;
                String key = "entity-" + (index % entities);
                producer.send(
                        new ProducerRecord<>(
                                topic,
                                key.getBytes(StandardCharsets.UTF_8),
                                event(encoding, index, width, entities, eventTime)));
            }
            producer.flush();
            return startWall;
        }
    }

    /**
     * What the consumer saw: per prediction its event time and its latency in ms from the event
     * time to arrival, and the span of arrivals (first to last output).
     */
    record Observed(
            long count,
            long[] eventTimesMillis,
            long[] latenciesMillis,
            long firstArrivalNanos,
            long lastArrivalNanos,
            long processCpuNanos,
            Map<String, Long> jobCpu) {
        double throughput() {
            return count / Math.max((lastArrivalNanos - firstArrivalNanos) / 1e9, 1e-9);
        }

        /**
         * Cores this process kept busy between the first and the last arrival (job, broker, JIT,
         * GC, this consumer).
         */
        double cores() {
            return (double) processCpuNanos / Math.max(lastArrivalNanos - firstArrivalNanos, 1);
        }

        /**
         * CPU of the job's own threads ({@link JobCpu}: nanoseconds by kind of thread, and "total")
         * per prediction between the first and the last arrival.
         */
        double jobMicrosPerEvent() {
            return jobCpu.get("total") / 1e3 / Math.max(count, 1);
        }

        /**
         * Percentile of the latencies of the events scheduled at or after {@code fromMillis} (the
         * warm-up's end).
         */
        double percentile(double q, long fromMillis) {
            long[] counted = new long[latenciesMillis.length];
            int n = 0;
            for (int i = 0; i < latenciesMillis.length; i++) {
                if (eventTimesMillis[i] >= fromMillis) {
                    counted[n++] = latenciesMillis[i];
                }
            }
            long[] sorted = Arrays.copyOf(counted, n);
            Arrays.sort(sorted);
            return sorted.length == 0
                    ? 0
                    : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
        }
    }

    /**
     * Reads {@code expected} predictions from {@code topic} (read_committed), as a downstream
     * consumer would.
     */
    static Observed consume(
            String bootstrap, String topic, long expected, Duration timeout, boolean latencies)
            throws Exception {
        return consume(bootstrap, topic, expected, timeout, latencies, null);
    }

    /** As above, counting only the predictions of {@code model} (null: every prediction). */
    static Observed consume(
            String bootstrap,
            String topic,
            long expected,
            Duration timeout,
            boolean latencies,
            String model)
            throws Exception {
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(
                        Map.of(
                                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ConsumerConfig.GROUP_ID_CONFIG,
                                "bench-clock-" + topic + (model == null ? "" : "-" + model),
                                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                                "earliest",
                                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                                "read_committed",
                                ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG,
                                5,
                                ConsumerConfig.MAX_POLL_RECORDS_CONFIG,
                                5000),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long[] observed = new long[latencies ? (int) expected : 0];
            long[] eventTimes = new long[observed.length];
            int count = 0;
            long first = 0;
            long last = 0;
            long cpuAtFirst = 0;
            JobCpu job = null;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (count < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long now = System.nanoTime();
                    long wall = System.currentTimeMillis();
                    Prediction prediction =
                            model == null && count >= observed.length
                                    ? null
                                    : Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
                    if (model != null && !model.equals(prediction.getModelName())) {
                        continue;
                    }
                    if (count == 0) {
                        first = now;
                        cpuAtFirst = processCpuNanos();
                        job = JobCpu.start();
                    }
                    last = now;
                    if (count < observed.length) {
                        long eventTime = prediction.getEventTime();
                        eventTimes[count] = eventTime;
                        observed[count] = wall - eventTime;
                    }
                    count++;
                }
            }
            if (count < expected) {
                throw new IllegalStateException(
                        "only " + count + " of " + expected + " predictions arrived in " + topic);
            }
            return new Observed(
                    count,
                    eventTimes,
                    observed,
                    first,
                    last,
                    processCpuNanos() - cpuAtFirst,
                    job.since());
        }
    }

    private static long processCpuNanos() {
        return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
