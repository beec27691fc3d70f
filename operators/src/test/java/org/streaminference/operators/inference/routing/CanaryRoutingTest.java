package org.streaminference.operators.inference.routing;

import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class CanaryRoutingTest {

    @Test
    void bucketsAreStableAndEven() {
        assertThat(CanaryRouting.bucket("user-42")).isEqualTo(CanaryRouting.bucket("user-42"));
        long under20 =
                IntStream.range(0, 100_000)
                        .filter(i -> CanaryRouting.inCanary("user-" + i, 20))
                        .count();
        assertThat(under20).isBetween(19_000L, 21_000L);
        assertThat(
                        IntStream.range(0, 1_000)
                                .filter(i -> CanaryRouting.inCanary("user-" + i, 0))
                                .count())
                .isZero();
        assertThat(
                        IntStream.range(0, 1_000)
                                .filter(i -> CanaryRouting.inCanary("user-" + i, 100))
                                .count())
                .isEqualTo(1_000);
    }
}
