package org.streaminference.bench;

import org.streaminference.schemas.ClassScore;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.sinks.KeyedAvroSerializationSchema;

import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * What writing one prediction to its topic costs on the task thread: Avro's generic writer (how the
 * result topics' sinks encoded until 2026-12-07) against the encoder Avro generated for the record
 * ({@code customEncode}), which the sinks use now. One thread, no Flink; both warmed up the same
 * way, then measured in alternating rounds, reported with min, median and max.
 */
@Command(
        name = "prediction-encoding-benchmark",
        mixinStandardHelpOptions = true,
        description = "CPU per prediction of Avro's writer against the generated encoder.")
final class PredictionEncodingBenchmark implements Callable<Integer> {
    @Mixin AlternatingRounds rounds;

    public static void main(String[] args) {
        System.exit(new CommandLine(new PredictionEncodingBenchmark()).execute(args));
    }

    /**
     * A prediction as the Crayfish FFNN run writes it (ten class probabilities, the source
     * position), and one of a top-3 classifier with a label and a trace.
     */
    private static List<Prediction> predictions() {
        List<Double> probabilities = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            probabilities.add(i / 45.0);
        }
        Prediction crayfish =
                Prediction.newBuilder()
                        .setEventId("image-000123456")
                        .setEntityId("entity-00042")
                        .setModelName("crayfish-ffnn")
                        .setModelVersion("1")
                        .setScore(0.2)
                        .setPredictedClass(9)
                        .setProbabilities(probabilities)
                        .setEventTime(1_765_000_000_000L)
                        .setInferenceTime(1_765_000_000_004L)
                        .setSource(new SourcePosition("images", 1, 123_456L, null, null))
                        .build();
        Prediction topK =
                Prediction.newBuilder(crayfish)
                        .setPredictedLabel("nine")
                        .setTopClasses(
                                List.of(
                                        new ClassScore(9, "nine", 0.2),
                                        new ClassScore(8, "eight", 0.18),
                                        new ClassScore(7, "seven", 0.16)))
                        .setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                        .build();
        return List.of(crayfish, topK);
    }

    @Override
    public Integer call() throws Exception {
        SpecificData model = SpecificData.getForClass(Prediction.class);
        BinaryMessageEncoder<Prediction> avrosWriter =
                new BinaryMessageEncoder<>(model, Prediction.getClassSchema());
        BinaryMessageEncoder<Prediction> generated =
                KeyedAvroSerializationSchema.encoderOf(Prediction.class);
        StringBuilder md =
                new StringBuilder(
                                "# Writing a prediction: Avro's writer vs the generated encoder\n\n")
                        .append(rounds.method())
                        .append(" µs per prediction (single-object encoding, as on the topic).")
                        .append(" Command: `bench/run.sh encoding`.\n\n")
                        .append(
                                "| prediction | Avro's writer: min / median / max | generated encoder:"
                                        + " min / median / max | generated / Avro's, per round: min /"
                                        + " median / max |\n|---|---|---|---|\n");
        String[] names = {"Crayfish FFNN (10 probabilities)", "top-3 classes, label, trace"};
        List<Prediction> predictions = predictions();
        for (int k = 0; k < predictions.size(); k++) {
            Prediction p = predictions.get(k);
            if (!generated.encode(p).equals(avrosWriter.encode(p))) {
                throw new IllegalStateException("the two encoders wrote different bytes");
            }
            AlternatingRounds.Result r =
                    rounds.measure(() -> avrosWriter.encode(p), () -> generated.encode(p));
            String line =
                    String.format(
                            "| %s, %d bytes | %s | %s | %s |%n",
                            names[k],
                            generated.encode(p).remaining(),
                            Spread.of(r.a()).format("%.2f"),
                            Spread.of(r.b()).format("%.2f"),
                            Spread.ofRatios(r.b(), r.a()).format("%.2f"));
            System.out.print(line);
            md.append(line);
        }
        rounds.write("encoding", md.toString());
        return 0;
    }
}
