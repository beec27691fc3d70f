package org.streaminference.tracing;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RecordTracingTest {
    private static final String SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private static final String UNSAMPLED =
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    private static RecordTracing open(double ratio) {
        return RecordTracing.open(
                new TracingConfig(
                        ratio, InMemorySpanExporterProvider.NAME, "http://localhost:4318", "test"),
                "test",
                RecordTracingTest.class.getClassLoader());
    }

    @Test
    void offMeansNoSdkAndNoSpans() {
        RecordTracing off =
                RecordTracing.open(TracingConfig.DISABLED, "test", getClass().getClassLoader());
        assertThat(off.enabled()).isFalse();
        assertThat(
                        off.startEntrySpan("validate", SAMPLED, SpanKind.CONSUMER)
                                .getSpanContext()
                                .isValid())
                .isFalse();
        assertThat(RecordTracing.running()).isEmpty();
    }

    @Test
    void anExporterNoJarRegistersIsNamedWhereTheJobIsBuilt() {
        Assertions.assertThatThrownBy(
                        () ->
                                RecordTracing.check(
                                        new TracingConfig(
                                                0.01,
                                                "zipkin-typo",
                                                "http://localhost:4318",
                                                "test"),
                                        getClass().getClassLoader()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tracing cannot start with exporter 'zipkin-typo'");
        RecordTracing.check(
                new TracingConfig(
                        0.01, InMemorySpanExporterProvider.NAME, "http://localhost:4318", "test"),
                getClass().getClassLoader());
        RecordTracing.check(TracingConfig.DISABLED, null);
        assertThat(RecordTracing.running()).isEmpty();
    }

    @Test
    void recordsWithoutAContextStartATraceAtTheRatioOnly() {
        InMemorySpanExporterProvider.SPANS.reset();
        int traced = 0;
        try (RecordTracing tracing = open(0.25)) {
            for (int i = 0; i < 8_000; i++) {
                Span span = tracing.startEntrySpan("validate", null, SpanKind.CONSUMER);
                if (span.getSpanContext().isSampled()) {
                    traced++;
                    assertThat(RecordTracing.carry(span, null))
                            .startsWith("00-" + span.getSpanContext().getTraceId());
                } else {
                    assertThat(RecordTracing.carry(span, null)).isNull();
                }
                span.end();
            }
        }
        assertThat(traced).as("a quarter of 8,000").isBetween(1_800, 2_200);
        assertThat(RecordTracing.running()).as("the last holder shut the SDK down").isEmpty();
        assertThat(InMemorySpanExporterProvider.SPANS.getFinishedSpanItems())
                .as("every traced span exported at shutdown")
                .hasSize(traced);
    }

    @Test
    void aSampledContextIsContinuedAndAnUnsampledOnePassesThrough() {
        try (RecordTracing tracing = open(1e-9)) {
            Span child = tracing.startEntrySpan("validate", SAMPLED, SpanKind.CONSUMER);
            assertThat(child.getSpanContext().getTraceId())
                    .isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
            String carried = RecordTracing.carry(child, SAMPLED);
            assertThat(carried).isNotEqualTo(SAMPLED);
            assertThat(RecordTracing.sampled(carried)).isNotNull();
            Span next = tracing.startRecordSpan("features", carried, SpanKind.INTERNAL);
            assertThat(next.getSpanContext().getTraceId())
                    .isEqualTo(child.getSpanContext().getTraceId());
            child.end();
            next.end();

            Span unsampled = tracing.startEntrySpan("validate", UNSAMPLED, SpanKind.CONSUMER);
            assertThat(unsampled.getSpanContext().isValid()).as("nothing built").isFalse();
            assertThat(RecordTracing.carry(unsampled, UNSAMPLED)).isEqualTo(UNSAMPLED);
            assertThat(
                            tracing.startRecordSpan("features", null, SpanKind.INTERNAL)
                                    .getSpanContext()
                                    .isValid())
                    .as("a later stage never starts a trace")
                    .isFalse();
            assertThat(
                            tracing.startEntrySpan("validate", "00-garbage", SpanKind.CONSUMER)
                                    .getSpanContext()
                                    .isValid())
                    .as("a malformed header is no context")
                    .isFalse();
        }
    }
}
