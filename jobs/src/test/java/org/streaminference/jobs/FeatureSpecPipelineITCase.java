package org.streaminference.jobs;

import org.streaminference.features.ReferenceFeatures;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ServedFeatures;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * The demo feature spec through the whole pipeline on a MiniCluster with a real Kafka broker: the
 * spec read from a file, profiles joined from the reference-data topic (one removed by a tombstone,
 * one record malformed), events out of order and late. Every served feature vector equals the plain
 * reference computation, every prediction is ONNX Runtime on that vector, and late events are dead
 * letters with reason LATE_EVENT.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FeatureSpecPipelineITCase {
    private static final int ENTITIES = 40;

    @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = MiniClusters.withSlots(2);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    @Test
    void servedFeaturesEqualTheReferenceComputationAndLateEventsAreDeadLetters() throws Exception {
        SERVICES.kafka()
                .createTopics(2, "events", "predictions", "dead-letters", "served-features");
        SERVICES.kafka()
                .createTopics(
                        1,
                        "entity-profiles",
                        "model-control",
                        "model-events",
                        "predictions-shadow");
        Path specFile = SERVICES.dir().resolve("demo-transactions.yaml");
        try (InputStream in = FeatureSpecs.class.getResourceAsStream(FeatureSpecs.DEMO_RESOURCE)) {
            Files.write(specFile, in.readAllBytes());
        }
        FeatureSpec spec = FeatureSpecs.load(specFile.toString());
        Path modelDir = DemoModels.write(SERVICES.dir().resolve("models"), 1);

        Map<String, EntityProfile> profiles = new HashMap<>();
        List<ProducerRecord<byte[], byte[]>> profileRecords = new ArrayList<>();
        for (int e = 0; e < ENTITIES; e += 2) {
            EntityProfile p =
                    EntityProfile.newBuilder()
                            .setEntityId(entity(e))
                            .setNumericFields(Map.of("tier", (double) (1 + e % 3)))
                            .setCategoricalFields(
                                    Map.of("segment", e % 4 == 0 ? "retail" : "business"))
                            .build();
            profiles.put(p.getEntityId(), p);
            profileRecords.add(
                    new ProducerRecord<>(
                            "entity-profiles",
                            key(p.getEntityId()),
                            PipelineTestSupport.bytes(p.toByteBuffer())));
        }
        profiles.remove(entity(2)); // its tombstone follows
        profileRecords.add(new ProducerRecord<>("entity-profiles", key(entity(2)), null));
        profileRecords.add(
                new ProducerRecord<>("entity-profiles", key(entity(4)), "not avro".getBytes()));
        long profileEnd = profileRecords.size();
        PipelineTestSupport.produce(SERVICES.bootstrapServers(), profileRecords, 0);

        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.FEATURES_SPEC, specFile.toString());
        options.set(PipelineOptions.SERVED_FEATURES_TOPIC, "served-features");
        options.set(PipelineOptions.MODEL_URI, List.of(modelDir.toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(300));
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        JobClient job = env.executeAsync("feature-spec-it");
        try {
            // a checkpoint that covers the whole profile topic means the join has every profile in
            // its state
            try (Admin admin = SERVICES.kafka().admin()) {
                await().atMost(Duration.ofMinutes(2))
                        .until(
                                () -> {
                                    Map<TopicPartition, OffsetAndMetadata> committed =
                                            admin.listConsumerGroupOffsets(
                                                            "streaminference-reference-data")
                                                    .partitionsToOffsetAndMetadata()
                                                    .get(10, TimeUnit.SECONDS);
                                    OffsetAndMetadata at =
                                            committed.get(new TopicPartition("entity-profiles", 0));
                                    return at != null && at.offset() == profileEnd;
                                });
            }
            List<InputEvent> events = events(3_000, 31);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (InputEvent e : events) {
                records.add(
                        new ProducerRecord<>(
                                "events",
                                key(e.getEntityId()),
                                PipelineTestSupport.bytes(e.toByteBuffer())));
            }
            PipelineTestSupport.produce(SERVICES.bootstrapServers(), records, 0);

            await().atMost(Duration.ofMinutes(3))
                    .pollInterval(Duration.ofSeconds(1))
                    .until(
                            () ->
                                    PipelineTestSupport.readCommitted(
                                                                    SERVICES.bootstrapServers(),
                                                                    "predictions",
                                                                    b -> b)
                                                            .size()
                                                    + PipelineTestSupport.readCommitted(
                                                                    SERVICES.bootstrapServers(),
                                                                    "dead-letters",
                                                                    b -> b)
                                                            .size()
                                            >= events.size());

            List<Prediction> predictions =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(), "predictions", Prediction::fromByteBuffer);
            List<DeadLetter> deadLetters =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(),
                            "dead-letters",
                            DeadLetter::fromByteBuffer);
            List<ServedFeatures> served =
                    PipelineTestSupport.readCommitted(
                            SERVICES.bootstrapServers(),
                            "served-features",
                            ServedFeatures::fromByteBuffer);

            Map<String, double[]> expected = ReferenceFeatures.compute(spec, events, profiles);
            Set<String> late =
                    expected.entrySet().stream()
                            .filter(e -> e.getValue() == null)
                            .map(Map.Entry::getKey)
                            .collect(Collectors.toSet());
            assertThat(late).as("the stream has late events").hasSizeGreaterThan(30);
            assertThat(predictions.size() + deadLetters.size())
                    .as("events in = predictions + dead letters")
                    .isEqualTo(events.size());
            assertThat(deadLetters)
                    .allSatisfy(
                            d -> assertThat(d.getReasonCode()).isEqualTo(ReasonCode.LATE_EVENT));
            assertThat(deadLetters)
                    .extracting(DeadLetter::getEventId)
                    .containsExactlyInAnyOrderElementsOf(late);

            assertThat(served)
                    .extracting(ServedFeatures::getEventId)
                    .containsExactlyInAnyOrderElementsOf(
                            predictions.stream().map(Prediction::getEventId).toList());
            Map<String, ServedFeatures> servedById =
                    served.stream().collect(Collectors.toMap(ServedFeatures::getEventId, s -> s));
            try (LoadedModel model =
                    new ModelLoader(ModelLoaderConfig.defaults()).load(modelDir.toString())) {
                for (Prediction p : predictions) {
                    ServedFeatures s = servedById.get(p.getEventId());
                    assertThat(s.getFeatureSpec()).isEqualTo("demo-transactions:1");
                    assertThat(s.getModelVersion()).isEqualTo(p.getModelVersion()).isEqualTo("1");
                    double[] want = expected.get(p.getEventId());
                    float[] got = new float[s.getFeatures().size()];
                    for (int i = 0; i < got.length; i++) {
                        got[i] = s.getFeatures().get(i);
                        assertThat((double) got[i])
                                .as("%s: %s", p.getEventId(), spec.valueNames().get(i))
                                .isCloseTo(want[i], within(2e-5 * Math.max(1, Math.abs(want[i]))));
                    }
                    float[] probabilities = model.run(FloatBuffer.wrap(got), 1)[0];
                    assertThat(p.getProbabilities().get(1))
                            .isCloseTo(probabilities[1], within(1e-6));
                }
            }
            // the profile features took effect: an entity with a profile has its tier, the removed
            // one none
            assertThat(
                            servedById.values().stream()
                                    .filter(s -> s.getEntityId().equals(entity(0)))
                                    .findFirst()
                                    .orElseThrow()
                                    .getFeatures()
                                    .get(spec.valueNames().indexOf("tier")))
                    .isEqualTo(1f);
            assertThat(
                            servedById.values().stream()
                                    .filter(s -> s.getEntityId().equals(entity(2)))
                                    .map(
                                            s ->
                                                    s.getFeatures()
                                                            .get(
                                                                    spec.valueNames()
                                                                            .indexOf("tier"))))
                    .containsOnly(0f);
        } finally {
            job.cancel().get(1, TimeUnit.MINUTES);
        }
    }

    @Test
    void anInvalidSpecFailsTheJobsStartNamingItsLine() throws Exception {
        Path bad = SERVICES.dir().resolve("bad-spec.yaml");
        Files.writeString(
                bad,
                "name: bad\nversion: 1\nfeatures:\n  - name: total\n    kind: sum\n"
                        + "    field: amount\n    window: 1h\n    slide: 7m\n");
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, "localhost:1");
        options.set(PipelineOptions.MODEL_URI, List.of("/models/x/1"));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOW_UNSIGNED, true); // trust is not what this test is about
        options.set(PipelineOptions.FEATURES_SPEC, bad.toString());
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        assertThatThrownBy(() -> StreamInferenceJob.prepare(env, options))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("features.spec")
                .hasMessageContaining(
                        bad
                                + ", line 8: feature 'total': window PT1H must be a whole multiple of"
                                + " slide PT7M");
    }

    /**
     * Events of {@link #ENTITIES} entities over several hours: in order, out of order within 30 s,
     * and late.
     */
    private static List<InputEvent> events(int count, long seed) {
        Random random = new Random(seed);
        Map<Integer, Long> clock = new HashMap<>();
        List<String> countries = List.of("NL", "DE", "FR", "US", "XX");
        List<InputEvent> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int e = random.nextInt(ENTITIES);
            long newest = clock.getOrDefault(e, 1_760_000_000_000L + random.nextInt(600_000));
            int roll = random.nextInt(100);
            long time;
            if (roll < 8) {
                time = newest - random.nextInt(30_000);
            } else if (roll < 11) {
                time = newest - 30_001 - random.nextInt(3_600_000);
            } else {
                time =
                        newest
                                + (roll < 90
                                        ? random.nextInt(90_000)
                                        : random.nextInt(3 * 3_600_000));
                clock.put(e, time);
            }
            Map<String, Double> numeric = new HashMap<>();
            numeric.put("amount", Math.round(Math.exp(3 + random.nextGaussian()) * 100) / 100.0);
            if (random.nextBoolean()) {
                numeric.put("quantity", (double) (1 + random.nextInt(4)));
            }
            events.add(
                    InputEvent.newBuilder()
                            .setEventId("fs-" + i)
                            .setEntityId(entity(e))
                            .setEventTime(time)
                            .setEventType("purchase")
                            .setNumericFields(numeric)
                            .setCategoricalFields(
                                    Map.of(
                                            "country",
                                            countries.get(random.nextInt(countries.size())),
                                            "merchant",
                                            "m-" + (e * 3 + random.nextInt(5))))
                            .build());
        }
        return events;
    }

    private static String entity(int e) {
        return String.format("entity-%03d", e);
    }

    private static byte[] key(String entity) {
        return entity.getBytes(StandardCharsets.UTF_8);
    }
}
