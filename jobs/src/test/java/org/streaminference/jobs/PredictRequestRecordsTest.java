package org.streaminference.jobs;

import org.streaminference.operators.validation.EventFieldMapping;
import org.streaminference.operators.validation.EventLimits;
import org.streaminference.operators.validation.EventValidator;
import org.streaminference.operators.validation.JsonEventDecoder;
import org.streaminference.operators.validation.ValidatedRecord;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.PredictRequestFormat;
import org.streaminference.schemas.PredictRequestHeaders;
import org.streaminference.schemas.ReasonCode;

import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Records of the predict-request topic as the job's source reads them: a request's headers go on
 * with it in its source position; a record without valid ones, whatever its value, is a dead letter
 * that no reply is addressed for.
 */
class PredictRequestRecordsTest {
    private static final EventFields FIELDS =
            new EventFields(List.of("payment.amount"), List.of(), List.of());
    private static final EventRecordDeserializer REQUESTS =
            EventRecordDeserializer.ofRequests(
                    new EventValidator(
                            EventLimits.defaults(),
                            new JsonEventDecoder(
                                    new EventFieldMapping(
                                            PredictRequestFormat.REQUEST_ID,
                                            PredictRequestFormat.ENTITY_ID,
                                            PredictRequestFormat.EVENT_TIME,
                                            PredictRequestFormat.EVENT_TYPE,
                                            FIELDS))),
                    false);

    private static final String VALUE =
            "{\"request_id\": \"r-1\", \"entity_id\": \"c-1\", \"event_time\": "
                    + System.currentTimeMillis()
                    + ", \"event_type\": \"event\", \"payment\": {\"amount\": 4.5}}";

    private static ValidatedRecord read(String value, Map<String, String> headers) {
        RecordHeaders h = new RecordHeaders();
        headers.forEach((k, v) -> h.add(k, v.getBytes(StandardCharsets.US_ASCII)));
        ConsumerRecord<byte[], byte[]> record =
                new ConsumerRecord<>(
                        "predict-requests",
                        2,
                        17L,
                        System.currentTimeMillis(),
                        TimestampType.CREATE_TIME,
                        0,
                        value.length(),
                        "c-1".getBytes(StandardCharsets.UTF_8),
                        value.getBytes(StandardCharsets.UTF_8),
                        h,
                        Optional.empty());
        List<ValidatedRecord> out = new ArrayList<>();
        REQUESTS.deserialize(
                record,
                new Collector<>() {
                    @Override
                    public void collect(ValidatedRecord r) {
                        out.add(r);
                    }

                    @Override
                    public void close() {}
                });
        assertThat(out).hasSize(1);
        return out.get(0);
    }

    private static Map<String, String> headers(String id, String model, String mode) {
        return Map.of(
                PredictRequestHeaders.REQUEST_ID, id,
                PredictRequestHeaders.MODEL, model,
                PredictRequestHeaders.MODE, mode,
                PredictRequestHeaders.SENT, "1700000000000");
    }

    @Test
    void aRequestCarriesItsHeadersWithItsEvent() {
        ValidatedRecord r = read(VALUE, headers("r-1", "fraud", "read"));
        assertThat(r.deadLetter).isNull();
        assertThat(r.event.numeric).containsExactly(4.5);
        PredictRequest request = r.event.source.getRequest();
        assertThat(request.getRequestId()).isEqualTo("r-1");
        assertThat(request.getModel()).isEqualTo("fraud");
        assertThat(request.getReadOnly()).isTrue();
        assertThat(request.getSentTime()).isEqualTo(1_700_000_000_000L);
        assertThat(request.getReadTime()).isPositive();
        assertThat(r.event.source.getPartition()).isEqualTo(2);
        assertThat(r.event.source.getOffset()).isEqualTo(17L);
    }

    @Test
    void aRecordWithoutValidHeadersIsADeadLetterNoReplyIsAddressedFor() {
        for (Map<String, String> bad :
                List.of(
                        Map.<String, String>of(),
                        headers("r-1", "fraud", "write"),
                        headers("r 1", "fraud", "update"),
                        headers("r-1", "", "update"),
                        Map.of(
                                PredictRequestHeaders.REQUEST_ID, "r-1",
                                PredictRequestHeaders.MODEL, "fraud",
                                PredictRequestHeaders.MODE, "update",
                                PredictRequestHeaders.SENT, "yesterday"))) {
            ValidatedRecord r = read(VALUE, bad);
            assertThat(r.event).as("%s", bad).isNull();
            assertThat(r.deadLetter.getReasonCode()).isEqualTo(ReasonCode.INVALID_FIELD);
            assertThat(r.deadLetter.getMessage()).contains("header");
            assertThat(r.deadLetter.getSource().getRequest()).isNull();
        }
    }

    @Test
    void aRequestWhoseBodyIsRefusedIsADeadLetterAddressedToItsGateway() {
        ValidatedRecord other =
                read(VALUE.replace("\"r-1\"", "\"r-2\""), headers("r-1", "fraud", "update"));
        assertThat(other.deadLetter.getReasonCode()).isEqualTo(ReasonCode.INVALID_FIELD);
        assertThat(other.deadLetter.getMessage()).contains("request_id");
        assertThat(other.deadLetter.getSource().getRequest().getRequestId()).isEqualTo("r-1");

        ValidatedRecord malformed = read("{not json", headers("r-3", "fraud", "update"));
        assertThat(malformed.deadLetter.getReasonCode()).isEqualTo(ReasonCode.MALFORMED_JSON);
        assertThat(malformed.deadLetter.getSource().getRequest().getRequestId()).isEqualTo("r-3");
    }
}
