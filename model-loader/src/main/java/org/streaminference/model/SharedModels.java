package org.streaminference.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * One session per model version and execution device in a TaskManager, shared by all its slots and
 * reference-counted. Flink gives the tasks of one job on one TaskManager the same user-code class loader, so this
 * JVM-wide registry is per job and TaskManager. The last holder to release a version closes its session; holders
 * release only after their own runs have finished, so no run is in flight then (closing an ONNX Runtime session
 * during a run crashes the JVM).
 */
public final class SharedModels {
    private static final Logger LOG = LoggerFactory.getLogger(SharedModels.class);
    private static final Map<Key, Entry> MODELS = new HashMap<>();

    private record Key(String location, ModelLoaderOptions options) {}

    private static final class Entry {
        final LoadedModel model;
        int holders;

        Entry(LoadedModel model) {
            this.model = model;
        }
    }

    private SharedModels() {}

    /** A hold on a shared model version; {@link #close()} releases it. */
    public static final class Lease implements AutoCloseable {
        private final Key key;
        private final LoadedModel model;
        private boolean released;

        private Lease(Key key, LoadedModel model) {
            this.key = key;
            this.model = model;
        }

        public LoadedModel model() {
            return model;
        }

        @Override
        public void close() throws Exception {
            synchronized (MODELS) {
                if (released) {
                    return;
                }
                released = true;
                Entry entry = MODELS.get(key);
                if (--entry.holders == 0) {
                    MODELS.remove(key);
                    LOG.info("Closing the session of {}: no holder left", model.manifest().id());
                    model.close();
                }
            }
        }
    }

    /** Holds the version at {@code location}, loading and verifying it if this TaskManager does not have it yet. */
    public static Lease acquire(String location, ModelLoaderOptions options) throws ModelLoadException {
        return acquire(location, options, FeatureContract.ANY);
    }

    /**
     * Holds the version at {@code location}, loading and verifying it if this TaskManager does not have it yet, if
     * it fits the job's features.
     */
    public static Lease acquire(String location, ModelLoaderOptions options, FeatureContract contract)
            throws ModelLoadException {
        Key key = new Key(location, options);
        synchronized (MODELS) {
            Entry entry = MODELS.get(key);
            if (entry == null) {
                LoadedModel model = new ModelLoader(options).load(location);
                LOG.info("Loaded {} on {} in {} ms{}", model.manifest().id(), model.executionProvider(),
                        model.loadTimeMillis(), model.fellBackToCpu() ? " (CUDA unavailable: fell back to CPU)" : "");
                entry = new Entry(model);
                MODELS.put(key, entry);
            }
            try {
                contract.check(entry.model.manifest(), entry.model.inputValuesPerRow());
            } catch (ModelLoadException e) {
                if (entry.holders == 0) {
                    MODELS.remove(key);
                    try {
                        entry.model.close(); // nobody else holds it, so no run is in flight
                    } catch (Exception closeError) {
                        e.addSuppressed(closeError);
                    }
                }
                throw e;
            }
            entry.holders++;
            return new Lease(key, entry.model);
        }
    }

    /** Versions currently held in this JVM, for tests and diagnostics. */
    public static int loadedCount() {
        synchronized (MODELS) {
            return MODELS.size();
        }
    }
}
