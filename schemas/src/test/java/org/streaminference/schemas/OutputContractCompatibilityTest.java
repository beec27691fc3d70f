package org.streaminference.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The output topics' schemas are a public contract. Each released schema is kept under {@code
 * src/test/resources/released}; the current schema must stay readable by readers of every released
 * one (old readers read new records) and must read what they wrote (new readers read old records).
 * A change that breaks either fails this test.
 */
class OutputContractCompatibilityTest {

    private static Schema released(String file) throws Exception {
        try (InputStream in =
                OutputContractCompatibilityTest.class.getResourceAsStream("/released/" + file)) {
            return new Schema.Parser().parse(in);
        }
    }

    private static void assertCompatibleBothWays(Schema current, Schema old) {
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(old, current).getType())
                .as("a reader of the released schema reads records written with the current one")
                .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, old).getType())
                .as("a reader of the current schema reads records written with the released one")
                .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
    }

    @Test
    void theCurrentSchemasAreCompatibleWithEveryReleasedOne() throws Exception {
        assertCompatibleBothWays(Prediction.getClassSchema(), released("Prediction-0.1.avsc"));
        assertCompatibleBothWays(DeadLetter.getClassSchema(), released("DeadLetter-0.1.avsc"));
        assertCompatibleBothWays(
                ServedFeatures.getClassSchema(), released("ServedFeatures-0.1.avsc"));
    }

    @Test
    void anOldReaderReadsARecordOfANewerSchemaByItsFingerprint() throws Exception {
        // a future release adds a field with a default: the allowed kind of change
        String json =
                Prediction.getClassSchema()
                        .toString()
                        .replaceFirst(
                                "\"fields\":\\[",
                                "\"fields\":[{\"name\":\"explanation\",\"type\":[\"null\",\"string\"],\"default\":null},");
        Schema newer = new Schema.Parser().parse(json);
        assertCompatibleBothWays(newer, Prediction.getClassSchema());

        GenericRecord record = new GenericData.Record(newer);
        for (Schema.Field f : newer.getFields()) {
            record.put(f.name(), f.hasDefaultValue() ? GenericData.get().getDefaultValue(f) : null);
        }
        record.put("explanation", "top feature: amount");
        record.put("eventId", "e-1");
        record.put("entityId", "entity-1");
        record.put("modelName", "churn");
        record.put("modelVersion", "4");
        record.put("score", 0.8);
        record.put("eventTime", 1_700_000_000_000L);
        record.put("inferenceTime", 1_700_000_000_005L);
        ByteBuffer bytes =
                new BinaryMessageEncoder<GenericRecord>(GenericData.get(), newer).encode(record);

        // what an existing consumer does: its generated class, and a store of the schemas published
        // since
        SchemaStore.Cache published = new SchemaStore.Cache();
        published.addSchema(newer);
        BinaryMessageDecoder<Prediction> oldReader = Prediction.createDecoder(published);
        Prediction read = oldReader.decode(bytes);
        assertThat(read.getEventId()).isEqualTo("e-1");
        assertThat(read.getModelVersion()).isEqualTo("4");
        assertThat(read.getScore()).isEqualTo(0.8);
    }

    @Test
    void removingOrRetypingAFieldIsCaught() throws Exception {
        Schema current = Prediction.getClassSchema();
        List<Schema.Field> withoutScore = new ArrayList<>();
        for (Schema.Field f : current.getFields()) {
            if (!f.name().equals("score")) {
                withoutScore.add(new Schema.Field(f, f.schema()));
            }
        }
        Schema broken =
                Schema.createRecord(
                        current.getName(),
                        current.getDoc(),
                        current.getNamespace(),
                        false,
                        withoutScore);
        assertThat(SchemaCompatibility.checkReaderWriterCompatibility(current, broken).getType())
                .as("a reader that needs 'score' cannot read records without it")
                .isEqualTo(SchemaCompatibilityType.INCOMPATIBLE);
    }
}
