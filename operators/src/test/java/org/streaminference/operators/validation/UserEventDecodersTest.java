package org.streaminference.operators.validation;

import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The user's own events, in their Avro schema (nested records, an enum, an array, an optional
 * field, fields the spec does not read) and as JSON: the fields the spec names come out by path,
 * the others are skipped, and every bad record gets its reason.
 */
class UserEventDecodersTest {
    static final Schema PAYMENT =
            new Schema.Parser()
                    .parse(
                            """
            {"type": "record", "name": "Payment", "namespace": "com.example.shop", "fields": [
              {"name": "id", "type": "string"},
              {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
                {"name": "id", "type": "string"},
                {"name": "segment", "type": {"type": "enum", "name": "Segment", "symbols": ["RETAIL", "BUSINESS"]}},
                {"name": "embedding", "type": {"type": "array", "items": "float"}},
                {"name": "notes", "type": "string"}]}},
              {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
              {"name": "kind", "type": "string"},
              {"name": "payment", "type": {"type": "record", "name": "Money", "fields": [
                {"name": "amount", "type": "double"}, {"name": "currency", "type": "string"}]}},
              {"name": "coupon", "type": ["null", "double"], "default": null},
              {"name": "attachment", "type": ["null", "bytes"], "default": null},
              {"name": "tags", "type": {"type": "map", "values": "string"}}]}""");

    static final EventFieldMapping MAPPING =
            new EventFieldMapping(
                    "id",
                    "customer.id",
                    "ts",
                    "kind",
                    new EventFields(
                            List.of("payment.amount", "coupon"),
                            List.of("payment.currency", "customer.segment"),
                            List.of("customer.embedding")));

    static GenericRecord payment(String id, Double coupon) {
        Schema customer = PAYMENT.getField("customer").schema();
        GenericRecord c = new GenericData.Record(customer);
        c.put("id", "cust-7");
        c.put(
                "segment",
                new GenericData.EnumSymbol(customer.getField("segment").schema(), "BUSINESS"));
        c.put("embedding", List.of(0.5f, -1f, 2f, 0.25f));
        c.put("notes", "x".repeat(10_000)); // read by nobody: skipped
        GenericRecord money = new GenericData.Record(PAYMENT.getField("payment").schema());
        money.put("amount", 12.5);
        money.put("currency", "EUR");
        GenericRecord p = new GenericData.Record(PAYMENT);
        p.put("id", id);
        p.put("customer", c);
        p.put("ts", 1_760_000_000_000L);
        p.put("kind", "purchase");
        p.put("payment", money);
        p.put("coupon", coupon);
        p.put("attachment", ByteBuffer.wrap(new byte[5_000]));
        p.put("tags", Map.of("campaign", "winter"));
        return p;
    }

    static ByteBuffer singleObject(GenericRecord record) throws Exception {
        return new BinaryMessageEncoder<GenericRecord>(GenericData.get(), record.getSchema())
                .encode(record);
    }

