package org.streaminference.features;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecParser;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.EntityProfile;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keyed feature state written by release 0.1.0 (a snapshot of the features operator half way
 * through a stream, stored in {@code src/test/resources/savepoints}) restores into today's code,
 * and the features that follow are those the reference computes over the whole stream. Fails when a
 * change alters how entity state is encoded.
 *
 * <p>The snapshot was written with {@code -Dsavepoints.write=true} before the code was
 * restructured; it is a Java serialization of Flink's {@link OperatorSubtaskState}, so a new Flink
 * version may need it written again.
 */
class SavepointCompatibilityTest {
    private static final String RESOURCE = "/savepoints/features-0.1.0.snapshot";
    private static final KeySelector<ValidatedEvent, String> ENTITY = v -> v.entityId;
    private static final int EVENTS = 2_000;
    private static final int SNAPSHOT_AT = 1_200;

    private static FeatureSpec spec() throws Exception {
        return FeatureSpecParser.parse(
                """
                name: savepoint
                version: 1
                eventTime:
                  maxOutOfOrderness: 120s
                  lateEvents: count
                  entityTtl: 1d
                features:
                  - {name: lifetime, kind: count}
                  - {name: sliding, kind: sum, field: amount, window: 1h, slide: 5m}
                  - {name: mean, kind: mean, field: x, window: 10m, default: -7}
                  - {name: spread, kind: stddev, field: amount}
                  - {name: distinct, kind: distinct-count, field: c, window: 1h, slide: 10m}
                  - {name: previous, kind: last, field: x, default: 0}
                  - {name: since, kind: time-since-previous, default: -1}
                  - {name: ewma, kind: decayed-mean, field: amount, halfLife: 10m}
                  - {name: tier, kind: numeric, source: profile, field: tier, default: -1}
                """,
                "savepoint.yaml");
    }

    private static List<InputEvent> events() {
        return FeatureTestEvents.stream(20261206L, 5, EVENTS, 120_000);
    }

    @Test
    @EnabledIfSystemProperty(named = "savepoints.write", matches = "true")
    void writeTheSnapshot() throws Exception {
        FeatureSpec spec = spec();
        List<InputEvent> events = events();
        Map<String, EntityProfile> profiles = FeatureTestEvents.profiles(5);
        try (var h = harness(spec, null)) {
            for (int i = 0; i < SNAPSHOT_AT; i++) {
                process(h, spec, events, profiles, i);
            }
            OperatorSubtaskState snapshot = h.snapshot(1, SNAPSHOT_AT);
            Path file = Path.of("src/test/resources" + RESOURCE);
            try (var out = new ObjectOutputStream(Files.newOutputStream(file))) {
                out.writeObject(snapshot);
            }
        }
    }

    @Test
    void stateOfTheLastReleaseRestoresAndItsFeaturesGoOn() throws Exception {
        OperatorSubtaskState snapshot;
        try (InputStream in = SavepointCompatibilityTest.class.getResourceAsStream(RESOURCE)) {
            assertThat(in).as("the stored snapshot %s", RESOURCE).isNotNull();
            snapshot = (OperatorSubtaskState) new ObjectInputStream(in).readObject();
        }
        FeatureSpec spec = spec();
        List<InputEvent> events = events();
        Map<String, EntityProfile> profiles = FeatureTestEvents.profiles(5);
        Map<String, double[]> expected = ReferenceFeatures.compute(spec, events, profiles);
        Map<String, double[]> actual = new HashMap<>();
        try (var h = harness(spec, snapshot)) {
            for (int i = SNAPSHOT_AT; i < EVENTS; i++) {
                process(h, spec, events, profiles, i);
            }
            for (EnrichedEvent e : h.extractOutputValues()) {
                double[] v = new double[e.getFeatures().size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = e.getFeatures().get(i);
                }
                actual.put(e.getEvent().getEventId(), v);
            }
        }
        assertThat(actual).hasSize(EVENTS - SNAPSHOT_AT);
        for (int i = SNAPSHOT_AT; i < EVENTS; i++) {
            String id = events.get(i).getEventId();
            FeatureEnrichmentFunctionTest.assertVector(spec, id, actual.get(id), expected.get(id));
        }
    }

    private static void process(
            KeyedOneInputStreamOperatorTestHarness<String, ValidatedEvent, EnrichedEvent> h,
            FeatureSpec spec,
            List<InputEvent> events,
            Map<String, EntityProfile> profiles,
            int i)
            throws Exception {
        InputEvent e = events.get(i);
        h.processElement(
                FeatureTestEvents.validated(
                        e, spec.eventFields(), i, profiles.get(e.getEntityId())),
                e.getEventTime());
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, ValidatedEvent, EnrichedEvent>
            harness(FeatureSpec spec, OperatorSubtaskState restore) throws Exception {
        var h =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new FeatureEnrichmentFunction(spec)),
                        ENTITY,
                        Types.STRING);
        h.setup();
        if (restore != null) {
            h.initializeState(restore);
        }
        h.open();
        return h;
    }
}
