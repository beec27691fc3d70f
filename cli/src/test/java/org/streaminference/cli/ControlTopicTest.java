package org.streaminference.cli;

import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelEvents;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.internals.AutoOffsetResetStrategy;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the CLI reads back from the model-events topic, which anyone with write access can fill:
 * records that are not model events are skipped and counted, a subtask is counted once, and two
 * different answers from one subtask are reported.
 */
class ControlTopicTest {
    private static final TopicPartition EVENTS = new TopicPartition("model-events", 0);

    private static ModelEvent answer(
            ModelCommand command, int subtask, ModelEventType type, String reason) {
        return new ModelEvent(
                type,
                "job",
                "j1",
                subtask,
                command.getModel(),
                null,
                command.getId(),
                ModelCommands.describe(command),
                reason,
                reason == null ? null : "refused",
                null,
                null,
                List.of(),
                System.currentTimeMillis());
    }

    private static String report(ModelCommand command, List<byte[]> records, int[] exit) {
        MockConsumer<byte[], byte[]> consumer =
                new MockConsumer<>(AutoOffsetResetStrategy.EARLIEST.name());
        consumer.assign(List.of(EVENTS));
        consumer.updateBeginningOffsets(Map.of(EVENTS, 0L));
        long offset = 0;
        for (byte[] value : records) {
            consumer.addRecord(new ConsumerRecord<>("model-events", 0, offset++, null, value));
        }
        StringWriter out = new StringWriter();
        exit[0] =
                new ControlTopic("localhost:1", "model-control", "model-events")
                        .report(
                                consumer,
                                command,
                                Duration.ofSeconds(3),
                                new PrintWriter(out, true));
        return out.toString();
    }

    @Test
    void recordsThatAreNotModelEventsAreSkippedAndAForgedSecondAnswerIsReported() {
        ModelCommand promote = ModelCommands.promote("churn");
        int[] exit = new int[1];
        String printed =
                report(
                        promote,
                        List.of(
                                "not json".getBytes(StandardCharsets.UTF_8),
                                "{\"type\":\"DEPLOYED\",\"type\":\"REJECTED\"}"
                                        .getBytes(StandardCharsets.UTF_8),
                                ModelEvents.toJson(
                                        answer(promote, 0, ModelEventType.DEPLOYED, null)),
                                ModelEvents.toJson(
                                        answer(promote, 1, ModelEventType.DEPLOYED, null)),
                                ModelEvents.toJson(
                                        answer(
                                                promote,
                                                1,
                                                ModelEventType.DEPLOYED,
                                                null)), // the same answer again
                                ModelEvents.toJson(
                                        answer(
                                                promote,
                                                0,
                                                ModelEventType.REJECTED,
                                                "INVALID_COMMAND"))),
                        exit);
        assertThat(printed)
                .contains("2 record(s) on model-events were not model events and were skipped")
                .contains("WARNING: [job subtask 0] answered twice, differently");
        assertThat(printed.lines().filter(l -> l.contains("subtask 1:"))).hasSize(1);
        assertThat(exit[0]).isZero();
    }
}
