package org.streaminference.gateway;

import org.streaminference.model.ModelInput;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.ModelOutput;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.schemas.FeatureDrift;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;

import org.apache.flink.annotation.Internal;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the jobs serve, as their inference subtasks report it on the model-events topic (read from
 * its beginning, then followed): per model the latest deployment (versions and their roles, the
 * canary's share), the last drift report and the last refused command; the contract (inputs,
 * outputs, labels) is read from the active version's manifest where it is a local file. The topic
 * is not signed, so this view only describes: whether a model is served is the job's to say, by
 * answering or refusing (UNKNOWN_MODEL) each request.
 */
@Internal
final class ServedModelsView implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServedModelsView.class);

    private record Reported(ModelEvent deployed, ModelEvent drift, ModelEvent rejected) {}

    private final ConcurrentHashMap<String, Reported> models = new ConcurrentHashMap<>();
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String topic;
    private final Thread reader;
    private volatile boolean running = true;

    ServedModelsView(String bootstrapServers, String topic) {
        this.topic = topic;
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer =
                new KafkaConsumer<>(
                        config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        reader = new Thread(this::read, "model-events-view");
        reader.setDaemon(true);
        reader.start();
    }

    private void read() {
        boolean assigned = false;
        while (running) {
            try {
                if (!assigned) {
                    List<PartitionInfo> infos =
                            consumer.partitionsFor(topic, Duration.ofSeconds(5));
                    if (infos == null || infos.isEmpty()) {
                        Thread.sleep(1_000); // the topic appears when the first job reports
                        continue;
                    }
                    List<TopicPartition> partitions = new ArrayList<>();
                    infos.forEach(i -> partitions.add(new TopicPartition(topic, i.partition())));
                    consumer.assign(partitions);
                    consumer.seekToBeginning(partitions);
                    assigned = true;
                }
                for (ConsumerRecord<byte[], byte[]> record :
                        consumer.poll(Duration.ofMillis(500))) {
                    try {
                        apply(ModelEvents.fromJson(record.value()));
                    } catch (IOException | RuntimeException e) {
                        // not a model event of ours: the topic has other writers
                    }
                }
            } catch (WakeupException e) {
                // closing
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (running) {
                    LOG.warn("Reading {} failed; retrying", topic, e);
                }
            }
        }
    }

    void apply(ModelEvent e) {
        if (e.getModel() == null) {
            return; // a serving plan's event
        }
        models.compute(
                e.getModel(),
                (model, r) -> {
                    Reported now = r == null ? new Reported(null, null, null) : r;
                    if (e.getType() == ModelEventType.DEPLOYED && e.getDeployment() != null) {
                        if (now.deployed == null || now.deployed.getTime() <= e.getTime()) {
                            return new Reported(e, now.drift, now.rejected);
                        }
                    } else if (e.getType() == ModelEventType.DRIFT) {
                        return new Reported(now.deployed, e, now.rejected);
                    } else if (e.getType() == ModelEventType.REJECTED) {
                        return new Reported(now.deployed, now.drift, e);
                    }
                    return now;
                });
    }

    /** Whether some job reported a deployment of {@code model}. */
    boolean serves(String model) {
        Reported r = models.get(model);
        return r != null && r.deployed != null;
    }

    Optional<ModelDeployment> deployment(String model) {
        Reported r = models.get(model);
        return r == null || r.deployed == null
                ? Optional.empty()
                : Optional.of(ModelDeployment.fromState(r.deployed.getDeployment()));
    }

    /** Every model with a deployment, described briefly. */
    List<Map<String, Object>> list() {
        List<Map<String, Object>> list = new ArrayList<>();
        new TreeMap<>(models)
                .forEach(
                        (model, r) -> {
                            if (r.deployed != null) {
                                list.add(summary(r.deployed));
                            }
                        });
        return list;
    }

    /** {@code model} in full: deployment, contract, last drift report, last refusal. */
    Optional<Map<String, Object>> describe(String model) {
        Reported r = models.get(model);
        if (r == null || r.deployed == null) {
            return Optional.empty();
        }
        Map<String, Object> body = summary(r.deployed);
        ModelDeployment d = ModelDeployment.fromState(r.deployed.getDeployment());
        body.put("contract", contract(d.location(d.active())));
        if (r.drift != null) {
            Map<String, Object> drift = new LinkedHashMap<>();
            drift.put("time", Instant.ofEpochMilli(r.drift.getTime()).toString());
            drift.put("version", r.drift.getVersion());
            drift.put("message", r.drift.getMessage());
            List<Map<String, Object>> features = new ArrayList<>();
            for (FeatureDrift f : r.drift.getDrift()) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("feature", f.getFeature());
                one.put("psi", f.getPsi());
                if (f.getKs() != null) {
                    one.put("ks", f.getKs());
                }
                features.add(one);
            }
            drift.put("features", features);
            body.put("last_drift", drift);
        }
        if (r.rejected != null && r.rejected.getTime() > r.deployed.getTime()) {
            body.put(
                    "last_rejected",
                    Map.of(
                            "command", String.valueOf(r.rejected.getCommand()),
                            "reason", String.valueOf(r.rejected.getReason()),
                            "time", Instant.ofEpochMilli(r.rejected.getTime()).toString()));
        }
        return Optional.of(body);
    }

    private static Map<String, Object> summary(ModelEvent deployed) {
        ModelDeployment d = ModelDeployment.fromState(deployed.getDeployment());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", d.model());
        body.put("job", deployed.getJob());
        Map<String, Object> roles = new LinkedHashMap<>();
        roles.put("active", d.active());
        if (d.canary() != null) {
            roles.put("canary", d.canary());
            roles.put("canary_percent", d.canaryPercent());
        }
        if (d.shadow() != null) {
            roles.put("shadow", d.shadow());
        }
        if (d.previous() != null) {
            roles.put("previous", d.previous());
        }
        body.put("versions", roles);
        body.put("registered", d.servedVersions());
        body.put("revision", d.revision());
        body.put("updated", Instant.ofEpochMilli(deployed.getTime()).toString());
        return body;
    }

    /** The manifest's inputs, outputs and labels, where it is a local file this process reads. */
    static Map<String, Object> contract(String location) {
        Map<String, Object> contract = new LinkedHashMap<>();
        if (location == null) {
            contract.put("unavailable", "no manifest location reported");
            return contract;
        }
        try {
            Path path =
                    location.startsWith("file:")
                            ? Path.of(URI.create(location))
                            : Path.of(location);
            if (Files.isDirectory(path)) {
                path = path.resolve(ModelManifest.FILE_NAME);
            } else if (!path.getFileName().toString().endsWith(".json")) {
                path = path.resolveSibling(ModelManifest.FILE_NAME);
            }
            if (Files.size(path) > ModelManifest.MAX_BYTES) {
                contract.put("unavailable", "the manifest is larger than a manifest may be");
                return contract;
            }
            ModelManifest manifest = ModelManifest.fromJson(Files.readAllBytes(path));
            List<Map<String, Object>> inputs = new ArrayList<>();
            for (ModelInput in : manifest.inputs()) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("name", in.name());
                one.put("from", in.from());
                one.put("type", String.valueOf(in.elementType()));
                one.put("shape", in.shape());
                inputs.add(one);
            }
            List<Map<String, Object>> outputs = new ArrayList<>();
            for (ModelOutput out : manifest.outputs()) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("name", out.name());
                one.put("role", String.valueOf(out.role()));
                one.put("type", String.valueOf(out.elementType()));
                one.put("shape", out.shape());
                outputs.add(one);
            }
            contract.put("inputs", inputs);
            contract.put("outputs", outputs);
            contract.put("labels", manifest.labels());
        } catch (IOException | RuntimeException e) {
            contract.put("unavailable", "the manifest is not readable from the gateway");
        }
        return contract;
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            reader.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        consumer.close(Duration.ofSeconds(5));
    }
}
