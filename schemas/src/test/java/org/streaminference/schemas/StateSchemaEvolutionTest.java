package org.streaminference.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What lives in state must restore across releases. The inference operator's checkpoint keeps the
 * enriched events still owed an answer (Avro, read back by Flink's Avro serializer with the schema
 * they were written with): the schema of the previous release is kept under {@code
 * src/test/resources/released}, and the current one must read what it wrote. Adding {@code control}
 * (with its default) is such a change, and so is widening {@code features} from float to double
 * (Avro promotes the old values); renaming a field or narrowing its type is not.
 */
class StateSchemaEvolutionTest {

    private static Schema released(String file) throws Exception {
        try (InputStream in =
                StateSchemaEvolutionTest.class.getResourceAsStream("/released/" + file)) {
            return new Schema.Parser().parse(in);
        }
    }

    @Test
    void pendingEnrichedEventsOfThePreviousReleaseRestore() throws Exception {
        Schema previous = released("EnrichedEvent-state-0.1.avsc");
        assertThat(
                        SchemaCompatibility.checkReaderWriterCompatibility(
                                        EnrichedEvent.getClassSchema(), previous)
                                .getType())
                .isEqualTo(SchemaCompatibilityType.COMPATIBLE);

        GenericRecord event = new GenericData.Record(previous.getField("event").schema());
        event.put("eventId", "e-1");
        event.put("entityId", "u-1");
        event.put("eventTime", 1_700_000_000_000L);
        event.put("eventType", "purchase");
        event.put("numericFields", Map.of());
        event.put("categoricalFields", Map.of("country", "DE"));
        event.put("vectorFields", Map.of());
        GenericRecord source = new GenericData.Record(previous.getField("source").schema());
        source.put("topic", "events");
        source.put("partition", 1);
        source.put("offset", 42L);
        GenericRecord written = new GenericData.Record(previous);
        written.put("event", event);
        written.put("source", source);
        written.put("features", List.of(0.5f, -1f));
        written.put("integerFeatures", List.of(7L));
        written.put("textFeatures", List.of("fine"));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
        new GenericDatumWriter<GenericRecord>(previous).write(written, encoder);
        encoder.flush();

        EnrichedEvent read =
                new SpecificDatumReader<EnrichedEvent>(previous, EnrichedEvent.getClassSchema())
                        .read(null, DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null));
        assertThat(read.getEvent().getEventId()).isEqualTo("e-1");
        assertThat(read.getEvent().getCategoricalFields()).containsEntry("country", "DE");
        assertThat(read.getSource().getOffset()).isEqualTo(42L);
        assertThat(read.getFeatures())
                .as("floats of the released schema, read as doubles")
                .containsExactly(0.5, -1.0);
        assertThat(read.getIntegerFeatures()).containsExactly(7L);
        assertThat(read.getTextFeatures()).containsExactly("fine");
        assertThat(read.getControl()).as("an event, not a command").isNull();
    }
}
