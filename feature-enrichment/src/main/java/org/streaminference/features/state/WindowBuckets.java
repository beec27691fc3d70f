package org.streaminference.features.state;

import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

import java.io.IOException;
import java.util.Arrays;

/**
 * Count, sum, sum of squares, min and max of one field per event-time bucket, in a ring of buckets:
 * the incremental representation of the windows over that field. A window of size W sliding by S is
 * the sum of its W/S buckets; the ring holds a few more, so an event within the out-of-orderness
 * bound still finds its bucket. Only non-empty buckets are written to state, and of each only what
 * the group's features read (a count-only group writes ids and counts).
 */
final class WindowBuckets {
    static final long EMPTY = Long.MIN_VALUE;

    final long[] ids;
    final long[] counts;
    final double[] sums;
    final double[] sumSquares;
    final double[] mins;
    final double[] maxs;
    private final boolean sumsWritten;
    private final boolean squaresWritten;
    private final boolean extremesWritten;

    /**
     * @param readsSums whether a feature reads sums or means
     * @param readsSquares whether a feature reads the standard deviation
     * @param readsExtremes whether a feature reads min or max
     */
    WindowBuckets(int ringSize, boolean readsSums, boolean readsSquares, boolean readsExtremes) {
        this.sumsWritten = readsSums || readsSquares;
        this.squaresWritten = readsSquares;
        this.extremesWritten = readsExtremes;
        ids = new long[ringSize];
        Arrays.fill(ids, EMPTY);
        counts = new long[ringSize];
        sums = new double[ringSize];
        sumSquares = new double[ringSize];
        mins = new double[ringSize];
        maxs = new double[ringSize];
    }

    /**
     * Adds a value (NaN for a count-only group) to bucket {@code id}, never overwriting a newer
     * bucket.
     */
    void add(long id, double value) {
        int slot = (int) Math.floorMod(id, (long) ids.length);
        if (ids[slot] != id) {
            if (ids[slot] != EMPTY && ids[slot] > id) {
                return; // cannot happen: the ring covers every bucket an on-time event can fall in
            }
            ids[slot] = id;
            counts[slot] = 0;
            sums[slot] = 0;
            sumSquares[slot] = 0;
            mins[slot] = Double.POSITIVE_INFINITY;
            maxs[slot] = Double.NEGATIVE_INFINITY;
        }
        counts[slot]++;
        if (!Double.isNaN(value)) {
            sums[slot] += value;
            sumSquares[slot] += value * value;
            mins[slot] = Math.min(mins[slot], value);
            maxs[slot] = Math.max(maxs[slot], value);
        }
    }

    /** Sums buckets {@code first..last} into {@code into}: [count, sum, sumSquares, min, max]. */
    void aggregate(long first, long last, double[] into) {
        into[0] = 0;
        into[1] = 0;
        into[2] = 0;
        into[3] = Double.POSITIVE_INFINITY;
        into[4] = Double.NEGATIVE_INFINITY;
        for (int slot = 0; slot < ids.length; slot++) {
            long id = ids[slot];
            if (id != EMPTY && id >= first && id <= last) {
                into[0] += counts[slot];
                into[1] += sums[slot];
                into[2] += sumSquares[slot];
                into[3] = Math.min(into[3], mins[slot]);
                into[4] = Math.max(into[4], maxs[slot]);
            }
        }
    }

    void write(DataOutputView out) throws IOException {
        int used = 0;
        for (long id : ids) {
            used += id == EMPTY ? 0 : 1;
        }
        out.writeShort(used);
        for (int slot = 0; slot < ids.length; slot++) {
            if (ids[slot] != EMPTY) {
                out.writeLong(ids[slot]);
                writeVarLong(out, counts[slot]);
                if (sumsWritten) {
                    out.writeDouble(sums[slot]);
                }
                if (squaresWritten) {
                    out.writeDouble(sumSquares[slot]);
                }
                if (extremesWritten) {
                    out.writeDouble(mins[slot]);
                    out.writeDouble(maxs[slot]);
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
            counts[slot] = readVarLong(in);
            sums[slot] = sumsWritten ? in.readDouble() : 0;
            sumSquares[slot] = squaresWritten ? in.readDouble() : 0;
            mins[slot] = extremesWritten ? in.readDouble() : Double.POSITIVE_INFINITY;
            maxs[slot] = extremesWritten ? in.readDouble() : Double.NEGATIVE_INFINITY;
        }
    }

    static void writeVarLong(DataOutputView out, long value) throws IOException {
        long v = value;
        while ((v & ~0x7FL) != 0) {
            out.writeByte((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.writeByte((int) v);
    }

    static long readVarLong(DataInputView in) throws IOException {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = in.readByte();
            value |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        throw new IOException("malformed variable-length count");
    }
}
