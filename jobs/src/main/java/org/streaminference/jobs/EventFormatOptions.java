package org.streaminference.jobs;

import org.streaminference.operators.validation.AvroEventDecoder;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

import java.util.List;

/**
 * How the job reads the events topic: its own envelope ({@code InputEvent}), or the user's events
 * as they are, in their own Avro schema or as JSON objects, with the ids, time and type found at
 * the paths given here and the feature spec's fields at the paths the spec names.
 */
@PublicEvolving
public final class EventFormatOptions {
    private EventFormatOptions() {}

    /** The events' format. */
    public enum Format {
        ENVELOPE,
        AVRO,
        JSON
    }

    public static final ConfigOption<Format> FORMAT =
            ConfigOptions.key("events.format")
                    .enumType(Format.class)
                    .defaultValue(Format.ENVELOPE)
                    .withDescription(
                            "ENVELOPE: the job's InputEvent (Avro single-object encoding), the feature spec naming"
                                    + " keys of its numericFields, categoricalFields and vectorFields. AVRO: the user's own records"
                                    + " in the schema events.avro.schema. JSON: one JSON object per record. For AVRO and JSON the"
                                    + " feature spec names fields by their dotted path (payment.amount), and only those are read.");

    public static final ConfigOption<List<String>> AVRO_SCHEMA =
            ConfigOptions.key("events.avro.schema")
                    .stringType()
                    .asList()
                    .noDefaultValue()
                    .withDescription(
                            "events.format AVRO: the events' Avro schema, every version producers write (.avsc"
                                    + " files, or directories of them, as Flink FileSystem URIs; a list). Each record is read with"
                                    + " the version its fingerprint names; every version must give every field the feature spec"
                                    + " reads, or the job does not start. Adding a version (a producer upgrade) is a configuration"
                                    + " change: upgrade the job from a savepoint, then the producers.");

    public static final ConfigOption<AvroEventDecoder.Encoding> AVRO_ENCODING =
            ConfigOptions.key("events.avro.encoding")
                    .enumType(AvroEventDecoder.Encoding.class)
                    .defaultValue(AvroEventDecoder.Encoding.SINGLE_OBJECT)
                    .withDescription(
                            "events.format AVRO: SINGLE_OBJECT (C3 01, the schema's 8-byte fingerprint, then the"
                                    + " body; a record of a schema that is none of events.avro.schema's versions is a dead letter"
                                    + " UNKNOWN_SCHEMA) or BINARY (the body alone: one schema version only).");

    public static final ConfigOption<String> EVENT_ID_FIELD =
            ConfigOptions.key("events.field.event-id")
                    .stringType()
                    .defaultValue("eventId")
                    .withDescription(
                            "events.format AVRO or JSON: path of the event's id (text or a whole number).");

    public static final ConfigOption<String> ENTITY_ID_FIELD =
            ConfigOptions.key("events.field.entity-id")
                    .stringType()
                    .defaultValue("entityId")
                    .withDescription(
                            "events.format AVRO or JSON: path of the entity id, the key of all per-entity state"
                                    + " (the Kafka key must equal it where records have one).");

    public static final ConfigOption<String> EVENT_TIME_FIELD =
            ConfigOptions.key("events.field.event-time")
                    .stringType()
                    .defaultValue("eventTime")
                    .withDescription(
                            "events.format AVRO or JSON: path of the event time, epoch milliseconds; empty: the"
                                    + " Kafka record's timestamp.");

    public static final ConfigOption<String> EVENT_TYPE_FIELD =
            ConfigOptions.key("events.field.event-type")
                    .stringType()
                    .defaultValue("eventType")
                    .withDescription(
                            "events.format AVRO or JSON: path of the event type that serving-plan routes match;"
                                    + " empty, or absent from an event: the type 'event'.");

    static List<ConfigOption<?>> all() {
        return List.of(
                FORMAT,
                AVRO_SCHEMA,
                AVRO_ENCODING,
                EVENT_ID_FIELD,
                ENTITY_ID_FIELD,
                EVENT_TIME_FIELD,
                EVENT_TYPE_FIELD);
    }
}
