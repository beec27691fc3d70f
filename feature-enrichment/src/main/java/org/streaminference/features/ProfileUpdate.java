package org.streaminference.features;

import org.streaminference.schemas.EntityProfile;

import org.apache.flink.annotation.PublicEvolving;

/**
 * One record of the reference-data topic: an entity's new profile, or its removal (a tombstone).
 */
@PublicEvolving
public class ProfileUpdate {
    /** The Kafka key: the entity. */
    public String entityId;

    /** The new profile, or null where the record is a tombstone. */
    public EntityProfile profile;

    public ProfileUpdate() {}

    public ProfileUpdate(String entityId, EntityProfile profile) {
        this.entityId = entityId;
        this.profile = profile;
    }

    public String getEntityId() {
        return entityId;
    }
}
