package org.streaminference.schemas.typeutils;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Serializes {@link ValidatedEvent} across the {@code keyBy}, writing its arrays in bulk. Flink's
 * POJO serializer writes a {@code float[]} one {@code writeFloat} call per element: for an image's
 * 784 values that was most of what the shuffle cost (9 µs of 56 per event in the lean path's
 * profile). Here an array is one length and one block of little-endian bytes, copied through a
 * scratch buffer.
 *
 * <p>Layout: event id, entity id, event type (Flink strings, null allowed), event time, the source
 * position (flag, topic, partition, offset, traceparent, then the predict request: flag, request
 * id, model, read-only flag, sent, read and record times), the profile (flag, then the nested
 * serializer), the numeric values (length or -1 for null, then 8 bytes each), the categorical
 * values (length or -1, then a string each), the vectors (count or -1, then per vector its length
 * or -1 and 4 bytes per value). A change to it is a new snapshot version.
 */
@Internal
public final class ValidatedEventSerializer extends TypeSerializer<ValidatedEvent> {
    private static final long serialVersionUID = 1L;

    /** Larger arrays than this are not ours: a corrupt length, not an event. */
    private static final int MAX_LENGTH = Integer.MAX_VALUE / Double.BYTES;

    private final TypeSerializer<EntityProfile> profileSerializer;

    /**
     * Bytes of one array on their way in or out; grows to the largest array seen. Not shared: see
     * duplicate().
     */
    private transient byte[] scratch;

    public ValidatedEventSerializer(TypeSerializer<EntityProfile> profileSerializer) {
        this.profileSerializer = Objects.requireNonNull(profileSerializer, "profileSerializer");
    }

    TypeSerializer<EntityProfile> profileSerializer() {
        return profileSerializer;
    }

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<ValidatedEvent> duplicate() {
        // the scratch buffer makes every instance stateful
        return new ValidatedEventSerializer(profileSerializer.duplicate());
    }

    @Override
    public ValidatedEvent createInstance() {
        return new ValidatedEvent();
    }

    @Override
    public ValidatedEvent copy(ValidatedEvent from) {
        ValidatedEvent copy =
                new ValidatedEvent(
                        from.eventId,
                        from.entityId,
                        from.eventTime,
                        from.eventType,
                        from.numeric == null ? null : from.numeric.clone(),
                        from.categorical == null ? null : from.categorical.clone(),
                        copyOf(from.vectors));
        copy.source = from.source == null ? null : SourcePosition.newBuilder(from.source).build();
        copy.profile = from.profile == null ? null : profileSerializer.copy(from.profile);
        return copy;
    }

    private static float[][] copyOf(float[][] vectors) {
        if (vectors == null) {
            return null;
        }
        float[][] copy = new float[vectors.length][];
        for (int i = 0; i < vectors.length; i++) {
            copy[i] = vectors[i] == null ? null : vectors[i].clone();
        }
        return copy;
    }

