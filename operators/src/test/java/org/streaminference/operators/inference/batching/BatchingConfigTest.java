package org.streaminference.operators.inference.batching;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchingConfigTest {

    @Test
    void unsetValuesKeepTheirDefaultsAndTheCapacityFollowsTheBatches() {
        BatchingConfig c = BatchingConfig.builder().maxBatchSize(16).concurrentBatches(3).build();
        assertThat(c.maxDelayMillis()).isEqualTo(5);
        assertThat(c.capacity()).isEqualTo(2 * 16 * 3);
        assertThat(BatchingConfig.builder().maxBatchSize(16).capacity(16).build().capacity())
                .isEqualTo(16);
        assertThat(BatchingConfig.defaults()).isEqualTo(BatchingConfig.builder().build());
    }

    @Test
    void invalidValuesAreRefusedWithTheirName() {
        assertThatThrownBy(() -> BatchingConfig.builder().maxBatchSize(0).build())
                .hasMessageContaining("maxBatchSize");
        assertThatThrownBy(() -> BatchingConfig.builder().maxBatchSize(64).capacity(32).build())
                .hasMessageContaining("capacity (32) must hold at least one full batch (64)");
        assertThatThrownBy(() -> BatchingConfig.builder().timeoutMillis(-1).build())
                .hasMessageContaining("timeout");
        assertThatThrownBy(() -> BatchingConfig.builder().concurrentBatches(0).build())
                .hasMessageContaining("concurrentBatches");
    }
}
