package org.streaminference.features;

import org.streaminference.features.spec.FeatureDefinition;
import org.streaminference.features.spec.FeatureKind;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecParser;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.features.state.FeatureEngine;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link FeatureEnrichmentFunction} in Flink's keyed operator test harness, each feature kind
 * against {@link ReferenceFeatures} on the same stream: out-of-order and late events, window
 * boundaries, missing fields.
 */
class FeatureEnrichmentFunctionTest {
    private static final KeySelector<ValidatedEvent, String> ENTITY = v -> v.entityId;
    private static final long BOUND = 120_000;

    static Stream<Arguments> featureKinds() {
        return Stream.of(
                Arguments.of(
                        "numeric",
                        """
                        - {name: raw, kind: numeric, field: amount}
                        - {name: imputed, kind: numeric, field: x, default: -1}
                        - {name: scaled, kind: numeric, field: amount, transform: log1p, scale: {mean: 3, std: 2}}
                        - {name: unit, kind: numeric, field: amount, scale: {min: 0, max: 100}}
                        - {name: tier, kind: numeric, source: profile, field: tier, default: -1}
                        """),
                Arguments.of(
                        "one-hot",
                        """
                        - {name: c, kind: one-hot, field: c, vocabulary: [a, b, c, zz]}
                        - {name: segment, kind: one-hot, source: profile, field: segment, vocabulary: [retail, business]}
                        """),
                Arguments.of(
                        "hashed",
                        """
                        - {name: c, kind: hashed, field: c, buckets: 3}
                        """),
                Arguments.of(
                        "count",
                        """
                        - {name: lifetime, kind: count}
                        - {name: tumbling, kind: count, window: 10m}
                        - {name: sliding, kind: count, window: 1h, slide: 5m}
                        - {name: with_x, kind: count, field: x, window: 30m, slide: 10m}
                        """),
                Arguments.of(
                        "sum",
                        """
                        - {name: lifetime, kind: sum, field: amount}
                        - {name: tumbling, kind: sum, field: x, window: 10m}
                        - {name: sliding, kind: sum, field: amount, window: 1h, slide: 5m, transform: log1p}
                        """),
                Arguments.of(
                        "mean",
                        """
                        - {name: lifetime, kind: mean, field: amount}
                        - {name: tumbling, kind: mean, field: x, window: 10m, default: -7}
                        - {name: sliding, kind: mean, field: amount, window: 1h, slide: 5m}
                        """),
                Arguments.of(
                        "min",
                        """
                        - {name: lifetime, kind: min, field: x}
                        - {name: sliding, kind: min, field: x, window: 1h, slide: 15m, default: 99}
                        """),
                Arguments.of(
                        "max",
                        """
                        - {name: lifetime, kind: max, field: amount}
                        - {name: tumbling, kind: max, field: x, window: 20m}
                        """),
                Arguments.of(
                        "stddev",
                        """
                        - {name: lifetime, kind: stddev, field: amount}
                        - {name: sliding, kind: stddev, field: x, window: 2h, slide: 10m}
                        """),
                Arguments.of(
                        "distinct-count",
                        """
                        - {name: lifetime, kind: distinct-count, field: c}
                        - {name: sliding, kind: distinct-count, field: c, window: 1h, slide: 10m}
                        """),
                Arguments.of(
                        "last",
                        """
                        - {name: previous_x, kind: last, field: x, default: 0}
                        - {name: previous_amount, kind: last, field: amount, default: -1, transform: log1p}
                        """),
                Arguments.of(
                        "time-since-previous",
                        """
                        - {name: since, kind: time-since-previous, default: -1}
                        - {name: since_log, kind: time-since-previous, transform: log1p}
                        """),
                Arguments.of(
                        "decayed-mean",
                        """
                        - {name: ewma, kind: decayed-mean, field: amount, halfLife: 10m}
                        - {name: ewma_x, kind: decayed-mean, field: x, halfLife: 1h, default: 5}
                        """));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("featureKinds")
    void eachKindMatchesTheReference(String kind, String features) throws Exception {
        for (String policy : List.of("dead-letter", "count")) {
            FeatureSpec spec = spec(kind, features, policy, "1d");
            List<InputEvent> events = FeatureTestEvents.stream(kind.hashCode(), 6, 3_000, BOUND);
            Map<String, EntityProfile> profiles = FeatureTestEvents.profiles(6);
            Run run = run(spec, events, profiles, false, -1);
            Map<String, double[]> expected = ReferenceFeatures.compute(spec, events, profiles);

            long late = expected.values().stream().filter(v -> v == null).count();
            if (!new FeatureEngine(spec).keepsState()) {
                // features of the event alone: order does not change them, so no event is late, and
                // no state is kept
                assertThat(late).isZero();
                assertThat(run.deadLetters).isEmpty();
            } else if (policy.equals("dead-letter")) {
                assertThat(late).as("the stream has late events").isGreaterThan(50);
                assertThat(run.deadLetters)
                        .hasSize((int) late)
                        .allSatisfy(
                                d -> assertThat(d.getReasonCode()).isEqualTo(ReasonCode.LATE_EVENT))
                        .allSatisfy(d -> assertThat(expected.get(d.getEventId())).isNull());
            } else {
                assertThat(late).isZero();
                assertThat(run.deadLetters).isEmpty();
            }
            assertThat(run.vectors.size() + run.deadLetters.size()).isEqualTo(events.size());
            for (Map.Entry<String, double[]> e : run.vectors.entrySet()) {
                assertVector(spec, e.getKey(), e.getValue(), expected.get(e.getKey()));
            }
        }
    }

    @Test
    void aRestoreFromASnapshotMidStreamComputesWhatAnUninterruptedRunDoes() throws Exception {
        FeatureSpec spec = FeatureSpecs.demo();
        List<InputEvent> events =
                FeatureTestEvents.stream(7, 40, 4_000, spec.maxOutOfOrdernessMillis());
        Map<String, EntityProfile> profiles = FeatureTestEvents.profiles(40);

        Run uninterrupted = run(spec, events, profiles, true, -1);
        Run restored = run(spec, events, profiles, true, 1_700);

        assertThat(restored.vectors.keySet()).isEqualTo(uninterrupted.vectors.keySet());
        for (String id : uninterrupted.vectors.keySet()) {
            assertThat(restored.vectors.get(id))
                    .as(id)
                    .containsExactly(uninterrupted.vectors.get(id));
        }
        assertThat(restored.deadLetters)
                .extracting(DeadLetter::getEventId)
                .containsExactlyElementsOf(
                        uninterrupted.deadLetters.stream().map(DeadLetter::getEventId).toList());
        // and both are right
        Map<String, double[]> expected = ReferenceFeatures.compute(spec, events, profiles);
        restored.vectors.forEach((id, v) -> assertVector(spec, id, v, expected.get(id)));
    }

    @Test
    void entitiesIdlePastTheTtlAreRemovedAndStartFresh() throws Exception {
        FeatureSpec spec =
                spec(
                        "ttl",
                        """
                - {name: n, kind: count}
                - {name: since, kind: time-since-previous, default: -1}
                """,
                        "dead-letter",
                        "1h");
        long t = FeatureTestEvents.T0;
        try (var h = harness(spec, false, null)) {
            h.processElement(event("idle", "e1", t), t);
            h.processElement(event("busy", "e2", t), t);
            h.processElement(event("busy", "e2b", t + 50 * 60_000), t + 50 * 60_000);
            assertThat(h.numKeyedStateEntries()).isEqualTo(2);

            h.processWatermark(t + 3_600_000); // one hour after the idle entity's event
            assertThat(h.numKeyedStateEntries())
                    .as("the idle entity's state is removed")
                    .isEqualTo(1);

            h.processElement(event("idle", "e3", t + 70 * 60_000), t + 70 * 60_000);
            h.processElement(event("busy", "e4", t + 70 * 60_000), t + 70 * 60_000);
            Map<String, double[]> out = vectors(h.extractOutputValues());
            assertThat(out.get("e3")).as("fresh: first event again").containsExactly(1, -1);
            assertThat(out.get("e4"))
                    .as("kept: third event, 20 minutes later")
                    .containsExactly(3, 1200);

            h.processWatermark(t + 70 * 60_000 + 3_600_000);
            assertThat(h.numKeyedStateEntries()).as("both idle for an hour now").isZero();
        }
    }

    @Test
    void aReadOnlyRequestSeesTheStateAsAnEventWouldAndLeavesItAsItWas() throws Exception {
        FeatureSpec spec =
                spec(
                        "requests",
                        """
                - {name: n, kind: count}
                - {name: since, kind: time-since-previous, default: -1}
                """,
                        "dead-letter",
                        "1h");
        long t = FeatureTestEvents.T0;
        try (var h = harness(spec, false, null)) {
            h.processElement(event("a", "e1", t), t);
            h.processElement(request(event("a", "read-1", t + 60_000), true), t + 60_000);
            h.processElement(request(event("a", "update-1", t + 120_000), false), t + 120_000);
            h.processElement(event("a", "e2", t + 180_000), t + 180_000);
            // a read-only request of an entity past its TTL sees fresh state and expires nothing
            h.processElement(request(event("a", "read-2", t + 200 * 60_000), true), t);
            h.processElement(event("a", "e3", t + 200_000), t + 200_000);
            Map<String, double[]> out = vectors(h.extractOutputValues());
            assertThat(out.get("read-1")).as("counted with e1, as an event").containsExactly(2, 60);
            assertThat(out.get("update-1"))
                    .as("the read-only request was not kept")
                    .containsExactly(2, 120);
            assertThat(out.get("e2")).as("the update-mode request was").containsExactly(3, 60);
            assertThat(out.get("read-2")).containsExactly(1, -1);
            assertThat(out.get("e3")).containsExactly(4, 20);
        }
    }

    private static ValidatedEvent request(ValidatedEvent event, boolean readOnly) {
        event.source.setRequest(new PredictRequest(event.eventId, "m", readOnly, 0L, 0L, 0L));
        return event;
    }

    @Test
    void anEntityWhoseNextEventComesAfterTheTtlStartsFreshBeforeAnyWatermark() throws Exception {
        FeatureSpec spec = spec("ttl", "- {name: n, kind: count}\n", "dead-letter", "1h");
        long t = FeatureTestEvents.T0;
        try (var h = harness(spec, false, null)) {
            h.processElement(event("a", "e1", t), t);
            h.processElement(event("a", "e2", t + 30 * 60_000), t + 30 * 60_000);
            h.processElement(event("a", "e3", t + 90 * 60_000), t + 90 * 60_000);
            Map<String, double[]> out = vectors(h.extractOutputValues());
            assertThat(out.get("e2")).containsExactly(2);
            assertThat(out.get("e3"))
                    .as("an hour after e2: expired, whether or not the timer fired")
                    .containsExactly(1);
        }
    }

    @Test
    void stateWrittenUnderAnotherSpecLayoutIsNotReadBack() throws Exception {
        FeatureSpec tenMinutes =
                spec("a", "- {name: n, kind: count, window: 10m}\n", "dead-letter", "1d");
        FeatureSpec oneHour =
                spec("a", "- {name: n, kind: count, window: 1h}\n", "dead-letter", "1d");
        long t = FeatureTestEvents.T0;
        OperatorSubtaskState snapshot;
        try (var h = harness(tenMinutes, false, null)) {
            h.processElement(event("a", "e1", t), t);
            h.processElement(event("a", "e2", t + 1), t + 1);
            snapshot = h.snapshot(1, 1);
        }
        try (var h = harness(oneHour, false, snapshot)) {
            h.processElement(event("a", "e3", t + 2), t + 2);
            assertThat(vectors(h.extractOutputValues()).get("e3"))
                    .as("starts fresh")
                    .containsExactly(1);
        }
        try (var h = harness(tenMinutes, false, snapshot)) {
            h.processElement(event("a", "e3", t + 2), t + 2);
            assertThat(vectors(h.extractOutputValues()).get("e3"))
                    .as("same layout: continues")
                    .containsExactly(3f);
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    static FeatureSpec spec(String name, String features, String latePolicy, String ttl)
            throws Exception {
        String yaml =
                "name: "
                        + name.replaceAll("[^A-Za-z0-9]", "_")
                        + "\nversion: 1\neventTime:\n"
                        + "  maxOutOfOrderness: "
                        + BOUND / 1000
                        + "s\n  lateEvents: "
                        + latePolicy
                        + "\n  entityTtl: "
                        + ttl
                        + "\nfeatures:\n"
                        + features.indent(2);
        return FeatureSpecParser.parse(yaml, name + ".yaml");
    }

    private record Run(Map<String, double[]> vectors, List<DeadLetter> deadLetters) {}

    /**
     * Runs the events through a harness; with {@code restoreAt >= 0}, snapshots there and continues
     * in a new one.
     */
    private static Run run(
            FeatureSpec spec,
            List<InputEvent> events,
            Map<String, EntityProfile> profiles,
            boolean rocksdb,
            int restoreAt)
            throws Exception {
        Map<String, double[]> vectors = new HashMap<>();
        List<DeadLetter> deadLetters = new ArrayList<>();
        var h = harness(spec, rocksdb, null);
        for (int i = 0; i < events.size(); i++) {
            if (i == restoreAt) {
                OperatorSubtaskState snapshot = h.snapshot(1, i);
                collect(h, vectors, deadLetters);
                h.close();
                h = harness(spec, rocksdb, snapshot);
            }
            InputEvent e = events.get(i);
            h.processElement(
                    FeatureTestEvents.validated(
                            e, spec.eventFields(), i, profiles.get(e.getEntityId())),
                    e.getEventTime());
        }
        collect(h, vectors, deadLetters);
        h.close();
        return new Run(vectors, deadLetters);
    }

    private static void collect(
            KeyedOneInputStreamOperatorTestHarness<String, ValidatedEvent, EnrichedEvent> h,
            Map<String, double[]> vectors,
            List<DeadLetter> deadLetters) {
        vectors.putAll(vectors(h.extractOutputValues()));
        var side = h.getSideOutput(DeadLetters.TAG);
        if (side != null) {
            side.stream().map(StreamRecord::getValue).forEach(deadLetters::add);
        }
    }

    static KeyedOneInputStreamOperatorTestHarness<String, ValidatedEvent, EnrichedEvent> harness(
            FeatureSpec spec, boolean rocksdb, OperatorSubtaskState restore) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new FeatureEnrichmentFunction(spec)),
                        ENTITY,
                        Types.STRING);
        if (rocksdb) {
            h.setStateBackend(new EmbeddedRocksDBStateBackend());
        }
        h.setup();
        if (restore != null) {
            h.initializeState(restore);
        }
        h.open();
        return h;
    }

