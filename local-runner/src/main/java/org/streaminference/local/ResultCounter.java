package org.streaminference.local;

import org.streaminference.cli.AnsweredEvents;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads the output topics the way a downstream consumer would (read_committed) and counts what the
 * job has committed: predictions, dead letters by reason, the events they answer (an event fanned
 * out to several models is answered by each), and the versions each model answered with lately.
 */
@Internal
public final class ResultCounter implements Runnable, AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String predictionsTopic;
    private final AtomicLong predictions = new AtomicLong();
    private final AtomicLong deadLetters = new AtomicLong();
    private final AtomicLong unreadable = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final Map<ReasonCode, Long> reasons = new EnumMap<>(ReasonCode.class);
    private volatile String latestModel = "-";

    public ResultCounter(
            String bootstrapServers, String predictionsTopic, String deadLettersTopic) {
        this.consumer =
                new KafkaConsumer<>(
                        Map.of(
                                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrapServers,
                                ConsumerConfig.GROUP_ID_CONFIG,
                                "local-run-status-" + UUID.randomUUID(),
                                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                                "earliest",
                                ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                                "read_committed",
                                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                                false),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer());
        this.predictionsTopic = predictionsTopic;
        consumer.subscribe(List.of(predictionsTopic, deadLettersTopic));
    }

    public long predictions() {
        return predictions.get();
    }

    public long deadLetters() {
        return deadLetters.get();
    }

    /** Events with at least one answer. */
    public synchronized long eventsAnswered() {
        return answered.events();
    }

    /** Answers repeated for an event and model. */
    public synchronized long duplicates() {
        return answered.duplicates();
    }

    private final AnsweredEvents answered = new AnsweredEvents();

    /**
     * model → version → predictions since the last {@link #recentVersions()}; models in order of
     * appearance.
     */
    private final Map<String, TreeMap<String, Long>> recentByModel = new LinkedHashMap<>();

    private String lastVersions = "-";

    /** Output records that did not decode as this version's Prediction or DeadLetter. */
    /** Answers to predict requests (update mode) seen on the output topics: not counted above. */
    public long requests() {
        return requests.get();
    }

    public long unreadable() {
        return unreadable.get();
    }

    public synchronized Map<ReasonCode, Long> deadLettersByReason() {
        return new EnumMap<>(reasons);
    }

    /** {@code name:version} of the model behind the latest prediction read. */
    public String latestModel() {
        return latestModel;
    }

    /**
     * Each model's versions behind the predictions read since the last call, with their shares,
     * e.g. {@code fraud 1 (80%) 2 (20%); churn 3 (100%)} (an ensemble's version lists its
     * members'); the previous answer where none was read (predictions arrive with checkpoints).
     */
    public synchronized String recentVersions() {
        if (recentByModel.values().stream().allMatch(TreeMap::isEmpty)) {
            return lastVersions;
        }
        StringJoiner models = new StringJoiner("; ");
        recentByModel.forEach(
                (model, byVersion) -> {
                    long total = byVersion.values().stream().mapToLong(Long::longValue).sum();
                    if (total == 0) {
                        return;
                    }
                    StringBuilder s = new StringBuilder(model);
                    byVersion.forEach(
                            (version, n) ->
                                    s.append(' ')
                                            .append(version)
                                            .append(" (")
                                            .append(Math.round(100.0 * n / total))
                                            .append("%)"));
                    byVersion.clear();
                    models.add(s);
                });
        lastVersions = models.toString();
        return lastVersions;
    }

    @Override
    public void run() {
        try {
            while (true) {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(500))) {
                    count(record);
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    private void count(ConsumerRecord<byte[], byte[]> record) {
        try {
            if (record.topic().equals(predictionsTopic)) {
                Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(record.value()));
                if (p.getSource() != null && p.getSource().getRequest() != null) {
                    requests.incrementAndGet(); // a predict request's: not an event of the stream
                    return;
                }
                latestModel = p.getModelName() + ":" + p.getModelVersion();
                synchronized (this) {
                    recentByModel
                            .computeIfAbsent(p.getModelName(), m -> new TreeMap<>())
                            .merge(p.getModelVersion(), 1L, Long::sum);
                    answered.add(p.getSource(), p.getModelName());
                }
                predictions.incrementAndGet();
            } else {
                DeadLetter d = DeadLetter.fromByteBuffer(ByteBuffer.wrap(record.value()));
                if (d.getSource() != null && d.getSource().getRequest() != null) {
                    requests.incrementAndGet();
                    return;
                }
                synchronized (this) {
                    reasons.merge(d.getReasonCode(), 1L, Long::sum);
                    answered.add(d.getSource(), d.getModel());
                }
                deadLetters.incrementAndGet();
            }
        } catch (Exception e) {
            unreadable.incrementAndGet();
        }
    }

    @Override
    public void close() {
        consumer.wakeup();
    }
}
