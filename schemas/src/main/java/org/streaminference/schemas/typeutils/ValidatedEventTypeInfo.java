package org.streaminference.schemas.typeutils;

import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.TypeExtractor;

import java.lang.reflect.Type;
import java.util.Map;

/** {@link ValidatedEvent}'s type for Flink: serialized by {@link ValidatedEventSerializer}. */
@Internal
public final class ValidatedEventTypeInfo extends TypeInformation<ValidatedEvent> {
    private static final long serialVersionUID = 1L;

    /** The profile's type: Avro's where flink-avro is on the classpath, as in the job. */
    private final TypeInformation<EntityProfile> profileType =
            TypeExtractor.createTypeInfo(EntityProfile.class);

    @Override
    public boolean isBasicType() {
        return false;
    }

    @Override
    public boolean isTupleType() {
        return false;
    }

    @Override
    public int getArity() {
        return 1;
    }

    @Override
    public int getTotalFields() {
        return 1;
    }

    @Override
    public Class<ValidatedEvent> getTypeClass() {
        return ValidatedEvent.class;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<ValidatedEvent> createSerializer(SerializerConfig config) {
        return new ValidatedEventSerializer(profileType.createSerializer(config));
    }

    @Override
    public String toString() {
        return "ValidatedEvent";
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof ValidatedEventTypeInfo;
    }

    @Override
    public int hashCode() {
        return ValidatedEvent.class.hashCode();
    }

    @Override
    public boolean canEqual(Object obj) {
        return obj instanceof ValidatedEventTypeInfo;
    }

    /** Named by {@link org.apache.flink.api.common.typeinfo.TypeInfo} on {@link ValidatedEvent}. */
    public static final class Factory extends TypeInfoFactory<ValidatedEvent> {
        @Override
        public TypeInformation<ValidatedEvent> createTypeInfo(
                Type t, Map<String, TypeInformation<?>> generics) {
            return new ValidatedEventTypeInfo();
        }
    }
}