    private static ValidatedEvent event(String entity, String id, long time) {
        return FeatureTestEvents.validated(
                InputEvent.newBuilder()
                        .setEventId(id)
                        .setEntityId(entity)
                        .setEventTime(time)
                        .setEventType("t")
                        .setNumericFields(Map.of("amount", 1.0))
                        .build(),
                EventFields.numeric(List.of("amount")),
                0,
                null);
    }

    private static Map<String, double[]> vectors(List<EnrichedEvent> out) {
        Map<String, double[]> byId = new HashMap<>();
        for (EnrichedEvent e : out) {
            double[] v = new double[e.getFeatures().size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = e.getFeatures().get(i);
            }
            byId.put(e.getEvent().getEventId(), v);
        }
        return byId;
    }

    /**
     * Within double precision (the features are computed and carried in double; only the order of
     * sums differs from the reference's); distinct counts exact up to 64 values (as in these
     * streams), sketched beyond.
     */
    static void assertVector(FeatureSpec spec, String eventId, double[] actual, double[] expected) {
        assertThat(expected).as("%s: the reference has a vector", eventId).isNotNull();
        assertThat(actual).hasSize(expected.length);
        int pos = 0;
        for (FeatureDefinition f : spec.features()) {
            for (int i = 0; i < f.width(); i++, pos++) {
                double want = expected[pos];
                double tolerance =
                        f.kind() == FeatureKind.DISTINCT_COUNT && want > 64
                                ? 0.02 * Math.abs(want)
                                : 1e-9 * Math.max(1, Math.abs(want));
                assertThat(actual[pos])
                        .as("%s: %s", eventId, f.valueNames().get(i))
                        .isCloseTo(want, within(tolerance));
            }
        }
    }
}
