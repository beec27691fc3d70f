package org.streaminference.jobs;

import org.streaminference.embedded.DemoEvents;
import org.streaminference.model.DemoModels;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.model.control.ServingPlans;
import org.streaminference.model.trust.ManifestSignatures;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.schemas.Prediction;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An attacker who can write to the control topic but holds no trusted key, against a running job
 * (MiniCluster, real Kafka, parallelism 2, one trusted key, no unsigned commands, restart strategy
 * {@code none} so that any failure shows): every unsigned, forged, replayed, reordered, expired or
 * duplicate-key command is answered by both subtasks with its reason, no version is loaded,
 * deployed or released by it, predictions keep coming, and the job never fails. Then a job started
 * without state on the same topic serves its own configuration, refuses everything issued before
 * it, and obeys a signed command issued after it.
 *
 * <p>The test writes its envelopes itself (base64 of the command's bytes and an Ed25519 signature
 * over them), not through the product's signing code, as a client in another language would.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class ControlPlaneAttackITCase {
    private static final String MODEL = DemoModels.NAME;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(1);

    @RegisterExtension
    static final EmbeddedServicesExtension SERVICES = new EmbeddedServicesExtension();

    /** One record the attacker sends, and the reason both subtasks must give. */
    private record Attack(String name, byte[] value, String reason) {}

    @Test
    void noCommandWithoutATrustedKeyChangesWhatIsServedAndPredictionsNeverStop() throws Exception {
        DefaultTopics.create(SERVICES.kafka(), 2, 2);
        KeyPair trusted = ManifestSignatures.generateKeyPair();
        KeyPair attacker = ManifestSignatures.generateKeyPair();
        Path trustedKeys =
                Files.writeString(
                        SERVICES.dir().resolve("trusted.pub"),
                        ManifestSignatures.publicKeyPem(trusted.getPublic()));
        Path models = SERVICES.dir().resolve("models");
        Map<Integer, Path> versions = new LinkedHashMap<>();
        for (int v = 1; v <= 3; v++) {
            Path dir = v < 3 ? DemoModels.write(models, v) : copyAsVersion(versions.get(1), "3");
            ManifestSignatures.signVersion(dir, trusted);
            versions.put(v, dir);
        }
        String v2 = versions.get(2).toUri().toString();
        String v3 = versions.get(3).toUri().toString();

        // signed by the trusted key before the job's configuration, then withheld by whoever
        // intercepted it
        byte[] withheldPlan =
                envelope(trusted, json(ModelCommands.setPlan(ServingPlans.single("nothing"))));

        MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(2)
                                .build());
        cluster.start();
        EventProducer producer = new EventProducer(SERVICES.bootstrapServers());
        try (Tail<Prediction> predictions =
                        new Tail<>(
                                SERVICES.bootstrapServers(),
                                "predictions",
                                b -> Prediction.fromByteBuffer(ByteBuffer.wrap(b)));
                Tail<ModelEvent> events =
                        new Tail<>(
                                SERVICES.bootstrapServers(),
                                "model-events",
                                ModelEvents::fromJson)) {
            JobID job = cluster.submitJob(jobGraph(versions.get(1), trustedKeys)).get().getJobID();
            await().atMost(ANSWER_TIMEOUT)
                    .until(() -> cluster.getJobStatus(job).get() == JobStatus.RUNNING);
            await().atMost(ANSWER_TIMEOUT).until(() -> predictions.size() > 50);

            // signed after the job's configuration, before the commands below, and withheld
            byte[] withheldRetire = envelope(trusted, json(ModelCommands.retire(MODEL, "1")));
            // what the key's holder deploys: active 2 (previous 1), canary 3 at 10%
            byte[] canary2 =
                    send(
                            legit(
                                    trusted,
                                    ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 50)));
            awaitDeployed(events, canary2);
            byte[] promote = send(legit(trusted, ModelCommands.promote(MODEL)));
            awaitDeployed(events, promote);
            awaitDeployed(
                    events,
                    send(
                            legit(
                                    trusted,
                                    ModelCommands.publish(MODEL, "3", v3, ModelRole.CANARY, 10))));
            String served = servedNow(events);
            assertThat(served).isEqualTo(MODEL + ": active 2, previous 1, canary 3 (10%)");
            long deployedAt =
                    System.currentTimeMillis(); // events stamped later are answered by 2 or 3

            List<Attack> attacks = new ArrayList<>();
            attacks.add(
                    new Attack(
                            "a signed plan withheld from before the job's configuration",
                            withheldPlan,
                            "STALE"));
            attacks.add(
                    unsigned(
                            "unsigned SET_PLAN to a model that does not exist",
                            "{\"command\":\"SET_PLAN\",\"plan\":{\"routes\":[{\"to\":[\"nothing\"]}]}}"));
            attacks.add(
                    unsigned("unsigned empty SET_PLAN", "{\"command\":\"SET_PLAN\",\"plan\":{}}"));
            attacks.add(
                    unsigned(
                            "unsigned PUBLISH of version 1 as active (a downgrade)",
                            new String(
                                    json(
                                            ModelCommands.publish(
                                                    MODEL,
                                                    "1",
                                                    versions.get(1).toUri().toString(),
                                                    null,
                                                    null)),
                                    StandardCharsets.UTF_8)));
            attacks.add(
                    unsigned(
                            "unsigned PROMOTE",
                            new String(
                                    json(ModelCommands.promote(MODEL)), StandardCharsets.UTF_8)));
            attacks.add(
                    unsigned(
                            "unsigned ROLLBACK",
                            "{\"command\":\"ROLLBACK\",\"model\":\"" + MODEL + "\"}"));
            attacks.add(
                    unsigned(
                            "unsigned RETIRE of the canary",
                            new String(
                                    json(ModelCommands.retire(MODEL, "3")),
                                    StandardCharsets.UTF_8)));
            attacks.add(
                    unsigned(
                            "unsigned SET_CANARY 100%",
                            new String(
                                    json(ModelCommands.setCanary(MODEL, "3", 100)),
                                    StandardCharsets.UTF_8)));
            attacks.add(
                    unsigned(
                            "unsigned SET_SHADOW (double the work)",
                            new String(
                                    json(ModelCommands.setShadow(MODEL, "1")),
                                    StandardCharsets.UTF_8)));
            attacks.add(
                    new Attack(
                            "PROMOTE signed by the attacker's own key",
                            envelope(attacker, json(ModelCommands.promote(MODEL))),
                            "SIGNATURE_INVALID"));
            attacks.add(
                    new Attack(
                            "RETIRE signed by the attacker under the trusted key's id",
                            envelope(
                                    attacker,
                                    ManifestSignatures.keyId(trusted.getPublic()),
                                    json(ModelCommands.retire(MODEL, "3"))),
                            "SIGNATURE_INVALID"));
            attacks.add(
                    new Attack(
                            "the trusted PROMOTE's signature on a SET_PLAN's bytes",
                            swapPayload(
                                    promote,
                                    json(ModelCommands.setPlan(ServingPlans.single("nothing")))),
                            "SIGNATURE_INVALID"));
            attacks.add(
                    new Attack(
                            "replay of the trusted PUBLISH of version 2 as canary",
                            canary2,
                            "REPLAYED"));
            attacks.add(new Attack("replay of the trusted PROMOTE", promote, "REPLAYED"));
            attacks.add(
                    new Attack(
                            "a trusted RETIRE of version 1 signed before the PROMOTE, sent after it",
                            withheldRetire,
                            "OUT_OF_ORDER"));
            attacks.add(
                    new Attack(
                            "a trusted SET_CANARY 100% issued two days ago",
                            envelope(
                                    trusted,
                                    json(
                                            ModelCommands.setCanary(MODEL, "3", 100),
                                            System.currentTimeMillis()
                                                    - Duration.ofDays(2).toMillis())),
                            "STALE"));
            attacks.add(
                    new Attack(
                            "a trusted SET_SHADOW issued an hour in the future",
                            envelope(
                                    trusted,
                                    json(
                                            ModelCommands.setShadow(MODEL, "1"),
                                            System.currentTimeMillis()
                                                    + Duration.ofHours(1).toMillis())),
                            "NOT_YET_VALID"));
            attacks.add(
                    new Attack(
                            "a trusted RETIRE whose payload gives 'version' twice",
                            envelope(
                                    trusted,
                                    new String(
                                                    json(ModelCommands.retire(MODEL, "1")),
                                                    StandardCharsets.UTF_8)
                                            .replace(
                                                    "\"version\":\"1\"",
                                                    "\"version\":\"1\",\"version\":\"3\"")
                                            .getBytes(StandardCharsets.UTF_8)),
                            "INVALID_COMMAND"));
            attacks.add(
                    new Attack(
                            "an envelope that gives 'payload' twice (the trusted one first)",
                            duplicatePayload(promote, json(ModelCommands.retire(MODEL, "3"))),
                            "INVALID_COMMAND"));
            attacks.add(
                    new Attack(
                            "an unsigned plan that gives 'routes' twice",
                            ("{\"command\":\"SET_PLAN\","
                                            + "\"plan\":{\"routes\":[{\"to\":[\""
                                            + MODEL
                                            + "\"]}],\"routes\":[]}}")
                                    .getBytes(StandardCharsets.UTF_8),
                            "INVALID_COMMAND"));

            int firstAnswered = predictions.size();
            List<String> outcomes = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            for (Attack attack : attacks) {
                int rejectedBefore = rejected(events, job).size();
                int changesBefore = changes(events, job);
                int predictionsBefore = predictions.size();
                send(attack.value());
                boolean answered =
                        within(
                                ANSWER_TIMEOUT,
                                () ->
                                        rejected(events, job).size() >= rejectedBefore + 2
                                                || changes(events, job) > changesBefore);
                int changed = changes(events, job) - changesBefore;
                List<ModelEvent> answers = rejected(events, job);
                answers =
                        answers.subList(
                                rejectedBefore, Math.min(answers.size(), rejectedBefore + 2));
                List<String> reasons = answers.stream().map(ModelEvent::getReason).toList();
                boolean flowing =
                        within(
                                Duration.ofSeconds(30),
                                () -> predictions.size() > predictionsBefore + 20);
                JobStatus status = cluster.getJobStatus(job).get();
                String outcome =
                        (changed > 0
                                        ? "CHANGED WHAT IS SERVED ("
                                                + changed
                                                + " loads, deployments or"
                                                + " releases; now "
                                                + describeServed(events)
                                                + ")"
                                        : !answered
                                                ? "NO ANSWER"
                                                : "answered "
                                                        + reasons
                                                        + " by subtasks "
                                                        + answers.stream()
                                                                .map(ModelEvent::getSubtask)
                                                                .sorted()
                                                                .toList()
                                                        + ": "
                                                        + cut(answers.get(0).getMessage()))
                                + (flowing ? "" : "; PREDICTIONS STOPPED")
                                + (status == JobStatus.RUNNING ? "" : "; JOB " + status);
                outcomes.add(String.format("  %-68s %s", attack.name(), outcome));
                System.out.println("ATTACK " + outcomes.get(outcomes.size() - 1).trim());
                if (changed > 0
                        || !reasons.equals(List.of(attack.reason(), attack.reason()))
                        || !flowing
                        || status != JobStatus.RUNNING) {
                    failures.add(attack.name() + " (expected " + attack.reason() + "): " + outcome);
                }
            }
            Set<String> answeredBy =
                    predictions.all().stream()
                            .filter(p -> p.getEventTime() > deployedAt)
                            .map(Prediction::getModelVersion)
                            .collect(Collectors.toCollection(TreeSet::new));
            System.out.printf(
                    "ATTACKS: %d records by an attacker without a trusted key; served before: %s, after:"
                            + " %s; answered by versions %s; %d predictions during the attacks; job %s (restart strategy"
                            + " none: restarts 0 while it runs)%n",
                    attacks.size(),
                    served,
                    describeServed(events),
                    answeredBy,
                    predictions.size() - firstAnswered,
                    cluster.getJobStatus(job).get());
            outcomes.forEach(System.out::println);
            assertThat(failures)
                    .as(
                            "attacks that were not refused with their reason, changed what is served,"
                                    + " stopped predictions or failed the job")
                    .isEmpty();
            assertThat(servedNow(events)).isEqualTo(served);
            assertThat(answeredBy)
                    .as("versions answering the events sent after the deployment")
                    .isSubsetOf("2", "3")
                    .contains("2");

            // a fresh job on the same topic: its configuration (version 1), not what the topic
            // says, and no
            // command from before it; a signed command issued after it is obeyed
            cluster.cancelJob(job).get(1, TimeUnit.MINUTES);
            await().atMost(ANSWER_TIMEOUT)
                    .until(() -> cluster.getJobStatus(job).get() == JobStatus.CANCELED);
            long cancelled =
                    System.currentTimeMillis(); // events stamped later reach the fresh job only
            int fromFreshJob = predictions.size();
            JobID fresh =
                    cluster.submitJob(jobGraph(versions.get(1), trustedKeys)).get().getJobID();
            int records =
                    attacks.size()
                            + 3; // the 3 legit commands and every attack (the withheld plan among
            // them)
            await().atMost(ANSWER_TIMEOUT)
                    .until(() -> rejected(events, fresh).size() >= 2 * records);
            Map<String, Long> freshReasons =
                    rejected(events, fresh).stream()
                            .collect(
                                    Collectors.groupingBy(
                                            ModelEvent::getReason,
                                            TreeMap::new,
                                            Collectors.counting()));
            System.out.printf(
                    "FRESH JOB: the topic's %d records replayed, refused by reason (both subtasks) %s%n",
                    records, freshReasons);
            assertThat(events.all())
                    .filteredOn(
                            e ->
                                    e.getJobId().equals(fresh.toHexString())
                                            && e.getType() != ModelEventType.REJECTED)
                    .as("the fresh job loads and deploys its configuration only")
                    .allSatisfy(
                            e -> {
                                assertThat(e.getCommandId()).isNull();
                                assertThat(e.getVersion()).isEqualTo("1");
                            });
            await().atMost(ANSWER_TIMEOUT).until(() -> predictions.size() > fromFreshJob + 50);
            assertThat(predictions.all())
                    .filteredOn(p -> p.getEventTime() > cancelled)
                    .as("the fresh job answers with its configuration")
                    .isNotEmpty()
                    .extracting(Prediction::getModelVersion)
                    .containsOnly("1");

            byte[] newer = send(legit(trusted, ModelCommands.publish(MODEL, "3", v3, null, null)));
            awaitDeployed(events, newer);
            assertThat(cluster.getJobStatus(fresh).get()).isEqualTo(JobStatus.RUNNING);
            cluster.cancelJob(fresh).get(1, TimeUnit.MINUTES);
        } finally {
            producer.close();
            cluster.closeAsync().get(2, TimeUnit.MINUTES);
        }
    }

    /**
     * A third version: the files of {@code source} beside it, its manifest naming {@code version}.
     */
    private static Path copyAsVersion(Path source, String version) throws Exception {
        Path dir = Files.createDirectories(source.resolveSibling(version));
        Files.copy(source.resolve("model.onnx"), dir.resolve("model.onnx"));
        ObjectNode manifest = (ObjectNode) JSON.readTree(source.resolve("manifest.json").toFile());
        manifest.put("version", version);
        Files.write(dir.resolve("manifest.json"), JSON.writeValueAsBytes(manifest));
        return dir;
    }

    private static JobGraph jobGraph(Path v1, Path trustedKeys) throws Exception {
        Configuration options = new Configuration();
        options.set(PipelineOptions.KAFKA_BOOTSTRAP_SERVERS, SERVICES.bootstrapServers());
        options.set(PipelineOptions.MODEL_URI, List.of(v1.toUri().toString()));
        options.set(
                PipelineOptions.MODEL_ALLOWED_ROOTS, List.of(SERVICES.dir().toUri().toString()));
        options.set(PipelineOptions.MODEL_TRUSTED_KEYS, trustedKeys.toString());
        options.set(PipelineOptions.RESULT_STORE_ENABLED, false);
        options.set(PipelineOptions.DEFAULT_CHECKPOINT_INTERVAL, Duration.ofMillis(500));
        options.set(
                RestartStrategyOptions.RESTART_STRATEGY,
                "none"); // a failure fails the job: nothing hides it
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(options);
        env.setParallelism(2);
        StreamInferenceJob.prepare(env, options);
        return env.getStreamGraph().getJobGraph();
    }

    // ---------------------------------------------------------------------------------------------------------
    // what is served, from the jobs' answers
    // ---------------------------------------------------------------------------------------------------------

    private static List<ModelEvent> rejected(Tail<ModelEvent> events, JobID job) {
        return events.all().stream()
                .filter(
                        e ->
                                e.getType() == ModelEventType.REJECTED
                                        && e.getJobId().equals(job.toHexString()))
                .toList();
    }

    /** Loads, deployments and releases of {@code job}: what changes what is served. */
    private static int changes(Tail<ModelEvent> events, JobID job) {
        return (int)
                events.all().stream()
                        .filter(
                                e ->
                                        e.getJobId().equals(job.toHexString())
                                                && e.getType() != ModelEventType.REJECTED
                                                && e.getType() != ModelEventType.DRIFT)
                        .count();
    }

    /** Waits until both subtasks deployed the command in {@code envelope}. */
    private static void awaitDeployed(Tail<ModelEvent> events, byte[] envelope) throws Exception {
        String id =
                JSON.readTree(
                                Base64.getDecoder()
                                        .decode(JSON.readTree(envelope).get("payload").asText()))
                        .get("id")
                        .asText();
        await().atMost(ANSWER_TIMEOUT)
                .pollInterval(Duration.ofMillis(100))
                .until(
                        () -> {
                            List<ModelEvent> answers =
                                    events.all().stream()
                                            .filter(e -> id.equals(e.getCommandId()))
                                            .toList();
                            assertThat(answers)
                                    .as("answers to %s", id)
                                    .noneMatch(e -> e.getType() == ModelEventType.REJECTED);
                            return answers.stream()
                                            .filter(e -> e.getType() == ModelEventType.DEPLOYED)
                                            .map(ModelEvent::getSubtask)
                                            .distinct()
                                            .count()
                                    == 2;
                        });
    }

    /** Whether {@code condition} holds within {@code timeout}. */
    private static boolean within(Duration timeout, Callable<Boolean> condition) {
        try {
            await().atMost(timeout).pollInterval(Duration.ofMillis(100)).until(condition);
            return true;
        } catch (ConditionTimeoutException e) {
            return false;
        }
    }

    private static String cut(String message) {
        return message == null || message.length() <= 140
                ? message
                : message.substring(0, 140) + "…";
    }

    /** Each subtask's last deployment, for the log. */
    private static String describeServed(Tail<ModelEvent> events) {
        Map<Integer, String> bySubtask = new TreeMap<>();
        for (ModelEvent e : events.all()) {
            if (e.getType() == ModelEventType.DEPLOYED && e.getDeployment() != null) {
                bySubtask.put(
                        e.getSubtask(), ModelDeployment.fromState(e.getDeployment()).describe());
            } else if (e.getType() == ModelEventType.DEPLOYED) {
                bySubtask.merge(e.getSubtask(), e.getMessage(), (a, b) -> a + "; " + b);
            }
        }
        return bySubtask.toString();
    }

    /** What both subtasks serve now, from their last deployments; they must agree. */
    private static String servedNow(Tail<ModelEvent> events) {
        Map<Integer, String> bySubtask = new LinkedHashMap<>();
        for (ModelEvent e : events.all()) {
            if (e.getType() == ModelEventType.DEPLOYED && e.getDeployment() != null) {
                bySubtask.put(
                        e.getSubtask(), ModelDeployment.fromState(e.getDeployment()).describe());
            }
        }
        assertThat(new TreeSet<>(bySubtask.values())).as("both subtasks serve the same").hasSize(1);
        return bySubtask.values().iterator().next();
    }

    // ---------------------------------------------------------------------------------------------------------
    // commands, signed and not, written here as any client would
    // ---------------------------------------------------------------------------------------------------------

    private static Attack unsigned(String name, String json) {
        return new Attack(name, json.getBytes(StandardCharsets.UTF_8), "UNSIGNED");
    }

    /** A command of the key's holder, as the models CLI sends it. */
    private static byte[] legit(KeyPair key, ModelCommand command) {
        return envelope(key, json(command));
    }

    private static byte[] json(ModelCommand command) {
        return ModelCommands.toJson(command);
    }

    /**
     * {@code command} issued at {@code issuedAt}, its sequence the current time (above every
     * earlier one).
     */
    private static byte[] json(ModelCommand command, long issuedAt) {
        try {
            ObjectNode tree = (ObjectNode) JSON.readTree(ModelCommands.toJson(command));
            tree.put("issuedAt", issuedAt);
            tree.put("sequence", System.currentTimeMillis());
            return JSON.writeValueAsBytes(tree);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] envelope(KeyPair key, byte[] payload) {
        return envelope(key, ManifestSignatures.keyId(key.getPublic()), payload);
    }

    /** The envelope of {@code payload} signed with {@code key}, naming {@code keyId}. */
    private static byte[] envelope(KeyPair key, String keyId, byte[] payload) {
        ManifestSignatures.SignatureFile signature =
                ManifestSignatures.sign(payload, key.getPrivate(), key.getPublic());
        ObjectNode envelope = JSON.createObjectNode();
        envelope.put("algorithm", "Ed25519");
        envelope.put("keyId", keyId);
        envelope.put("signature", signature.signature());
        envelope.put("payload", Base64.getEncoder().encodeToString(payload));
        try {
            return JSON.writeValueAsBytes(envelope);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code trusted}'s envelope with its payload replaced by {@code payload}. */
    private static byte[] swapPayload(byte[] trusted, byte[] payload) throws Exception {
        ObjectNode envelope = (ObjectNode) JSON.readTree(trusted);
        envelope.put("payload", Base64.getEncoder().encodeToString(payload));
        return JSON.writeValueAsBytes(envelope);
    }

    /**
     * {@code trusted}'s envelope followed by a second {@code payload} key holding {@code payload}.
     */
    private static byte[] duplicatePayload(byte[] trusted, byte[] payload) {
        String json = new String(trusted, StandardCharsets.UTF_8);
        return (json.substring(0, json.length() - 1)
                        + ",\"payload\":\""
                        + Base64.getEncoder().encodeToString(payload)
                        + "\"}")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] send(byte[] value) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                SERVICES.bootstrapServers()),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            producer.send(
                            new ProducerRecord<>(
                                    "model-control", MODEL.getBytes(StandardCharsets.UTF_8), value))
                    .get(30, TimeUnit.SECONDS);
        }
        return value;
    }

    // ---------------------------------------------------------------------------------------------------------
    // the stream around the attacks
    // ---------------------------------------------------------------------------------------------------------

    /** Demo events at about 100 a second, stamped with the time they are sent, until closed. */
    private static final class EventProducer implements AutoCloseable {
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        EventProducer(String bootstrap) {
            DemoEvents demo = new DemoEvents(28, 40, "attack");
            thread =
                    new Thread(
                            () -> {
                                try (KafkaProducer<byte[], byte[]> producer =
                                        new KafkaProducer<>(
                                                Map.of(
                                                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                                        bootstrap,
                                                        ProducerConfig.LINGER_MS_CONFIG,
                                                        5),
                                                new ByteArraySerializer(),
                                                new ByteArraySerializer())) {
                                    while (running.get()) {
                                        for (int i = 0; i < 10; i++) {
                                            var event = demo.next(System.currentTimeMillis());
                                            producer.send(
                                                    new ProducerRecord<>(
                                                            "events",
                                                            event.getEntityId()
                                                                    .getBytes(
                                                                            StandardCharsets.UTF_8),
                                                            PipelineTestSupport.bytes(
                                                                    event.toByteBuffer())));
                                        }
                                        Thread.sleep(
                                                100); // pacing of the producer, not a wait for a
                                        // condition
                                    }
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                } catch (Exception e) {
                                    throw new IllegalStateException(e);
                                }
                            },
                            "attack-events");
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(30_000);
        }
    }

    /** Every committed record of a topic, read on a thread of its own as it comes. */
    private static final class Tail<T> implements AutoCloseable {
        interface Decoder<T> {
            T decode(byte[] value) throws Exception;
        }

        private final List<T> values = Collections.synchronizedList(new ArrayList<>());
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Tail(String bootstrap, String topic, Decoder<T> decoder) {
            thread =
                    new Thread(
                            () -> {
                                try (KafkaConsumer<byte[], byte[]> consumer =
                                        new KafkaConsumer<>(
                                                Map.of(
                                                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                                        bootstrap,
                                                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                                                        "read_committed",
                                                        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                                                        false),
                                                new ByteArrayDeserializer(),
                                                new ByteArrayDeserializer())) {
                                    List<TopicPartition> partitions = new ArrayList<>();
                                    for (PartitionInfo p : consumer.partitionsFor(topic)) {
                                        partitions.add(new TopicPartition(topic, p.partition()));
                                    }
                                    consumer.assign(partitions);
                                    consumer.seekToBeginning(partitions);
                                    while (running.get()) {
                                        for (ConsumerRecord<byte[], byte[]> r :
                                                consumer.poll(Duration.ofMillis(100))) {
                                            try {
                                                values.add(decoder.decode(r.value()));
                                            } catch (Exception e) {
                                                // not a record of the job's: the test's checks
                                                // count what the job wrote
                                            }
                                        }
                                    }
                                }
                            },
                            "tail-" + topic);
            thread.start();
        }

        int size() {
            return values.size();
        }

        List<T> all() {
            synchronized (values) {
                return new ArrayList<>(values);
            }
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(30_000);
        }
    }
}
