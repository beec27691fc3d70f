package org.streaminference.cli;

import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.model.control.SignedCommands;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The control topic the CLI writes commands to, and the model-events topic it reads the jobs'
 * answers from.
 */
final class ControlTopic implements AutoCloseable {
    /** Exit code when a job rejected the command. */
    static final int REJECTED = ModelsCli.EXIT_REJECTED;

    /** Exit code when no job answered in time. */
    static final int NO_ANSWER = 3;

    private static final Duration QUIET_AFTER_ANSWER = Duration.ofSeconds(2);

    private final String bootstrapServers;
    private final String controlTopic;
    private final String eventsTopic;
    private KafkaProducer<String, String> producer;

    ControlTopic(String bootstrapServers, String controlTopic, String eventsTopic) {
        this.bootstrapServers = bootstrapServers;
        this.controlTopic = controlTopic;
        this.eventsTopic = eventsTopic;
    }

    /**
     * Sends {@code command}, signed with {@code key} (unsigned where it is null, for jobs that
     * allow that), then prints each job subtask's answer until {@code wait} has passed.
     */
    int sendAndReport(ModelCommand command, PublisherKey key, Duration wait, PrintWriter out)
            throws Exception {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            List<TopicPartition> partitions = partitions(consumer, eventsTopic);
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(
                    consumer::position); // fix the starting point before the command exists
            send(command, key);
            out.printf(
                    "Sent %s to %s (command %s, sequence %d, %s).%n",
                    ModelCommands.describe(command),
                    controlTopic,
                    command.getId(),
                    command.getSequence(),
                    key == null ? "unsigned" : "signed by key " + key.keyId());
            if (key == null) {
                out.printf(
                        "WARNING: the command is not signed (no --signing-key): jobs obey it only with"
                                + " model.allow-unsigned.%n");
            }
            if (wait.isZero()) {
                return 0;
            }
            out.flush();
            return report(consumer, command, wait, out);
        }
    }

    /**
     * Prints the answers to {@code command}. The model-events topic is not signed: whoever can
     * write to it can write anything, so a record that is not a model event is skipped and counted,
     * and each job subtask is counted once; two different answers from one subtask are reported as
     * a sign of another writer.
     */
    int report(
            Consumer<byte[], byte[]> consumer,
            ModelCommand command,
            Duration wait,
            PrintWriter out) {
        long deadline = System.nanoTime() + wait.toNanos();
        long quietUntil = Long.MAX_VALUE;
        int deployed = 0;
        int rejected = 0;
        int unreadable = 0;
        Set<String> notServing = new TreeSet<>();
        Map<String, String> answered = new HashMap<>();
        Set<String> conflicting = new TreeSet<>();
        while (System.nanoTime() < Math.min(deadline, quietUntil)) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                ModelEvent event;
                try {
                    event = ModelEvents.fromJson(record.value());
                } catch (IOException | RuntimeException e) {
                    unreadable++;
                    continue;
                }
                if (!command.getId().equals(event.getCommandId())
                        || (event.getType() != ModelEventType.DEPLOYED
                                && event.getType() != ModelEventType.REJECTED)) {
                    continue;
                }
                String subtask = event.getJobId() + "/" + event.getSubtask();
                String answer = event.getType() + " " + event.getReason();
                String earlier = answered.putIfAbsent(subtask, answer);
                if (earlier != null) {
                    if (!earlier.equals(answer)) {
                        conflicting.add(event.getJob() + " subtask " + event.getSubtask());
                    }
                    continue;
                }
                if (event.getType() == ModelEventType.DEPLOYED) {
                    deployed++;
                    out.printf(
                            "  %s subtask %d: %s%n",
                            event.getJob(),
                            event.getSubtask(),
                            event.getDeployment() == null
                                    ? event.getMessage() // a serving plan
                                    : "serves "
                                            + ModelDeployment.fromState(event.getDeployment())
                                                    .describe());
                } else if (event.getType() == ModelEventType.REJECTED
                        && "UNKNOWN_MODEL".equals(event.getReason())) {
                    notServing.add(
                            event.getJob() + " (" + event.getJobId() + ")"); // another job's model
                } else if (event.getType() == ModelEventType.REJECTED) {
                    rejected++;
                    out.printf(
                            "  %s subtask %d: REJECTED (%s) %s%n",
                            event.getJob(),
                            event.getSubtask(),
                            event.getReason(),
                            event.getMessage());
                }
                out.flush();
                quietUntil = System.nanoTime() + QUIET_AFTER_ANSWER.toNanos();
            }
        }
        if (unreadable > 0) {
            out.printf(
                    "  %d record(s) on %s were not model events and were skipped: something other than the jobs"
                            + " writes to it.%n",
                    unreadable, eventsTopic);
        }
        if (!conflicting.isEmpty()) {
            out.printf(
                    "  WARNING: %s answered twice, differently: something other than the jobs writes to %s;"
                            + " check what they serve with 'models list' and their metrics.%n",
                    conflicting, eventsTopic);
        }
        if (!notServing.isEmpty()) {
            out.printf(
                    "  %s: do not serve %s (UNKNOWN_MODEL)%n",
                    String.join(", ", notServing), command.getModel());
        }
        if (deployed + rejected == 0 && !notServing.isEmpty()) {
            out.printf(
                    "No job serves %s: a job serves only the models its serving plan names (models plan).%n",
                    command.getModel());
            return REJECTED;
        }
        if (deployed + rejected == 0) {
            out.printf(
                    "No running job answered within %d s. Is a job reading %s at %s? The command stays on the"
                            + " topic: a job started without state applies it when it starts.%n",
                    wait.toSeconds(), controlTopic, bootstrapServers);
            return NO_ANSWER;
        }
        if (rejected > 0) {
            out.printf(
                    "%d subtask(s) rejected the command and keep serving what they served before.%n",
                    rejected);
            return REJECTED;
        }
        return 0;
    }

    void send(ModelCommand command, PublisherKey key)
            throws InterruptedException, ExecutionException, TimeoutException {
        if (producer == null) {
            producer =
                    new KafkaProducer<>(
                            Map.of(
                                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                    bootstrapServers,
                                    ProducerConfig.ACKS_CONFIG,
                                    "all",
                                    ProducerConfig.MAX_BLOCK_MS_CONFIG,
                                    15_000),
                            new StringSerializer(),
                            new StringSerializer());
        }
        byte[] value =
                key == null
                        ? ModelCommands.toJson(command)
                        : SignedCommands.sign(command, key.privateKey(), key.publicKey());
        producer.send(
                        new ProducerRecord<>(
                                controlTopic,
                                command.getModel(),
                                new String(value, StandardCharsets.UTF_8)))
                .get(30, TimeUnit.SECONDS);
    }

    /**
     * Checks that the control and model-events topics exist, before anything is stored or sent.
     *
     * @throws IllegalStateException naming the missing topics and how to make them
     */
    void requireTopics() throws Exception {
        try (Admin admin =
                Admin.create(
                        Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            Set<String> topics = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<String> missing = new ArrayList<>();
            for (String topic : List.of(controlTopic, eventsTopic)) {
                if (!topics.contains(topic)) {
                    missing.add(topic);
                }
            }
            if (!missing.isEmpty()) {
                throw new IllegalStateException(
                        "topic(s) "
                                + missing
                                + " do not exist at "
                                + bootstrapServers
                                + ": create them first (kafka-topics.sh --create --topic <name> --partitions 1, or k8s/"
                                + "kafka-topics.yaml); nothing was stored or sent");
            }
        }
    }

    /** Every model event on the topic so far. */
    List<ModelEvent> readAllEvents() throws IOException {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            List<TopicPartition> partitions = partitions(consumer, eventsTopic);
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ModelEvent> events = new ArrayList<>();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(500))) {
                    try {
                        events.add(ModelEvents.fromJson(record.value()));
                    } catch (IOException e) {
                        // not written by a job of ours; list what can be read
                    }
                }
            }
            return events;
        }
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        return new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        bootstrapServers,
                        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                        false,
                        ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                        15_000),
                new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic);
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("topic '" + topic + "' does not exist");
        }
        return infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
    }

    @Override
    public void close() {
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }
}
