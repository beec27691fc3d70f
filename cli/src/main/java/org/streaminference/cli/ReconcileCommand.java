package org.streaminference.cli;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.TopicOptions;

import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code reconcile}: checks that every event the job consumed got its answers, predictions or dead
 * letters, and none twice. Events consumed are counted up to the offsets the job committed for its
 * consumer group (it commits them when a checkpoint completes, with the output transactions);
 * answers are read as a downstream consumer sees them (read_committed) and matched to their events
 * by the source position they carry, so an event fanned out to several models counts once however
 * many answers it has.
 */
@Command(
        name = "reconcile",
        mixinStandardHelpOptions = true,
        description =
                "Check events in = events answered (by predictions or dead letters), and no answer twice, from"
                        + " the job's topics.")
final class ReconcileCommand implements Callable<Integer> {
    @CommandLine.Mixin JobTopics topics;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Configuration config = topics.config();
        String bootstrap = topics.bootstrapServers(config);
        String events = config.get(TopicOptions.EVENTS_TOPIC);
        String group = config.get(TopicOptions.GROUP_ID);

        long produced;
        long consumed;
        try (Admin admin =
                Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<TopicPartition> partitions =
                    admin
                            .describeTopics(List.of(events))
                            .allTopicNames()
                            .get(30, TimeUnit.SECONDS)
                            .get(events)
                            .partitions()
                            .stream()
                            .map(p -> new TopicPartition(events, p.partition()))
                            .toList();
            Map<TopicPartition, Long> earliest = offsets(admin, partitions, OffsetSpec.earliest());
            Map<TopicPartition, Long> latest = offsets(admin, partitions, OffsetSpec.latest());
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(group)
                            .partitionsToOffsetAndMetadata()
                            .get(30, TimeUnit.SECONDS);
            produced = partitions.stream().mapToLong(tp -> latest.get(tp) - earliest.get(tp)).sum();
            consumed =
                    partitions.stream()
                            .mapToLong(
                                    tp -> {
                                        OffsetAndMetadata c = committed.get(tp);
                                        return c == null ? 0 : c.offset() - earliest.get(tp);
                                    })
                            .sum();
        }
        AnsweredEvents answered = new AnsweredEvents();
        long predictions =
                count(bootstrap, config.get(TopicOptions.PREDICTIONS_TOPIC), null, answered);
        Map<ReasonCode, Long> reasons = new EnumMap<>(ReasonCode.class);
        long deadLetters =
                count(bootstrap, config.get(TopicOptions.DEAD_LETTERS_TOPIC), reasons, answered);

        long difference = consumed - answered.events();
        out.printf(
                "events on '%s': %,d; consumed by the job's group '%s' as of its last checkpoint: %,d%n",
                events, produced, group, consumed);
        out.printf(
                "events consumed %,d = events answered %,d (predictions %,d + dead letters %,d): %s%n",
                consumed,
                answered.events(),
                predictions,
                deadLetters,
                difference == 0
                        ? "balanced"
                        : "off by "
                                + difference
                                + (difference > 0
                                        ? " (outputs of a checkpoint completing right now, or lost)"
                                        : " (answers of events not consumed)"));
        out.printf("answers repeated for an event and model: %,d%n", answered.duplicates());
        out.printf("dead letters by reason: %s%n", reasons);
        return difference == 0 && answered.duplicates() == 0 ? 0 : 1;
    }

    private static Map<TopicPartition, Long> offsets(
            Admin admin, List<TopicPartition> partitions, OffsetSpec spec) throws Exception {
        ListOffsetsResult result =
                admin.listOffsets(
                        partitions.stream().collect(Collectors.toMap(tp -> tp, tp -> spec)));
        Map<TopicPartition, Long> offsets = new HashMap<>();
        for (TopicPartition tp : partitions) {
            offsets.put(tp, result.partitionResult(tp).get(30, TimeUnit.SECONDS).offset());
        }
        return offsets;
    }

    /**
     * Records committed to {@code topic} (transaction markers take offsets, so records are counted,
     * not offsets), each tallied in {@code answered} by its source; dead letters (where {@code
     * reasons} is given) by reason too.
     */
    private static long count(
            String bootstrap,
            String topic,
            Map<ReasonCode, Long> reasons,
            AnsweredEvents answered) {
        long[] n = new long[1];
        CommittedRecords.forEach(
                bootstrap,
                topic,
                r -> {
                    n[0]++;
                    try {
                        if (reasons != null) {
                            DeadLetter d = DeadLetter.fromByteBuffer(ByteBuffer.wrap(r.value()));
                            reasons.merge(d.getReasonCode(), 1L, Long::sum);
                            answered.add(d.getSource(), d.getModel());
                        } else {
                            Prediction p = Prediction.fromByteBuffer(ByteBuffer.wrap(r.value()));
                            answered.add(p.getSource(), p.getModelName());
                        }
                    } catch (Exception e) {
                        if (reasons != null) {
                            reasons.merge(ReasonCode.OTHER, 1L, Long::sum);
                        }
                        answered.add(
                                null, null); // not ours to read: counted as an event of its own
                    }
                });
        return n[0];
    }
}
