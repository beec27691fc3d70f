package org.streaminference.model;

import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * One session per model version and execution device in a TaskManager, shared by all its slots and
 * reference-counted. Flink gives the tasks of one job on one TaskManager the same user-code class
 * loader, so this JVM-wide registry is per job and TaskManager. The last holder to release a
 * version closes its session; holders release only after their own runs have finished, so no run is
 * in flight then (closing an ONNX Runtime session during a run crashes the JVM). A version loads
 * outside the registry's lock: a slow or stuck load holds back only those who asked for the same
 * version, never the loads of others.
 */
@Internal
public final class SharedModels {
    private static final Logger LOG = LoggerFactory.getLogger(SharedModels.class);
    private static final Map<Key, Entry> MODELS = new HashMap<>();

    private record Key(String location, ModelLoaderConfig options) {}

    private static final class Entry {
        final CompletableFuture<LoadedModel> model = new CompletableFuture<>();
        int holders;
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

    /**
     * Holds the version at {@code location}, loading and verifying it if this TaskManager does not
     * have it yet.
     */
    public static Lease acquire(String location, ModelLoaderConfig options)
            throws ModelLoadException {
        return acquire(location, options, FeatureContract.ANY, ModelLoader.Expected.ANY);
    }

    /**
     * Holds the version at {@code location}, loading and verifying it if this TaskManager does not
     * have it yet, if it is the version expected and fits the job's features.
     */
    public static Lease acquire(
            String location,
            ModelLoaderConfig options,
            FeatureContract contract,
            ModelLoader.Expected expected)
            throws ModelLoadException {
        Key key = new Key(location, options);
        Entry entry;
        boolean loadHere = false;
        synchronized (MODELS) {
            entry = MODELS.get(key);
            if (entry == null) {
                entry = new Entry();
                MODELS.put(key, entry);
                loadHere = true;
            }
            entry.holders++; // held while loading, so that nobody closes or replaces it meanwhile
        }
        if (loadHere) {
            try {
                LoadedModel model = new ModelLoader(options).load(location, expected);
                LOG.info(
                        "Loaded {} on {} in {} ms{}",
                        model.manifest().id(),
                        model.executionProvider(),
                        model.loadTimeMillis(),
                        model.fellBackToCpu() ? " (CUDA unavailable: fell back to CPU)" : "");
                entry.model.complete(model);
            } catch (ModelLoadException | RuntimeException e) {
                entry.model.completeExceptionally(e);
            }
        }
        LoadedModel model;
        try {
            model = entry.model.get();
            check(model, contract, expected);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            release(key, entry, null);
            throw new ModelLoadException(
                    ModelLoadException.Reason.LOAD_TIMEOUT, "interrupted while loading");
        } catch (ExecutionException e) {
            release(key, entry, null);
            if (e.getCause() instanceof ModelLoadException m) {
                throw m; // the load's own failure, for everyone who waited for it
            }
            throw new ModelLoadException(
                    ModelLoadException.Reason.RUNTIME_ERROR,
                    String.valueOf(e.getCause()),
                    e.getCause());
        } catch (ModelLoadException e) {
            release(key, entry, e);
            throw e;
        }
        return new Lease(key, model);
    }

    /**
     * A version already loaded for another holder is checked against what this one expects, too.
     */
    private static void check(
            LoadedModel model, FeatureContract contract, ModelLoader.Expected expected)
            throws ModelLoadException {
        ModelLoader.checkExpected(model.manifest(), expected);
        contract.check(model);
    }

    /**
     * Gives up a hold taken in {@link #acquire}; the last one out closes a loaded model (no run is
     * in flight).
     */
    private static void release(Key key, Entry entry, Exception failure) {
        synchronized (MODELS) {
            if (--entry.holders > 0) {
                return;
            }
            if (MODELS.get(key) == entry) {
                MODELS.remove(key);
            }
            LoadedModel model =
                    entry.model.isDone() && !entry.model.isCompletedExceptionally()
                            ? entry.model.join()
                            : null;
            if (model != null) {
                try {
                    model.close();
                } catch (Exception closeError) {
                    if (failure != null) {
                        failure.addSuppressed(closeError);
                    }
                }
            }
        }
    }

    /** Versions currently held in this JVM, for tests and diagnostics. */
    public static int loadedCount() {
        synchronized (MODELS) {
            return MODELS.size();
        }
    }
}
