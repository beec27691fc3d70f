package org.streaminference.operators.inference.control;

import org.streaminference.model.control.ModelDeployment;
import org.streaminference.operators.inference.routing.CanaryRouting;

import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model versions one inference subtask has loaded, which of them answers for an entity under
 * the current {@link ModelDeployment}, and the versions that left the deployment and still have
 * records in flight. Task thread only.
 */
@Internal
public final class ServedVersions {
    private final Map<String, ServedVersion> loaded = new LinkedHashMap<>();
    private final List<ServedVersion> draining = new ArrayList<>();
    private ModelDeployment deployment;
    private ServedVersion active;
    private ServedVersion canary;
    private ServedVersion shadow;

    public boolean isLoaded(String version) {
        return loaded.containsKey(version);
    }

    void add(ServedVersion version) {
        loaded.put(version.version, version);
    }

    /** Loaded versions plus those still draining. */
    int count() {
        return loaded.size() + draining.size();
    }

    ModelDeployment deployment() {
        return deployment;
    }

    /**
     * The version that answers for {@code entityId}: the canary for its share of entities, else the
     * active one; null before the model's first version.
     */
    public ServedVersion route(String entityId) {
        return canary != null && CanaryRouting.inCanary(entityId, deployment.canaryPercent())
                ? canary
                : active;
    }

    /** The version that scores every record on the side, or null. */
    public ServedVersion shadow() {
        return shadow;
    }

    /**
     * Routes by {@code next} from now on; every version it names must be loaded. Versions it no
     * longer names stop taking records and drain.
     */
    void deploy(ModelDeployment next) {
        for (String version : next.servedVersions()) {
            if (!loaded.containsKey(version)) {
                throw new IllegalStateException(next.model() + ":" + version + " is not loaded");
            }
        }
        deployment = next;
        active = loaded.get(next.active());
        canary = next.canary() == null ? null : loaded.get(next.canary());
        shadow = next.shadow() == null ? null : loaded.get(next.shadow());
        for (Iterator<ServedVersion> it = loaded.values().iterator(); it.hasNext(); ) {
            ServedVersion version = it.next();
            if (!next.servedVersions().contains(version.version)) {
                it.remove();
                version.batcher.flush();
                version.metrics.role(0, false);
                draining.add(version);
            }
        }
        int canaryShare = canary == null ? 0 : next.canaryPercent();
        for (ServedVersion version : loaded.values()) {
            version.metrics.role(
                    version == active ? 100 - canaryShare : version == canary ? canaryShare : 0,
                    version == shadow);
        }
    }

    /** Stops routing to any version: every loaded version drains, then is released. */
    void retire() {
        for (ServedVersion version : loaded.values()) {
            version.batcher.flush();
            version.metrics.role(0, false);
            draining.add(version);
        }
        loaded.clear();
        deployment = null;
        active = null;
        canary = null;
        shadow = null;
    }

    /** The loaded version {@code version}, or null. */
    public ServedVersion loaded(String version) {
        return loaded.get(version);
    }

    /**
     * {@code d} without the versions that are not loaded (after a restore that could not load them
     * all).
     */
    ModelDeployment withoutUnloaded(ModelDeployment d) {
        String canaryVersion = isLoaded(String.valueOf(d.canary())) ? d.canary() : null;
        return ModelDeployment.builder(d.model(), d.active())
                .previous(isLoaded(String.valueOf(d.previous())) ? d.previous() : null)
                .canary(canaryVersion, canaryVersion == null ? 0 : d.canaryPercent())
                .shadow(isLoaded(String.valueOf(d.shadow())) ? d.shadow() : null)
                .locations(d.locations())
                .revision(d.revision())
                .build();
    }

    /**
     * Releases the draining versions whose last record was answered; returns the versions released.
     */
    List<String> releaseDrained(long timeoutMillis) throws Exception {
        List<String> released = new ArrayList<>();
        for (Iterator<ServedVersion> it = draining.iterator(); it.hasNext(); ) {
            ServedVersion version = it.next();
            if (version.outstanding == 0) {
                it.remove();
                if (version.release(timeoutMillis)) {
                    released.add(version.version);
                }
            }
        }
        return released;
    }

    /** Cuts every partial batch now (at the end of the input). */
    void flush() {
        loaded.values().forEach(v -> v.batcher.flush());
        draining.forEach(v -> v.batcher.flush());
    }

    /** Releases every version, waiting for running batches. */
    void releaseAll(long timeoutMillis) throws Exception {
        List<ServedVersion> all = new ArrayList<>(loaded.values());
        all.addAll(draining);
        loaded.clear();
        draining.clear();
        for (ServedVersion version : all) {
            version.release(timeoutMillis);
        }
    }
}
