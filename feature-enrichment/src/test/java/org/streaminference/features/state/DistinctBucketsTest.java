package org.streaminference.features.state;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The distinct count's stated accuracy: exact up to 64 values per bucket, within a few percent
 * beyond.
 */
class DistinctBucketsTest {

    @Test
    void estimatesAreWithinTheStatedError() {
        DistinctBuckets buckets = new DistinctBuckets(1);
        byte[] scratch = new byte[DistinctBuckets.REGISTERS];
        int added = 0;
        for (int target : new int[] {1, 5, 20, 64, 65, 100, 1_000, 10_000, 100_000}) {
            while (added < target) {
                buckets.add(0, FeatureHashing.hash64("value-" + added++));
            }
            long estimate = buckets.estimate(0, 0, scratch);
            if (target <= DistinctBuckets.EXACT_LIMIT) {
                assertThat(estimate).as("%d values: exact", target).isEqualTo(target);
            } else if (target <= 100) {
                assertThat(estimate).as("%d values", target).isCloseTo(target, within(2L));
            } else {
                assertThat((double) estimate)
                        .as("%d values", target)
                        .isCloseTo(target, within(0.05 * target));
            }
        }
        // repeated values add nothing
        long before = buckets.estimate(0, 0, scratch);
        for (int i = 0; i < 1_000; i++) {
            buckets.add(0, FeatureHashing.hash64("value-" + i));
        }
        assertThat(buckets.estimate(0, 0, scratch)).isEqualTo(before);
    }

    @Test
    void aWindowMergesItsBucketsAndIgnoresOthers() {
        DistinctBuckets buckets = new DistinctBuckets(4);
        byte[] scratch = new byte[DistinctBuckets.REGISTERS];
        buckets.add(10, FeatureHashing.hash64("a"));
        buckets.add(11, FeatureHashing.hash64("a"));
        buckets.add(11, FeatureHashing.hash64("b"));
        buckets.add(12, FeatureHashing.hash64("c"));
        assertThat(buckets.estimate(10, 11, scratch)).isEqualTo(2);
        assertThat(buckets.estimate(10, 12, scratch)).isEqualTo(3);
        assertThat(buckets.estimate(12, 12, scratch)).isEqualTo(1);
        buckets.add(14, FeatureHashing.hash64("d")); // replaces bucket 10 in the ring
        assertThat(buckets.estimate(10, 10, scratch)).isZero();
    }

    @Test
    void aWindowMixingExactAndSketchedBucketsEstimatesTheirUnion() {
        DistinctBuckets buckets = new DistinctBuckets(2);
        byte[] scratch = new byte[DistinctBuckets.REGISTERS];
        for (int i = 0; i < 500; i++) {
            buckets.add(0, FeatureHashing.hash64("v" + i)); // a sketch
        }
        for (int i = 400; i < 450; i++) {
            buckets.add(1, FeatureHashing.hash64("v" + i)); // exact, all already in bucket 0
        }
        buckets.add(1, FeatureHashing.hash64("new"));
        assertThat(buckets.hashes[0]).isNull();
        assertThat(buckets.hashes[1]).hasSize(51);
        assertThat((double) buckets.estimate(0, 1, scratch)).isCloseTo(501, within(0.03 * 501));
        assertThat(buckets.estimate(1, 1, scratch)).isEqualTo(51);
    }
}
