package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.EventFields;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RequestFieldsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final RequestFields FIELDS =
            new RequestFields(
                    new EventFields(
                            List.of("payment.amount", "coupon"),
                            List.of("payment.currency"),
                            List.of("customer.embedding")));

    private static void check(String json) throws Exception {
        FIELDS.check(JSON.readTree(json));
    }

    private static void refused(String json, String naming) {
        assertThatThrownBy(() -> check(json))
                .isInstanceOfSatisfying(
                        ApiError.class,
                        e -> {
                            assertThat(e.status).isEqualTo(400);
                            assertThat(e.getMessage()).startsWith(naming + " ");
                        });
    }

    @Test
    void fieldsTheSpecReadsPassNestedByTheirPaths() {
        assertThatCode(
                        () ->
                                check(
                                        "{\"payment\": {\"amount\": 12.5, \"currency\": \"EUR\"},"
                                                + " \"coupon\": null,"
                                                + " \"customer\": {\"embedding\": [0.1, -2, 3e2]}}"))
                .doesNotThrowAnyException();
        assertThatCode(() -> check("{}")).doesNotThrowAnyException();
    }

    @Test
    void eachRefusalNamesTheField() {
        refused("{\"payment\": {\"amount\": \"12\"}}", "fields.payment.amount");
        refused("{\"payment\": {\"currency\": 3}}", "fields.payment.currency");
        refused("{\"customer\": {\"embedding\": [1, \"x\"]}}", "fields.customer.embedding");
        refused("{\"customer\": {\"id\": \"c-1\"}}", "fields.customer.id");
        refused("{\"amount\": 1}", "fields.amount");
        refused("{\"payment.amount\": 1}", "fields.payment.amount");
        refused("[1, 2]", "fields");
    }

    @Test
    void aSpecThatReadsAReservedNameIsRefusedAtStart() {
        assertThatThrownBy(
                        () ->
                                new RequestFields(
                                        new EventFields(
                                                List.of("entity_id.score"), List.of(), List.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("entity_id");
    }
}
