package org.streaminference.operators.inference.batching;

import org.streaminference.model.DemoModels;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.operators.inference.DemoVectors;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.InputEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;

import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class OnnxInferenceFunctionTest {

    @TempDir Path models;

    private static EnrichedEvent enriched(String id, List<Double> features) {
        return EnrichedEvent.newBuilder()
                .setEvent(
                        InputEvent.newBuilder()
                                .setEventId(id)
                                .setEntityId("u1")
                                .setEventTime(42L)
                                .setEventType("t")
                                .setNumericFields(Map.of("amount", 1.0))
                                .setCategoricalFields(Map.of())
                                .build())
                .setSource(new SourcePosition("events", 1, 7L, null, null))
                .setFeatures(features)
                .build();
    }

    @Test
    void predictsWhatOnnxRuntimePredictsAndDeadLettersBadVectors() throws Exception {
        Path v2 = DemoModels.write(models, 2);
        OnnxInferenceFunction function =
                new OnnxInferenceFunction(v2.toString(), ModelLoaderConfig.defaults());
        try (OneInputStreamOperatorTestHarness<EnrichedEvent, Prediction> harness =
                        ProcessFunctionTestHarnesses.forProcessFunction(function);
                LoadedModel direct =
                        new ModelLoader(ModelLoaderConfig.defaults()).load(v2.toString())) {
            harness.processElement(enriched("ok", DemoVectors.of(12f, 1f, 3f, 10f)), 5L);
            harness.processElement(enriched("nan", DemoVectors.of(12f, Float.NaN, 3f, 10f)), 6L);
            harness.processElement(enriched("short", List.of(12.0, 1.0)), 7L);

            List<Prediction> out = harness.extractOutputValues();
            assertThat(out).hasSize(1);
            Prediction p = out.get(0);
            float[] expected =
                    direct.run(FloatBuffer.wrap(DemoVectors.array(12f, 1f, 3f, 10f)), 1)[0];
            assertThat(p.getModelName()).isEqualTo(DemoModels.NAME);
            assertThat(p.getModelVersion()).isEqualTo("2");
            assertThat(p.getProbabilities().get(1)).isCloseTo(expected[1], within(1e-6));
            assertThat(p.getPredictedLabel())
                    .isEqualTo(DemoModels.LABELS.get(p.getPredictedClass()));
            assertThat(p.getEventTime()).isEqualTo(42L);

            List<DeadLetter> dead =
                    harness.getSideOutput(DeadLetters.TAG).stream().map(r -> r.getValue()).toList();
            assertThat(dead).extracting(DeadLetter::getEventId).containsExactly("nan", "short");
            assertThat(dead)
                    .extracting(DeadLetter::getReasonCode)
                    .containsExactly(ReasonCode.NON_FINITE_FEATURE, ReasonCode.INVALID_FIELD);
            assertThat(InputEvent.fromByteBuffer(dead.get(0).getOriginalBytes()).getEventId())
                    .isEqualTo("nan");
            assertThat(dead.get(0).getSource().getOffset()).isEqualTo(7L);
        }
    }
}
