package org.streaminference.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedModelsTest {

    @TempDir Path models;

    @Test
    void holdersShareOneSessionThatClosesWithTheLastRelease() throws Exception {
        String location = DemoModels.write(models, 1).toString();
        int before = SharedModels.loadedCount();
        SharedModels.Lease first = SharedModels.acquire(location, ModelLoaderConfig.defaults());
        SharedModels.Lease second = SharedModels.acquire(location, ModelLoaderConfig.defaults());
        assertThat(second.model()).isSameAs(first.model());
        assertThat(SharedModels.loadedCount()).isEqualTo(before + 1);

        first.close();
        first.close(); // releasing twice counts once
        assertThat(second.model().run(FloatBuffer.wrap(new float[DemoModels.FEATURES]), 1)[0])
                .hasSize(2);

        second.close();
        assertThat(SharedModels.loadedCount()).isEqualTo(before);
        assertThatThrownBy(
                        () ->
                                second.model()
                                        .run(FloatBuffer.wrap(new float[DemoModels.FEATURES]), 1))
                .isInstanceOf(IllegalStateException.class);
    }
}