    static ByteBuffer binary(GenericRecord record) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(record.getSchema()).write(record, encoder);
        encoder.flush();
        return ByteBuffer.wrap(out.toByteArray());
    }

    private static void assertThePayment(ValidatedEvent validated, Double coupon) {
        InputEvent e = validated.toInputEvent(MAPPING.fields());
        assertThat(e.getEventId()).isEqualTo("p-1");
        assertThat(e.getEntityId()).isEqualTo("cust-7");
        assertThat(e.getEventTime()).isEqualTo(1_760_000_000_000L);
        assertThat(e.getEventType()).isEqualTo("purchase");
        assertThat(e.getNumericFields())
                .isEqualTo(
                        coupon == null
                                ? Map.of("payment.amount", 12.5)
                                : Map.of("payment.amount", 12.5, "coupon", coupon));
        assertThat(e.getCategoricalFields())
                .isEqualTo(Map.of("payment.currency", "EUR", "customer.segment", "BUSINESS"));
        assertThat(e.getVectorFields())
                .isEqualTo(Map.of("customer.embedding", List.of(0.5f, -1f, 2f, 0.25f)));
    }

    @Test
    void avroEventsGiveTheFieldsTheSpecReadsByPathAndNothingElse() throws Exception {
        AvroEventDecoder single =
                new AvroEventDecoder(PAYMENT, AvroEventDecoder.Encoding.SINGLE_OBJECT, MAPPING);
        assertThePayment(single.decode(singleObject(payment("p-1", 3.0)), -1).event(), 3.0);
        assertThePayment(single.decode(singleObject(payment("p-1", null)), -1).event(), null);
        AvroEventDecoder plain =
                new AvroEventDecoder(PAYMENT, AvroEventDecoder.Encoding.BINARY, MAPPING);
        assertThePayment(plain.decode(binary(payment("p-1", 3.0)), -1).event(), 3.0);

        Schema projected = AvroEventDecoder.project(PAYMENT, MAPPING.tree());
        assertThat(projected.getFields())
                .extracting(Schema.Field::name)
                .containsExactlyInAnyOrder("id", "customer", "ts", "kind", "payment", "coupon");
        assertThat(projected.getField("customer").schema().getFields())
                .extracting(Schema.Field::name)
                .containsExactlyInAnyOrder("id", "segment", "embedding");
    }

    @Test
    void arraysInSeveralBlocksOfFloatsDoublesOrIntsAreReadWhole() throws Exception {
        for (String items : List.of("float", "double", "int")) {
            Schema schema =
                    new Schema.Parser()
                            .parse(
                                    """
                    {"type": "record", "name": "Image", "fields": [{"name": "id", "type": "string"},
                      {"name": "pixels", "type": {"type": "array", "items": "%s"}}, {"name": "after", "type": "long"}]}"""
                                            .formatted(items));
            List<Object> pixels = new ArrayList<>();
            float[] expected = new float[1_000];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = items.equals("int") ? i - 500 : (i - 500) / 8f;
                pixels.add(
                        switch (items) {
                            case "float" -> expected[i];
                            case "double" -> (double) expected[i];
                            default -> (int) expected[i];
                        });
            }
            GenericRecord image = new GenericData.Record(schema);
            image.put("id", "img-1");
            image.put("pixels", pixels);
            image.put("after", 1_760_000_000_000L);
            // a blocking encoder writes the array as several blocks, each with a negative count and
            // its byte size
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder =
                    new EncoderFactory().configureBlockSize(64).blockingBinaryEncoder(out, null);
            new GenericDatumWriter<GenericRecord>(schema).write(image, encoder);
            encoder.flush();
            assertThat(out.size()).isGreaterThan(expected.length);

            EventFieldMapping mapping =
                    new EventFieldMapping(
                            "id",
                            "id",
                            "after",
                            null,
                            new EventFields(List.of(), List.of(), List.of("pixels")));
            ValidatedEvent event =
                    new AvroEventDecoder(schema, AvroEventDecoder.Encoding.BINARY, mapping)
                            .decode(ByteBuffer.wrap(out.toByteArray()), -1)
                            .event();
            assertThat(event).as(items).isNotNull();
            assertThat(event.vectors[0]).as(items).containsExactly(expected);
            assertThat(event.getEventTime())
                    .as("the field after the array, read in step")
                    .isEqualTo(1_760_000_000_000L);
        }
    }

    @Test
    void badAvroRecordsGetTheirReasons() throws Exception {
        AvroEventDecoder decoder =
                new AvroEventDecoder(PAYMENT, AvroEventDecoder.Encoding.SINGLE_OBJECT, MAPPING);
        ByteBuffer good = singleObject(payment("p-1", 3.0));
        ByteBuffer otherSchema =
                InputEvent.newBuilder()
                        .setEventId("e")
                        .setEntityId("u")
                        .setEventTime(1)
                        .setEventType("t")
                        .build()
                        .toByteBuffer();
        assertThat(decoder.decode(otherSchema, -1).reason()).isEqualTo(ReasonCode.UNKNOWN_SCHEMA);
        assertThat(decoder.decode(ByteBuffer.wrap("{}".getBytes()), -1).reason())
                .isEqualTo(ReasonCode.MALFORMED_AVRO);
        for (int cut : new int[] {11, good.remaining() / 2, good.remaining() - 1}) {
            ByteBuffer truncated = good.duplicate().limit(cut);
            assertThat(decoder.decode(truncated, -1).reason())
                    .as("cut at %d", cut)
                    .isEqualTo(ReasonCode.MALFORMED_AVRO);
        }
        byte[] hostile = new byte[good.remaining()];
        good.duplicate().get(hostile);
        hostile[10] = (byte) 0xFE; // the id's length claims far more bytes than remain
        hostile[11] = (byte) 0xFF;
        hostile[12] = (byte) 0xFF;
        hostile[13] = (byte) 0x0F;
        EventDecoder.Decoded refused = decoder.decode(ByteBuffer.wrap(hostile), -1);
        assertThat(refused.reason()).isEqualTo(ReasonCode.MALFORMED_AVRO);
        assertThat(refused.message()).startsWith("Payment ");
    }

    @Test
    void aPathTheSchemaDoesNotHaveOrCannotServeFailsWhenTheDecoderIsMade() {
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        PAYMENT,
                                        AvroEventDecoder.Encoding.BINARY,
                                        new EventFieldMapping(
                                                "id",
                                                "customer.id",
                                                "ts",
                                                null,
                                                EventFields.numeric(List.of("payment.total")))))
                .hasMessageStartingWith("schema com.example.shop.Payment (fingerprint ")
                .hasMessageEndingWith(
                        "): 'payment.total': record com.example.shop.Money of the events' schema has no"
                                + " field 'total'");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        PAYMENT,
                                        AvroEventDecoder.Encoding.BINARY,
                                        new EventFieldMapping(
                                                "id",
                                                "customer.id",
                                                "ts",
                                                null,
                                                EventFields.numeric(List.of("payment.currency")))))
                .hasMessageContaining(
                        "'payment.currency' is a string in the events' schema, which cannot be read as"
                                + " a number");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        PAYMENT,
                                        AvroEventDecoder.Encoding.BINARY,
                                        new EventFieldMapping(
                                                "id",
                                                "customer.id",
                                                "kind",
                                                null,
                                                EventFields.numeric(List.of()))))
                .hasMessageContaining(
                        "'kind' is a string in the events' schema, which cannot be read as epoch");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        PAYMENT,
                                        AvroEventDecoder.Encoding.BINARY,
                                        new EventFieldMapping(
                                                "id",
                                                "id.first",
                                                "ts",
                                                null,
                                                EventFields.numeric(List.of()))))
                .hasMessageEndingWith(
                        "'id' is read as a value and 'id.first' as a field inside it");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        PAYMENT,
                                        AvroEventDecoder.Encoding.BINARY,
                                        new EventFieldMapping(
                                                "id",
                                                "customer.id",
                                                "ts",
                                                null,
                                                EventFields.numeric(List.of("kind.size")))))
                .hasMessageContaining("'kind' is a STRING in the events' schema, not a record");
    }

    /** PAYMENT's next version: a field added with a default, one the spec does not read removed. */
    static final Schema PAYMENT_V2 =
            new Schema.Parser()
                    .parse(
                            PAYMENT.toString()
                                    .replace(
                                            "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"}}",
                                            "{\"name\":\"channel\",\"type\":[\"null\",\"string\"],\"default\":null}"));

    static GenericRecord paymentV2(String id, Double coupon) {
        GenericRecord v1 = payment(id, coupon);
        GenericRecord v2 = new GenericData.Record(PAYMENT_V2);
        for (Schema.Field field : PAYMENT_V2.getFields()) {
            if (!field.name().equals("channel")) {
                v2.put(field.name(), v1.get(field.name()));
            }
        }
        v2.put("channel", "app");
        return v2;
    }

    @Test
    void recordsOfEveryVersionOfTheSchemaAreReadAndEachVersionIsCheckedWhenTheDecoderIsMade()
            throws Exception {
        assertThat(PAYMENT_V2.getField("channel")).isNotNull();
        assertThat(PAYMENT_V2.getField("tags")).isNull();
        AvroEventDecoder both =
                new AvroEventDecoder(
                        List.of(PAYMENT, PAYMENT_V2),
                        AvroEventDecoder.Encoding.SINGLE_OBJECT,
                        MAPPING);
        assertThePayment(both.decode(singleObject(payment("p-1", 3.0)), -1).event(), 3.0);
        assertThePayment(both.decode(singleObject(paymentV2("p-1", null)), -1).event(), null);
        assertThePayment(both.decode(singleObject(payment("p-1", null)), -1).event(), null);

        AvroEventDecoder oldOnly =
                new AvroEventDecoder(PAYMENT, AvroEventDecoder.Encoding.SINGLE_OBJECT, MAPPING);
        EventDecoder.Decoded unknown = oldOnly.decode(singleObject(paymentV2("p-1", null)), -1);
        assertThat(unknown.reason()).isEqualTo(ReasonCode.UNKNOWN_SCHEMA);
        assertThat(unknown.message())
                .contains(
                        "is none of the events' schemas (com.example.shop.Payment "
                                + Long.toHexString(
                                        SchemaNormalization.parsingFingerprint64(PAYMENT)));

        Schema withoutCoupon =
                new Schema.Parser()
                        .parse(
                                PAYMENT.toString()
                                        .replace(
                                                "{\"name\":\"coupon\",\"type\":[\"null\",\"double\"],\"default\":null},",
                                                ""));
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        List.of(PAYMENT, withoutCoupon),
                                        AvroEventDecoder.Encoding.SINGLE_OBJECT,
                                        MAPPING))
                .hasMessageContaining(AvroEventDecoder.describeVersion(withoutCoupon))
                .hasMessageContaining(
                        "'coupon': record com.example.shop.Payment of the events' schema has no field");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        List.of(PAYMENT, PAYMENT_V2),
                                        AvroEventDecoder.Encoding.BINARY,
                                        MAPPING))
                .hasMessageContaining("BINARY records name no schema");
        assertThatThrownBy(
                        () ->
                                new AvroEventDecoder(
                                        List.of(PAYMENT, PAYMENT),
                                        AvroEventDecoder.Encoding.SINGLE_OBJECT,
                                        MAPPING))
                .hasMessageContaining("is given twice");
    }

    @Test
    void aRecordHeadedWithPythonsFingerprintOfTheSchemaIsReadToo() throws Exception {
        ByteBuffer body = binary(payment("p-1", 3.0));
        ByteBuffer python =
                ByteBuffer.allocate(10 + body.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        python.put((byte) 0xC3)
                .put((byte) 0x01)
                .putLong(ParsingForms.pythonFingerprint(PAYMENT))
                .put(body)
                .flip();
        AvroEventDecoder decoder =
                new AvroEventDecoder(PAYMENT, AvroEventDecoder.Encoding.SINGLE_OBJECT, MAPPING);
        assertThePayment(decoder.decode(python, -1).event(), 3.0);
    }

    @Test
    void anEmptyValueIsMalformedInTheFormatTheJobReads() {
        EventLimits limits = EventLimits.defaults();
        assertThat(
                        new EventValidator(limits, new JsonEventDecoder(MAPPING))
                                .validate(null, ByteBuffer.allocate(0))
                                .reason())
                .isEqualTo(ReasonCode.MALFORMED_JSON);
        assertThat(
                        new EventValidator(
                                        limits,
                                        new AvroEventDecoder(
                                                PAYMENT,
                                                AvroEventDecoder.Encoding.SINGLE_OBJECT,
                                                MAPPING))
                                .validate(null, null)
                                .reason())
                .isEqualTo(ReasonCode.MALFORMED_AVRO);
    }

    private static final JsonEventDecoder JSON = new JsonEventDecoder(MAPPING);

    private static EventDecoder.Decoded json(String text) {
        return JSON.decode(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), 42L);
    }

    @Test
    void jsonEventsGiveTheFieldsTheSpecReadsByPathAndSkipTheRest() {
        String event =
                """
                {"id": "p-1", "kind": "purchase", "ts": 1760000000000, "ignored": {"deep": [[{"x": [1, {"y": 2}]}]]},
                 "customer": {"id": "cust-7", "segment": "BUSINESS", "embedding": [0.5, -1, 2, 0.25], "notes": "..."},
                 "payment": {"amount": 12.5, "currency": "EUR", "card": {"last4": "1234"}}, "coupon": %s,
                 "tags": {"campaign": "winter"}}""";
        assertThePayment(json(event.formatted("3.0")).event(), 3.0);
        assertThePayment(json(event.formatted("null")).event(), null);
        ValidatedEvent numbers =
                json("{\"id\": 17, \"customer\": {\"id\": 99}, \"ts\": 5, \"payment\": {\"amount\": 1}}")
                        .event();
        assertThat(numbers.getEventId()).isEqualTo("17");
        assertThat(numbers.getEntityId()).isEqualTo("99");
        assertThat(numbers.getEventType()).isEqualTo(EventFieldMapping.DEFAULT_EVENT_TYPE);
        ValidatedEvent kafkaTime =
                new JsonEventDecoder(
                                new EventFieldMapping(
                                        "id",
                                        "customer.id",
                                        null,
                                        null,
                                        EventFields.numeric(List.of())))
                        .decode(ByteBuffer.wrap("{\"id\": \"a\"}".getBytes()), 42L)
                        .event();
        assertThat(kafkaTime.getEventTime())
                .as("no event-time path: the Kafka timestamp")
                .isEqualTo(42L);
    }

    @Test
    void badJsonRecordsGetTheirReasons() {
        Map<String, ReasonCode> bad =
                Map.of(
                        "not json",
                        ReasonCode.MALFORMED_JSON,
                        "[1, 2]",
                        ReasonCode.MALFORMED_JSON,
                        "{\"id\": \"a\"} {\"id\": \"b\"}",
                        ReasonCode.MALFORMED_JSON,
                        "{\"id\": \"a\", \"ts\": 1",
                        ReasonCode.MALFORMED_JSON,
                        "{\"id\": \"a\", \"ts\": 1, \"payment\": {\"amount\": \"12\"}}",
                        ReasonCode.INVALID_FIELD,
                        "{\"id\": \"a\", \"ts\": 1, \"payment\": 7}",
                        ReasonCode.INVALID_FIELD,
                        "{\"id\": \"a\", \"ts\": 1, \"customer\": {\"embedding\": [1, \"x\"]}}",
                        ReasonCode.INVALID_FIELD,
                        "{\"id\": \"a\", \"ts\": \"yesterday\"}",
                        ReasonCode.INVALID_FIELD,
                        "{\"id\": \"a\"}",
                        ReasonCode.MISSING_FIELD,
                        "{\"x\": " + "[".repeat(40) + "]".repeat(40) + ", \"ts\": 1}",
                        ReasonCode.MALFORMED_JSON);
        bad.forEach(
                (text, reason) -> {
                    EventDecoder.Decoded decoded = json(text);
                    assertThat(decoded.reason())
                            .as("%s: %s", text, decoded.message())
                            .isEqualTo(reason);
                    assertThat(decoded.message()).isNotBlank();
                });
        assertThat(json("{\"id\": \"a\", \"ts\": 1, \"payment\": {\"amount\": \"12\"}}").message())
                .isEqualTo("numeric field 'payment.amount' is a string");
    }
}
