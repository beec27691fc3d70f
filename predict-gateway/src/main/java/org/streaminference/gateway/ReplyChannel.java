package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.PredictReply;
import org.streaminference.schemas.PredictRequestHeaders;

import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This instance's two ends of the job: it writes requests to its own partition of the request
 * topic, and reads the job's answers from the reply topic's partition of the same number, which the
 * job writes each answer to. An answer is taken only for a record this instance wrote (its request
 * id, partition and offset): anything else on the partition (a duplicate after the job's restart, a
 * reply to a record someone else wrote to the request topic) is counted and dropped. The producer
 * does not linger and the consumer does not wait for more bytes: latency, not throughput, is what a
 * caller waits on.
 */
@Internal
final class ReplyChannel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplyChannel.class);

    private final String requestTopic;
    private final String replyTopic;
    private final int partition;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final OpenRequests open;
    private final GatewayMetrics metrics;
    private final Thread reader;

    /**
     * Where callers are answered: never the consumer's thread (writing an HTTP response there held
     * every later answer back) nor the producer's network thread.
     */
    private final ExecutorService answering;

    private volatile boolean running = true;
    private volatile long lastPollMillis;
    private volatile long lastReplyMillis;

    ReplyChannel(
            String bootstrapServers,
            String requestTopic,
            String replyTopic,
            int partition,
            OpenRequests open,
            GatewayMetrics metrics) {
        this.requestTopic = requestTopic;
        this.replyTopic = replyTopic;
        this.partition = partition;
        this.open = open;
        this.metrics = metrics;
        AtomicInteger threads = new AtomicInteger();
        this.answering =
                Executors.newFixedThreadPool(
                        Math.max(2, Runtime.getRuntime().availableProcessors()),
                        r -> {
                            Thread t =
                                    new Thread(r, "predict-answers-" + threads.incrementAndGet());
                            t.setDaemon(true);
                            return t;
                        });
        Map<String, Object> producerConfig = new HashMap<>();
        producerConfig.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        producerConfig.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
        producerConfig.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 2_000);
        producerConfig.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 5_000);
        producerConfig.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 4_000);
        producer =
                new KafkaProducer<>(
                        producerConfig, new ByteArraySerializer(), new ByteArraySerializer());
        Map<String, Object> consumerConfig = new HashMap<>();
        consumerConfig.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        consumerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        consumerConfig.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 10);
        consumerConfig.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        consumer =
                new KafkaConsumer<>(
                        consumerConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            checkPartitions();
            TopicPartition mine = new TopicPartition(replyTopic, partition);
            consumer.assign(List.of(mine));
            consumer.seekToEnd(List.of(mine));
            consumer.position(mine); // the end now: answers to requests sent from here on
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        lastPollMillis = System.currentTimeMillis();
        reader = new Thread(this::read, "predict-replies-" + partition);
        reader.setDaemon(true);
        reader.start();
    }

    private void checkPartitions() {
        List<PartitionInfo> requests = producer.partitionsFor(requestTopic);
        List<PartitionInfo> replies = consumer.partitionsFor(replyTopic, Duration.ofSeconds(10));
        if (requests == null || requests.isEmpty() || replies == null || replies.isEmpty()) {
            throw new IllegalStateException(
                    "the topics " + requestTopic + " and " + replyTopic + " must exist");
        }
        if (partition < 0 || partition >= requests.size() || replies.size() < requests.size()) {
            throw new IllegalStateException(
                    "gateway.partition "
                            + partition
                            + " needs a partition of its own on "
                            + requestTopic
                            + " ("
                            + requests.size()
                            + " partitions) and at least as many partitions on "
                            + replyTopic
                            + " ("
                            + replies.size()
                            + ")");
        }
    }

    /**
     * Sends {@code request} with {@code body}; its offset completes when the broker has it, or
     * fails with 503 when the broker cannot be reached.
     */
    void send(OpenRequests.Open request, byte[] body) {
        PredictCall call = request.call;
        RecordHeaders headers = new RecordHeaders();
        headers.add(
                PredictRequestHeaders.REQUEST_ID, PredictRequestHeaders.bytes(call.requestId()));
        headers.add(PredictRequestHeaders.MODEL, PredictRequestHeaders.bytes(call.model()));
        headers.add(
                PredictRequestHeaders.MODE,
                PredictRequestHeaders.bytes(
                        call.readOnly()
                                ? PredictRequestHeaders.MODE_READ
                                : PredictRequestHeaders.MODE_UPDATE));
        headers.add(
                PredictRequestHeaders.SENT,
                PredictRequestHeaders.bytes(Long.toString(request.sentMillis)));
        ProducerRecord<byte[], byte[]> record =
                new ProducerRecord<>(
                        requestTopic,
                        partition,
                        call.entityId().getBytes(StandardCharsets.UTF_8),
                        body,
                        headers);
        try {
            producer.send(
                    record,
                    (metadata, e) ->
                            answering.execute(
                                    () -> {
                                        if (e != null) {
                                            request.offset.completeExceptionally(unavailable(e));
                                        } else {
                                            request.offset.complete(metadata.offset());
                                        }
                                    }));
        } catch (RuntimeException e) {
            request.offset.completeExceptionally(unavailable(e));
        }
    }

    private static ApiError unavailable(Exception e) {
        LOG.warn("A request could not be sent to the job: {}", e.toString());
        return new ApiError(
                503,
                "unavailable",
                "the job's request topic cannot be reached; try again later",
                Map.of("Retry-After", "1"));
    }

    private void read() {
        while (running) {
            try {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(200))) {
                    onRecord(record);
                }
                lastPollMillis = System.currentTimeMillis();
            } catch (WakeupException e) {
                // closing
            } catch (RuntimeException e) {
                if (running) {
                    LOG.warn("Reading replies failed; retrying", e);
                }
            }
        }
    }

    private void onRecord(ConsumerRecord<byte[], byte[]> record) {
        long repliedMillis = System.currentTimeMillis();
        long repliedNanos = System.nanoTime();
        PredictReply reply;
        try {
            reply = PredictReply.getDecoder().decode(ByteBuffer.wrap(record.value()));
        } catch (Exception e) {
            metrics.reply("undecodable");
            return;
        }
        lastReplyMillis = repliedMillis;
        metrics.replyTimes(
                record.timestamp() - reply.getAnswerTime(), repliedMillis - record.timestamp());
        onReply(reply, repliedMillis, repliedNanos);
    }

    private void onReply(PredictReply reply, long repliedMillis, long repliedNanos) {
        OpenRequests.Open pending = open.get(reply.getRequestId());
        if (pending != null && !pending.offset.isDone()) {
            // the answer overtook the broker's acknowledgement of the request
            pending.offset.whenComplete((o, e) -> onReply(reply, repliedMillis, repliedNanos));
            return;
        }
        var answered = open.answered(reply, partition, reply.getRequestOffset());
        if (answered.isEmpty()) {
            metrics.reply(
                    open.isKept(reply.getRequestId())
                            ? "duplicate"
                            : pending == null ? "late_or_foreign" : "foreign");
            return;
        }
        OpenRequests.Open request = answered.get();
        Answer answer =
                new Answer(
                        request.call,
                        reply,
                        request.receivedNanos,
                        request.sentMillis,
                        repliedMillis,
                        repliedNanos);
        metrics.reply("matched");
        if (reply.getRecordTime() > 0) {
            metrics.requestTimes(
                    reply.getRecordTime() - request.sentMillis,
                    reply.getReadTime() - reply.getRecordTime());
        }
        answering.execute(
                () -> {
                    if (request.keep || !request.answer.complete(answer)) {
                        open.keep(request, answer, repliedMillis);
                    }
                    request.answer.complete(answer);
                });
    }

    /** Whether the reply partition is being read (its last poll returned recently). */
    boolean reading() {
        return reader.isAlive() && System.currentTimeMillis() - lastPollMillis < 10_000;
    }

    long lastReplyMillis() {
        return lastReplyMillis;
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        if (reader != null) {
            try {
                reader.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        producer.close(Duration.ofSeconds(5));
        consumer.close(Duration.ofSeconds(5));
        answering.shutdownNow();
    }
}
