package org.streaminference.model.control;

import org.streaminference.schemas.ModelEvent;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.serialization.SerializationSchema;

import java.io.IOException;

/** The JSON form of {@link ModelEvent}s on the model-events topic. */
@PublicEvolving
public final class ModelEvents {
    private ModelEvents() {}

    public static byte[] toJson(ModelEvent event) {
        try {
            return ControlJson.MAPPER.writeValueAsBytes(event);
        } catch (IOException e) {
            throw new IllegalStateException("a model event always serializes", e);
        }
    }

    public static ModelEvent fromJson(byte[] json) throws IOException {
        return ControlJson.MAPPER.readValue(json, ModelEvent.class);
    }

    /** Writes model events as JSON, for a Kafka sink. */
    public static SerializationSchema<ModelEvent> serializationSchema() {
        return new JsonSerializationSchema();
    }

    private static final class JsonSerializationSchema implements SerializationSchema<ModelEvent> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(ModelEvent event) {
            return toJson(event);
        }
    }
}