    @Override
    public ValidatedEvent copy(ValidatedEvent from, ValidatedEvent reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(ValidatedEvent event, DataOutputView target) throws IOException {
        StringValue.writeString(event.eventId, target);
        StringValue.writeString(event.entityId, target);
        StringValue.writeString(event.eventType, target);
        target.writeLong(event.eventTime);
        SourcePosition source = event.source;
        target.writeBoolean(source != null);
        if (source != null) {
            StringValue.writeString(source.getTopic(), target);
            target.writeInt(source.getPartition());
            target.writeLong(source.getOffset());
            StringValue.writeString(source.getTraceparent(), target);
            PredictRequest request = source.getRequest();
            target.writeBoolean(request != null);
            if (request != null) {
                StringValue.writeString(request.getRequestId(), target);
                StringValue.writeString(request.getModel(), target);
                target.writeBoolean(request.getReadOnly());
                target.writeLong(request.getSentTime());
                target.writeLong(request.getReadTime());
                target.writeLong(request.getRecordTime());
            }
        }
        target.writeBoolean(event.profile != null);
        if (event.profile != null) {
            profileSerializer.serialize(event.profile, target);
        }
        writeDoubles(event.numeric, target);
        String[] categorical = event.categorical;
        target.writeInt(categorical == null ? -1 : categorical.length);
        for (int i = 0; categorical != null && i < categorical.length; i++) {
            StringValue.writeString(categorical[i], target);
        }
        float[][] vectors = event.vectors;
        target.writeInt(vectors == null ? -1 : vectors.length);
        for (int i = 0; vectors != null && i < vectors.length; i++) {
            writeFloats(vectors[i], target);
        }
    }

    @Override
    public ValidatedEvent deserialize(DataInputView source) throws IOException {
        ValidatedEvent event = new ValidatedEvent();
        event.eventId = StringValue.readString(source);
        event.entityId = StringValue.readString(source);
        event.eventType = StringValue.readString(source);
        event.eventTime = source.readLong();
        if (source.readBoolean()) {
            String topic = StringValue.readString(source);
            int partition = source.readInt();
            long offset = source.readLong();
            event.source =
                    new SourcePosition(
                            topic, partition, offset, StringValue.readString(source), null);
            if (source.readBoolean()) {
                event.source.setRequest(
                        new PredictRequest(
                                StringValue.readString(source),
                                StringValue.readString(source),
                                source.readBoolean(),
                                source.readLong(),
                                source.readLong(),
                                source.readLong()));
            }
        }
        if (source.readBoolean()) {
            event.profile = profileSerializer.deserialize(source);
        }
        event.numeric = readDoubles(source);
        int categories = readLength(source);
        if (categories >= 0) {
            event.categorical = new String[categories];
            for (int i = 0; i < categories; i++) {
                event.categorical[i] = StringValue.readString(source);
            }
        }
        int vectors = readLength(source);
        if (vectors >= 0) {
            event.vectors = new float[vectors][];
            for (int i = 0; i < vectors; i++) {
                event.vectors[i] = readFloats(source);
            }
        }
        return event;
    }

    @Override
    public ValidatedEvent deserialize(ValidatedEvent reuse, DataInputView source)
            throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    private void writeDoubles(double[] values, DataOutputView target) throws IOException {
        if (values == null) {
            target.writeInt(-1);
            return;
        }
        target.writeInt(values.length);
        int bytes = values.length * Double.BYTES;
        ByteBuffer.wrap(scratch(bytes), 0, bytes)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asDoubleBuffer()
                .put(values);
        target.write(scratch, 0, bytes);
    }

    private double[] readDoubles(DataInputView source) throws IOException {
        int length = readLength(source);
        if (length < 0) {
            return null;
        }
        int bytes = length * Double.BYTES;
        source.readFully(scratch(bytes), 0, bytes);
        double[] values = new double[length];
        ByteBuffer.wrap(scratch, 0, bytes)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asDoubleBuffer()
                .get(values);
        return values;
    }

    private void writeFloats(float[] values, DataOutputView target) throws IOException {
        if (values == null) {
            target.writeInt(-1);
            return;
        }
        target.writeInt(values.length);
        int bytes = values.length * Float.BYTES;
        ByteBuffer.wrap(scratch(bytes), 0, bytes)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer()
                .put(values);
        target.write(scratch, 0, bytes);
    }

    private float[] readFloats(DataInputView source) throws IOException {
        int length = readLength(source);
        if (length < 0) {
            return null;
        }
        int bytes = length * Float.BYTES;
        source.readFully(scratch(bytes), 0, bytes);
        float[] values = new float[length];
        ByteBuffer.wrap(scratch, 0, bytes)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer()
                .get(values);
        return values;
    }

    private static int readLength(DataInputView source) throws IOException {
        int length = source.readInt();
        if (length < -1 || length > MAX_LENGTH) {
            throw new IOException("corrupt ValidatedEvent: array length " + length);
        }
        return length;
    }

    private byte[] scratch(int bytes) {
        if (scratch == null || scratch.length < bytes) {
            scratch = new byte[Math.max(bytes, 4096)];
        }
        return scratch;
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof ValidatedEventSerializer other
                && profileSerializer.equals(other.profileSerializer);
    }

    @Override
    public int hashCode() {
        return profileSerializer.hashCode();
    }

    @Override
    public TypeSerializerSnapshot<ValidatedEvent> snapshotConfiguration() {
        return new ValidatedEventSerializerSnapshot(this);
    }
}
