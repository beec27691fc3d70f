package org.streaminference.jobs;

import org.streaminference.features.ProfileUpdate;
import org.streaminference.schemas.AvroPayloadCheck;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.Identifiers;
import org.streaminference.schemas.UntrustedText;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Reads the reference-data topic: a record keyed by entity id is that entity's new profile, a
 * tombstone (null value) removes it. A record that is not a profile of its key is skipped, logged
 * with its position and counted ({@code profileRecordsSkipped}): profiles are not events, so they
 * never become dead letters (which reconcile against events).
 */
@Internal
public class ProfileRecordDeserializer implements KafkaRecordDeserializationSchema<ProfileUpdate> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ProfileRecordDeserializer.class);
    private static final int MAX_PROFILE_BYTES = 1024 * 1024;
    private transient Counter skipped;
    private transient AvroPayloadCheck bodyCheck;

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        skipped = context.getMetricGroup().counter("profileRecordsSkipped");
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ProfileUpdate> out) {
        String position = record.topic() + "/" + record.partition() + "/" + record.offset();
        if (record.key() == null) {
            LOG.warn("Skipping profile record {}: it has no key (the entity id)", position);
            skip();
            return;
        }
        String entityId = new String(record.key(), StandardCharsets.UTF_8);
        if (!Identifiers.isValid(entityId)) {
            LOG.warn(
                    "Skipping profile record {}: key '{}' is not an id",
                    position,
                    UntrustedText.excerpt(entityId));
            skip();
            return;
        }
        if (record.value() == null) {
            out.collect(new ProfileUpdate(entityId, null));
            return;
        }
        String problem = boundsProblem(record.value());
        if (problem != null) {
            LOG.warn("Skipping profile record {}: {}", position, problem);
            skip();
            return;
        }
        EntityProfile profile;
        try {
            profile = EntityProfile.getDecoder().decode(ByteBuffer.wrap(record.value()));
        } catch (Exception e) {
            LOG.warn(
                    "Skipping profile record {}: not an EntityProfile ({})",
                    position,
                    UntrustedText.escape(e.toString(), 200));
            skip();
            return;
        }
        if (!entityId.equals(profile.getEntityId())) {
            LOG.warn(
                    "Skipping profile record {}: key '{}' is not its entityId '{}'",
                    position,
                    entityId,
                    UntrustedText.excerpt(profile.getEntityId()));
            skip();
            return;
        }
        out.collect(new ProfileUpdate(entityId, profile));
    }

    /** Bounds the untrusted bytes before Avro decodes them (see {@link AvroPayloadCheck}). */
    private String boundsProblem(byte[] value) {
        if (value.length > MAX_PROFILE_BYTES) {
            return value.length + " bytes, over the limit of " + MAX_PROFILE_BYTES;
        }
        if (value.length < 10 || value[0] != (byte) 0xC3 || value[1] != 0x01) {
            return "not Avro single-object encoding";
        }
        if (bodyCheck == null) {
            bodyCheck = new AvroPayloadCheck(EntityProfile.getClassSchema());
        }
        AvroPayloadCheck.Problem problem =
                bodyCheck.check(ByteBuffer.wrap(value, 10, value.length - 10));
        return problem == null ? null : problem.message();
    }

    private void skip() {
        if (skipped != null) {
            skipped.inc();
        }
    }

    @Override
    public TypeInformation<ProfileUpdate> getProducedType() {
        return TypeInformation.of(ProfileUpdate.class);
    }
}
