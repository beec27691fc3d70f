package org.streaminference.features;

/**
 * Per-entity running statistics kept in keyed state. A Flink POJO (public fields, no-arg constructor) so the
 * state is serialized by Flink's PojoSerializer and can evolve by adding fields.
 */
public class EntityStats {
    /** Events seen for the entity. */
    public long count;
    /** Sum of the amount field over those events; the mean is derived from it, not stored. */
    public double sumAmount;

    public EntityStats() {}

    public EntityStats(long count, double sumAmount) {
        this.count = count;
        this.sumAmount = sumAmount;
    }

    /** Counts one more event with the given amount. */
    public void add(double amount) {
        count++;
        sumAmount += amount;
    }

    public double mean() {
        return count == 0 ? 0.0 : sumAmount / count;
    }

    @Override
    public String toString() {
        return "EntityStats{count=" + count + ", sumAmount=" + sumAmount + "}";
    }
}
