package org.streaminference.features.state;

import org.apache.flink.annotation.PublicEvolving;

/**
 * The one hash of categorical values, for hashed features and distinct counts: 64-bit FNV-1a over
 * the string's UTF-16 code units followed by MurmurHash3's 64-bit finalizer. Defined here rather
 * than taken from {@link String#hashCode()} so training code in any language can reproduce a hashed
 * feature's buckets.
 */
@PublicEvolving
public final class FeatureHashing {
    private FeatureHashing() {}

    public static long hash64(String value) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < value.length(); i++) {
            h ^= value.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /** The bucket of {@code value} among {@code buckets}. */
    public static int bucket(String value, int buckets) {
        return (int) Long.remainderUnsigned(hash64(value), buckets);
    }
}
