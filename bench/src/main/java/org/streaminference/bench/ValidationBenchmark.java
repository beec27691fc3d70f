package org.streaminference.bench;

import org.streaminference.operators.validation.AvroEventDecoder;
import org.streaminference.operators.validation.EventFieldMapping;
import org.streaminference.operators.validation.EventLimits;
import org.streaminference.operators.validation.EventValidator;
import org.streaminference.operators.validation.JsonEventDecoder;
import org.streaminference.schemas.EventFields;
import org.streaminference.schemas.InputEvent;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * What bounding untrusted events costs: CPU per event of Avro's decoder alone against the job's
 * validation (the bounds walk over the bytes, then the same decode, then the field checks), for a
 * small event and a wide one (784 numeric map entries, the Crayfish image). One thread, no Flink;
 * each variant warmed up the same way, then measured in alternating rounds, reported with min,
 * median and max.
 */
@Command(
        name = "validation-benchmark",
        mixinStandardHelpOptions = true,
        description = "CPU per event of Avro decoding alone vs the job's bounded validation.")
final class ValidationBenchmark implements Callable<Integer> {
    @Mixin AlternatingRounds rounds;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ValidationBenchmark()).execute(args));
    }

    private static ByteBuffer event(int numericFields) throws Exception {
        Map<String, Double> numeric = new HashMap<>();
        numeric.put("amount", 25.0);
        for (int i = 1; i < numericFields; i++) {
            numeric.put("pixel_" + i, i / 784.0);
        }
        return InputEvent.newBuilder()
                .setEventId("bench-1")
                .setEntityId("entity-00042")
                .setEventTime(System.currentTimeMillis())
                .setEventType("purchase")
                .setNumericFields(numeric)
                .setCategoricalFields(Map.of("country", "DE", "channel", "web"))
                .build()
                .toByteBuffer();
    }

    @Override
    public Integer call() throws Exception {
        EventValidator validator = new EventValidator(EventFields.numeric(List.of("amount")));
        StringBuilder md =
                new StringBuilder("# Validation: Avro decode alone vs bounded validation\n\n")
                        .append(rounds.method())
                        .append(" µs per event.\n\n")
                        .append(
                                "| event | decode only: min / median / max | validate: min / median / max |"
                                        + " ratio per round: min / median / max |\n|---|---|---|---|\n");
        for (int fields : new int[] {2, 784}) {
            ByteBuffer value = event(fields);
            AlternatingRounds.Result r =
                    rounds.measure(
                            () -> InputEvent.getDecoder().decode(value.duplicate()),
                            () -> validator.validate(null, value.duplicate()));
            String line =
                    String.format(
                            "| %d numeric fields, %d bytes | %s | %s | %s |%n",
                            fields,
                            value.remaining(),
                            Spread.of(r.a()).format("%.2f"),
                            Spread.of(r.b()).format("%.2f"),
                            Spread.ofRatios(r.b(), r.a()).format("%.2f"));
            System.out.print(line);
            md.append(line);
        }
        md.append(
                        "\n## The same image event as the user's JSON and as the user's Avro\n\n"
                                + "The cluster benchmark's events (ids, time, 784 floats as"
                                + " `Float.toString` writes them; its 256 distinct images in turn)"
                                + " read by the job's decoder for each format: µs per event.\n\n")
                .append(
                        "| event | Avro: min / median / max | JSON: min / median / max |"
                                + " JSON / Avro per round: min / median / max |\n|---|---|---|---|\n");
        // the cluster benchmark's 256 distinct images in turn, not one: a branch predictor learns
        // one event's 784 numbers by heart, and then a parser's branches cost nothing here that
        // they cost on a stream
        ImageEvents images = new ImageEvents(784, 1_000);
        long now = System.currentTimeMillis();
        ByteBuffer[] avro = new ByteBuffer[ImageEvents.DISTINCT];
        ByteBuffer[] json = new ByteBuffer[ImageEvents.DISTINCT];
        for (int i = 0; i < ImageEvents.DISTINCT; i++) {
            avro[i] = ByteBuffer.wrap(images.avro(i, now));
            json[i] = ByteBuffer.wrap(images.json(i, now));
        }
        EventFields pixels = new EventFields(List.of(), List.of(), List.of("pixels"));
        EventFieldMapping mapping = new EventFieldMapping("id", "entity", "ts", null, pixels);
        EventValidator avroValidator =
                new EventValidator(
                        EventLimits.defaults(),
                        new AvroEventDecoder(
                                KafkaLoad.IMAGE_SCHEMA,
                                AvroEventDecoder.Encoding.SINGLE_OBJECT,
                                mapping));
        EventValidator jsonValidator =
                new EventValidator(EventLimits.defaults(), new JsonEventDecoder(mapping));
        for (int i = 0; i < ImageEvents.DISTINCT; i++) {
            if (avroValidator.validate(null, avro[i].duplicate()).reason() != null
                    || jsonValidator.validate(null, json[i].duplicate()).reason() != null) {
                throw new IllegalStateException("the benchmark's event " + i + " does not decode");
            }
        }
        int[] next = new int[2];
        AlternatingRounds.Result r =
                rounds.measure(
                        () -> avroValidator.validate(null, avro[next[0]++ & 255].duplicate()),
                        () -> jsonValidator.validate(null, json[next[1]++ & 255].duplicate()));
        String line =
                String.format(
                        "| 784 floats, 256 distinct: Avro %d bytes, JSON %d bytes | %s | %s | %s |%n",
                        avro[0].remaining(),
                        json[0].remaining(),
                        Spread.of(r.a()).format("%.2f"),
                        Spread.of(r.b()).format("%.2f"),
                        Spread.ofRatios(r.b(), r.a()).format("%.2f"));
        System.out.print(line);
        md.append(line);
        rounds.write("validation", md.toString());
        return 0;
    }
}
