package org.streaminference.operators.inference.control;

import org.streaminference.model.ExecutionProvider;
import org.streaminference.model.FeatureContract;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.SharedModels;
import org.streaminference.schemas.FeatureLayout;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.externalresource.ExternalResourceInfo;
import org.apache.flink.api.common.functions.RuntimeContext;

import java.util.Set;

/**
 * Serves model versions from the TaskManager-wide {@link SharedModels}: one session per version and
 * device, fed by all slots. With CUDA, the device index comes from Flink's external resource
 * framework ({@code external-resources: gpu}), so each TaskManager uses the GPU Flink assigned to
 * it.
 */
@PublicEvolving
public final class SharedModelProvider implements ModelProvider {
    private static final long serialVersionUID = 1L;

    /** Name of the GPU external resource in Flink's configuration. */
    public static final String GPU_RESOURCE = "gpu";

    private final ModelLoaderConfig options;
    private final FeatureContract contract;

    /**
     * Serves models loaded with {@code options} that fit the features described by {@code
     * contract}.
     */
    public SharedModelProvider(ModelLoaderConfig options, FeatureContract contract) {
        this.options = options;
        this.contract = contract;
    }

    @Override
    public Handle open(RuntimeContext context, String location) throws ModelLoadException {
        return open(context, location, ModelLoader.Expected.ANY);
    }

    @Override
    public Handle open(RuntimeContext context, String location, ModelLoader.Expected expected)
            throws ModelLoadException {
        ModelLoaderConfig effective = options;
        if (options.executionProvider() == ExecutionProvider.CUDA) {
            effective =
                    options.withCuda(
                            gpuIndex(context, options.cudaDeviceId()), options.fallbackToCpu());
        }
        SharedModels.Lease lease = SharedModels.acquire(location, effective, contract, expected);
        return new Handle() {
            @Override
            public InferenceModel model() {
                return lease.model();
            }

            @Override
            public FeatureLayout layout() {
                return contract.layout();
            }

            @Override
            public int[] baselineIndices() {
                try {
                    return contract.baselineIndices(
                            lease.model().manifest().id(), lease.model().baseline());
                } catch (ModelLoadException e) {
                    throw new IllegalStateException("checked when the version was acquired", e);
                }
            }

            @Override
            public boolean fellBackToCpu() {
                return lease.model().fellBackToCpu();
            }

            @Override
            public void close() throws Exception {
                lease.close();
            }
        };
    }

    /**
     * The index of the first GPU Flink assigned to this TaskManager, or {@code fallback} where none
     * is configured.
     */
    static int gpuIndex(RuntimeContext context, int fallback) {
        Set<ExternalResourceInfo> gpus = context.getExternalResourceInfos(GPU_RESOURCE);
        for (ExternalResourceInfo gpu : gpus) {
            return gpu.getProperty("index").map(Integer::parseInt).orElse(fallback);
        }
        return fallback;
    }
}
