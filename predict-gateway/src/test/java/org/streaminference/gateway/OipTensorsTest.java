package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.EventFields;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OipTensorsTest {
    private static final EventFields FIELDS =
            new EventFields(
                    List.of("payment.amount"), List.of("payment.currency"), List.of("embedding"));

    private static List<PredictCall> calls(
            Map<String, Object> parameters, OipTensors.Tensor... in) {
        return OipTensors.calls("m", "req", parameters, List.of(in), FIELDS, 1_000, 5_000, 8);
    }

    private static OipTensors.Tensor tensor(String name, String type, List<Object> data) {
        return new OipTensors.Tensor(name, type, new long[] {data.size()}, data);
    }

    @Test
    void eachRowIsARequestWithTheTensorsAsNestedFields() {
        List<PredictCall> calls =
                calls(
                        Map.of(
                                "mode",
                                "read",
                                "timeout_ms",
                                300L,
                                "event_time",
                                1_700_000_000_000L),
                        tensor("entity_id", "BYTES", List.of("a", "b")),
                        tensor("payment.amount", "FP64", List.of(1.5, 2.5)),
                        tensor("payment.currency", "BYTES", List.of("EUR", "USD")),
                        tensor("embedding", "FP32", List.of(1.0, 2.0, 3.0, 4.0)));
        assertThat(calls).extracting(PredictCall::entityId).containsExactly("a", "b");
        assertThat(calls).extracting(PredictCall::requestId).containsExactly("req-0", "req-1");
        assertThat(calls.get(1).fields().toString())
                .isEqualTo(
                        "{\"payment\":{\"amount\":2.5,\"currency\":\"USD\"},\"embedding\":[3.0,4.0]}");
        assertThat(calls.get(0).readOnly()).isTrue();
        assertThat(calls.get(0).timeoutMs()).isEqualTo(300);
        assertThat(calls.get(0).eventTime()).isEqualTo(1_700_000_000_000L);
    }

    @Test
    void theEntityMayBeAParameterOfASingleRow() {
        List<PredictCall> calls =
                calls(Map.of("entity_id", "solo"), tensor("payment.amount", "FP64", List.of(9.0)));
        assertThat(calls).singleElement().extracting(PredictCall::requestId).isEqualTo("req");
        assertThat(calls.get(0).entityId()).isEqualTo("solo");
    }

    @Test
    void tensorsThatDoNotFitAreRefusedByName() {
        assertThatThrownBy(() -> calls(Map.of(), tensor("payment.amount", "FP64", List.of(1.0))))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("entity_id");
        assertThatThrownBy(
                        () ->
                                calls(
                                        Map.of(),
                                        tensor("entity_id", "BYTES", List.of("a", "b")),
                                        tensor("payment.amount", "FP64", List.of(1.0))))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("payment.amount");
        assertThatThrownBy(
                        () ->
                                calls(
                                        Map.of(),
                                        tensor("entity_id", "BYTES", List.of("a")),
                                        tensor("secret", "FP64", List.of(1.0))))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("secret");
        assertThatThrownBy(
                        () ->
                                calls(
                                        Map.of(),
                                        tensor("entity_id", "BYTES", List.of("a")),
                                        tensor("payment.amount", "FP64", List.of(Double.NaN))))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("finite");
        assertThatThrownBy(
                        () ->
                                calls(
                                        Map.of(),
                                        tensor(
                                                "entity_id",
                                                "BYTES",
                                                List.of(
                                                        "1", "2", "3", "4", "5", "6", "7", "8",
                                                        "9"))))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("1 to 8 rows");
    }
}
