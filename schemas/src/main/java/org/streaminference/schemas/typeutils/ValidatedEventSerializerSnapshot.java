package org.streaminference.schemas.typeutils;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeutils.CompositeTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/**
 * What a checkpoint records of {@link ValidatedEventSerializer}: its layout version and the
 * profile's serializer. Events are in a checkpoint only as in-flight data of an unaligned
 * checkpoint, which a restore reads back with this snapshot's serializer.
 */
@Internal
public final class ValidatedEventSerializerSnapshot
        extends CompositeTypeSerializerSnapshot<ValidatedEvent, ValidatedEventSerializer> {
    private static final int VERSION = 2;

    /** For reading a snapshot back. */
    public ValidatedEventSerializerSnapshot() {}

    ValidatedEventSerializerSnapshot(ValidatedEventSerializer serializer) {
        super(serializer);
    }

    @Override
    protected int getCurrentOuterSnapshotVersion() {
        return VERSION;
    }

    @Override
    protected TypeSerializer<?>[] getNestedSerializers(ValidatedEventSerializer outer) {
        return new TypeSerializer<?>[] {outer.profileSerializer()};
    }

    @Override
    @SuppressWarnings("unchecked")
    protected ValidatedEventSerializer createOuterSerializerWithNestedSerializers(
            TypeSerializer<?>[] nested) {
        return new ValidatedEventSerializer((TypeSerializer<EntityProfile>) nested[0]);
    }
}
