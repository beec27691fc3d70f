package org.streaminference.gateway;

import org.streaminference.query.ApiError;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PredictCallTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static PredictCall call(String body) throws Exception {
        return PredictCall.fromJson("fraud", JSON.readTree(body), 2_000, 30_000);
    }

    private static void refused(String body, String naming) {
        assertThatThrownBy(() -> call(body))
                .isInstanceOfSatisfying(
                        ApiError.class,
                        e -> {
                            assertThat(e.status).isEqualTo(400);
                            assertThat(e.getMessage()).contains(naming);
                        });
    }

    @Test
    void aRequestTakesItsOptionsAndDefaults() throws Exception {
        PredictCall c =
                call(
                        "{\"entity_id\": \"c-1\", \"fields\": {}, \"options\": {\"mode\": \"read\","
                                + " \"timeout_ms\": 150, \"return_probabilities\": true, \"path\": \"async\"}}");
        assertThat(c.readOnly()).isTrue();
        assertThat(c.timeoutMs()).isEqualTo(150);
        assertThat(c.returnProbabilities()).isTrue();
        assertThat(c.async()).isTrue();
        assertThat(c.requestId()).isNotBlank();
        assertThat(c.eventType()).isEqualTo(PredictCall.DEFAULT_EVENT_TYPE);
        assertThat(c.eventTime()).isNull();

        PredictCall plain = call("{\"entity_id\": \"c-1\", \"request_id\": \"r-1\"}");
        assertThat(plain.readOnly()).isFalse();
        assertThat(plain.timeoutMs()).isEqualTo(2_000);
        assertThat(plain.async()).as("the routing decides").isNull();
        assertThat(plain.requestId()).isEqualTo("r-1");
    }

    @Test
    void eachRefusalNamesWhatIsWrong() {
        refused("{}", "entity_id");
        refused("{\"entity_id\": \"c 1\"}", "entity_id");
        refused("{\"entity_id\": 7}", "entity_id");
        refused("{\"entity_id\": \"c\", \"extra\": 1}", "extra");
        refused("{\"entity_id\": \"c\", \"options\": {\"timeout_ms\": 0}}", "options.timeout_ms");
        refused(
                "{\"entity_id\": \"c\", \"options\": {\"timeout_ms\": 30001}}",
                "options.timeout_ms");
        refused("{\"entity_id\": \"c\", \"options\": {\"mode\": \"write\"}}", "options.mode");
        refused("{\"entity_id\": \"c\", \"options\": {\"path\": \"later\"}}", "options.path");
        refused("{\"entity_id\": \"c\", \"options\": {\"colour\": 1}}", "options.colour");
        refused("{\"entity_id\": \"c\", \"event_time\": \"noon\"}", "event_time");
        refused("{\"entity_id\": \"c\", \"request_id\": \"\"}", "request_id");
        assertThatThrownBy(() -> PredictCall.fromJson("bad model", JSON.readTree("{}"), 1, 2))
                .isInstanceOf(ApiError.class)
                .hasMessageContaining("model");
    }
}
