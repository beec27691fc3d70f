package org.streaminference.features.state;

import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.Arrays;

/**
 * Distinct counts per event-time bucket. A bucket keeps the 64-bit hashes of its values while it
 * has at most {@link #EXACT_LIMIT} of them, so the small counts typical per entity are exact (up to
 * hash collisions, about one in 10^16 pairs); a bucket with more values turns into a HyperLogLog
 * sketch of 2^12 registers, kept sparse (only the registers that are set, as {@code index << 8 |
 * rank}). A window's count is the exact size of the union of its buckets' hashes where all are
 * exact, else HyperLogLog's estimate over the merged registers: linear counting up to about 10,000
 * values (error well under 1%), then a standard error of 1.6%.
 */
final class DistinctBuckets {
    static final int PRECISION = 12;
    static final int REGISTERS = 1 << PRECISION;
    static final int EXACT_LIMIT = 64;
    private static final long[] NO_HASHES = new long[0];

    final long[] ids;

    /** Per slot: the sorted distinct hashes, or null once the slot is a sketch. */
    final long[][] hashes;

    /** Per slot: the sketch's set registers, sorted by index, or null while the slot is exact. */
    final int[][] registers;

    DistinctBuckets(int ringSize) {
        ids = new long[ringSize];
        Arrays.fill(ids, WindowBuckets.EMPTY);
        hashes = new long[ringSize][];
        Arrays.fill(hashes, NO_HASHES);
        registers = new int[ringSize][];
    }

    void add(long id, long hash) {
        int slot = (int) Math.floorMod(id, (long) ids.length);
        if (ids[slot] != id) {
            if (ids[slot] != WindowBuckets.EMPTY && ids[slot] > id) {
                return; // cannot happen: the ring covers every bucket an on-time event can fall in
            }
            ids[slot] = id;
            hashes[slot] = NO_HASHES;
            registers[slot] = null;
        }
        long[] exact = hashes[slot];
        if (exact != null) {
            int pos = Arrays.binarySearch(exact, hash);
            if (pos >= 0) {
                return;
            }
            if (exact.length < EXACT_LIMIT) {
                hashes[slot] = insert(exact, -pos - 1, hash);
                return;
            }
            int[] regs = new int[0];
            for (long h : exact) {
                regs = addRegister(regs, h);
            }
            hashes[slot] = null;
            registers[slot] = regs;
        }
        registers[slot] = addRegister(registers[slot], hash);
    }

    /**
     * The number of distinct values in buckets {@code first..last}.
     *
     * @param scratch REGISTERS bytes to merge registers in
     */
    long estimate(long first, long last, byte[] scratch) {
        boolean allExact = true;
        int total = 0;
        for (int slot = 0; slot < ids.length; slot++) {
            if (inRange(slot, first, last)) {
                if (hashes[slot] == null) {
                    allExact = false;
                    break;
                }
                total += hashes[slot].length;
            }
        }
        if (allExact) {
            long[] union = new long[total];
            int n = 0;
            for (int slot = 0; slot < ids.length; slot++) {
                if (inRange(slot, first, last)) {
                    System.arraycopy(hashes[slot], 0, union, n, hashes[slot].length);
                    n += hashes[slot].length;
                }
            }
            Arrays.sort(union);
            long distinct = 0;
            for (int i = 0; i < union.length; i++) {
                if (i == 0 || union[i] != union[i - 1]) {
                    distinct++;
                }
            }
            return distinct;
        }
        Arrays.fill(scratch, (byte) 0);
        for (int slot = 0; slot < ids.length; slot++) {
            if (inRange(slot, first, last)) {
                if (hashes[slot] != null) {
                    for (long h : hashes[slot]) {
                        int index = index(h);
                        scratch[index] = (byte) Math.max(scratch[index], rank(h));
                    }
                } else {
                    for (int packed : registers[slot]) {
                        int index = packed >>> 8;
                        scratch[index] = (byte) Math.max(scratch[index], packed & 0xff);
                    }
                }
            }
        }
        int zeros = 0;
        double sum = 0;
        for (byte r : scratch) {
            if (r == 0) {
                zeros++;
            }
            sum += Math.scalb(1.0, -r);
        }
        double m = REGISTERS;
        double estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum;
        if (estimate <= 2.5 * m && zeros > 0) {
            estimate = m * Math.log(m / zeros);
        }
        return Math.round(estimate);
    }

    private boolean inRange(int slot, long first, long last) {
        return ids[slot] != WindowBuckets.EMPTY && ids[slot] >= first && ids[slot] <= last;
    }

    private static int index(long hash) {
        return (int) (hash >>> (64 - PRECISION));
    }

    private static int rank(long hash) {
        return Math.min(Long.numberOfLeadingZeros(hash << PRECISION) + 1, 64 - PRECISION + 1);
    }

    private static int[] addRegister(int[] regs, long hash) {
        int index = index(hash);
        int rank = rank(hash);
        int pos = Arrays.binarySearch(regs, index << 8);
        int at = pos >= 0 ? pos : -pos - 1;
        if (at < regs.length && regs[at] >>> 8 == index) {
            if ((regs[at] & 0xff) < rank) {
                regs[at] = index << 8 | rank;
            }
            return regs;
        }
        int[] grown = new int[regs.length + 1];
        System.arraycopy(regs, 0, grown, 0, at);
        grown[at] = index << 8 | rank;
        System.arraycopy(regs, at, grown, at + 1, regs.length - at);
        return grown;
    }

    private static long[] insert(long[] sorted, int at, long value) {
        long[] grown = new long[sorted.length + 1];
        System.arraycopy(sorted, 0, grown, 0, at);
        grown[at] = value;
        System.arraycopy(sorted, at, grown, at + 1, sorted.length - at);
        return grown;
    }

    /**
     * Per non-empty slot: its id, then the hash count and hashes, or minus the register count and
     * registers.
     */
    void write(DataOutputView out) throws IOException {
        int used = 0;
        for (long id : ids) {
            used += id == WindowBuckets.EMPTY ? 0 : 1;
        }
        out.writeShort(used);
        for (int slot = 0; slot < ids.length; slot++) {
            if (ids[slot] == WindowBuckets.EMPTY) {
                continue;
            }
            out.writeLong(ids[slot]);
            if (hashes[slot] != null) {
                out.writeShort(hashes[slot].length);
                for (long h : hashes[slot]) {
                    out.writeLong(h);
                }
            } else {
                out.writeShort(-registers[slot].length);
                for (int packed : registers[slot]) {
                    out.writeInt(packed);
                }
            }
        }
    }

    void read(DataInputView in) throws IOException {
        int used = in.readUnsignedShort();
        for (int i = 0; i < used; i++) {
            long id = in.readLong();
            int slot = (int) Math.floorMod(id, (long) ids.length);
            ids[slot] = id;
            int n = in.readShort();
            if (n >= 0) {
                long[] h = new long[n];
                for (int j = 0; j < n; j++) {
                    h[j] = in.readLong();
                }
                hashes[slot] = h;
                registers[slot] = null;
            } else {
                int[] regs = new int[-n];
                for (int j = 0; j < regs.length; j++) {
                    regs[j] = in.readInt();
                }
                hashes[slot] = null;
                registers[slot] = regs;
            }
        }
    }
}
