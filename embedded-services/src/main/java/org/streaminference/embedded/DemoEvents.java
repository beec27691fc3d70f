package org.streaminference.embedded;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.InputEvent;

import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes plausible demo events from a seed: purchases, refunds and views of a fixed population of
 * entities, with an amount (always), a quantity (most of the time), a country and a merchant (each
 * entity shops at a few). Event times never go backwards per entity.
 */
@Internal
public final class DemoEvents {
    private static final List<String> TYPES =
            List.of("purchase", "purchase", "purchase", "view", "refund");
    private static final List<String> COUNTRIES = List.of("NL", "DE", "FR", "US", "BR", "JP");
    private static final int MERCHANTS = 200;

    private final Random random;
    private final int entities;
    private final String runId;
    private final AtomicLong sequence = new AtomicLong();

    /**
     * @param runId prefix of event ids, so runs against the same topics never reuse an id
     */
    public DemoEvents(long seed, int entities, String runId) {
        if (entities <= 0) {
            throw new IllegalArgumentException("entities must be positive");
        }
        this.random = new Random(seed);
        this.entities = entities;
        this.runId = runId;
    }

    public static String entityId(int index) {
        return String.format("entity-%05d", index);
    }

    /**
     * The demo's reference data: a profile (tier, segment) for four in five entities, the others
     * have none and their profile features take their defaults.
     */
    public static EntityProfile profile(int index) {
        return index % 5 == 4
                ? null
                : EntityProfile.newBuilder()
                        .setEntityId(entityId(index))
                        .setNumericFields(Map.of("tier", (double) (index % 4)))
                        .setCategoricalFields(
                                Map.of("segment", index % 3 == 0 ? "business" : "retail"))
                        .setUpdateTime(System.currentTimeMillis())
                        .build();
    }

    /**
     * Produces {@link #profile}s of the first {@code entities} entities to {@code topic}; returns
     * how many.
     */
    public static int produceProfiles(String bootstrap, String topic, int entities)
            throws Exception {
        int produced = 0;
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ProducerConfig.ACKS_CONFIG,
                                "all"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            for (int i = 0; i < entities; i++) {
                EntityProfile profile = profile(i);
                if (profile != null) {
                    ByteBuffer value = profile.toByteBuffer();
                    byte[] bytes = new byte[value.remaining()];
                    value.get(bytes);
                    producer.send(
                            new ProducerRecord<>(
                                    topic, entityId(i).getBytes(StandardCharsets.UTF_8), bytes));
                    produced++;
                }
            }
            producer.flush();
        }
        return produced;
    }

    /** The next event, at {@code eventTime}. */
    public synchronized InputEvent next(long eventTime) {
        long n = sequence.incrementAndGet();
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("amount", Math.round(Math.exp(3 + random.nextGaussian()) * 100) / 100.0);
        if (random.nextInt(10) < 8) {
            numeric.put("quantity", (double) (1 + random.nextInt(5)));
        }
        int entity = random.nextInt(entities);
        String merchant = "merchant-" + (entity * 7 + random.nextInt(4)) % MERCHANTS;
        return InputEvent.newBuilder()
                .setEventId(runId + "-" + n)
                .setEntityId(entityId(entity))
                .setEventTime(eventTime)
                .setEventType(TYPES.get(random.nextInt(TYPES.size())))
                .setNumericFields(numeric)
                .setCategoricalFields(
                        Map.of(
                                "country",
                                COUNTRIES.get(random.nextInt(COUNTRIES.size())),
                                "merchant",
                                merchant))
                .build();
    }
}
