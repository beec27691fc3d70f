package org.streaminference.cli;

import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;
import org.streaminference.schemas.TopicOptions;

import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * {@code models replay}: after a fix (a schema version added, a model published), sends the
 * original records of the dead letters it selects back to the events topic, where the job answers
 * them like any other record. A record is sent once however many dead letters it has (one per model
 * it reached); one whose original was cut at 64 KiB is refused (it names the source record to
 * replay from instead). Records are sent in the order of their source partitions, so an entity's
 * events keep their order, and each carries the header {@value #REPLAY_HEADER} naming its source
 * record.
 */
@Command(
        name = "replay",
        mixinStandardHelpOptions = true,
        description =
                "Send the original records of selected dead letters back to the events topic, after a fix;"
                        + " each is answered again like any other record.")
final class ReplayCommand implements Callable<Integer> {
    /** The header of a replayed record: the topic/partition/offset of the record it replays. */
    static final String REPLAY_HEADER = "streaminference-replay-of";

    @CommandLine.Mixin JobTopics topics;

    @Option(
            names = "--reason",
            required = true,
            split = ",",
            description =
                    "Replay dead letters of these reasons"
                            + " (e.g. UNKNOWN_SCHEMA,UNKNOWN_MODEL).")
    Set<ReasonCode> reasons;

    @Option(
            names = "--from",
            description = "Only dead letters written at or after this instant (ISO-8601).")
    Instant from;

    @Option(
            names = "--to",
            description = "Only dead letters written before this instant (ISO-8601).")
    Instant to;

    @Option(names = "--model", description = "Only dead letters of this model or ensemble.")
    String model;

    @Option(names = "--dry-run", description = "Print what would be sent; send nothing.")
    boolean dryRun;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /** A source record to send again. */
    record Selected(SourcePosition source, byte[] original, String entityId) {
        /** Where the record was read: topic/partition/offset. */
        String at() {
            return source.getTopic() + "/" + source.getPartition() + "/" + source.getOffset();
        }
    }

    /** The dead letters read so far, and the records they select: each source record once. */
    private final class Selection {
        final Map<String, Selected> selected = new LinkedHashMap<>();
        final List<String> cut = new ArrayList<>();
        final Map<ReasonCode, Long> byReason = new EnumMap<>(ReasonCode.class);
        long read;
        long unreadable;

        void consider(ConsumerRecord<byte[], byte[]> record) {
            read++;
            DeadLetter d;
            try {
                d = DeadLetter.fromByteBuffer(ByteBuffer.wrap(record.value()));
            } catch (Exception e) {
                unreadable++;
                return;
            }
            if (!matches(d)) {
                return;
            }
            Selected s = new Selected(d.getSource(), bytes(d.getOriginalBytes()), d.getEntityId());
            if (!whole(d, s.original())) {
                cut.add(
                        s.at()
                                + " ("
                                + d.getOriginalSize()
                                + " bytes, kept "
                                + s.original().length
                                + ")");
            } else if (selected.putIfAbsent(s.at(), s) == null) {
                byReason.merge(d.getReasonCode(), 1L, Long::sum);
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Configuration config = topics.config();
        String bootstrap = topics.bootstrapServers(config);
        String deadLetters = config.get(TopicOptions.DEAD_LETTERS_TOPIC);
        String events = config.get(TopicOptions.EVENTS_TOPIC);

        Selection selection = new Selection();
        CommittedRecords.forEach(bootstrap, deadLetters, selection::consider);
        Map<String, Selected> selected = selection.selected;
        List<String> cut = selection.cut;
        out.printf(
                "%,d dead letters read from '%s'%s; %,d records selected %s%s%n",
                selection.read,
                deadLetters,
                selection.unreadable == 0
                        ? ""
                        : " (" + selection.unreadable + " not dead letters, skipped)",
                selected.size(),
                selection.byReason,
                cut.isEmpty()
                        ? ""
                        : "; "
                                + cut.size()
                                + " refused: their original was cut at 64 KiB, replay them"
                                + " from their source record: "
                                + String.join(", ", cut.subList(0, Math.min(5, cut.size())))
                                + (cut.size() > 5 ? ", …" : ""));
        List<Selected> inOrder =
                new ArrayList<>(selected.values()); // each source partition's records in order
        inOrder.sort(
                Comparator.comparing((Selected s) -> s.source().getTopic())
                        .thenComparingInt(s -> s.source().getPartition())
                        .thenComparingLong(s -> s.source().getOffset()));
        if (dryRun || selected.isEmpty()) {
            out.printf("%s%n", dryRun ? "Dry run: nothing sent." : "Nothing to send.");
            return cut.isEmpty() ? 0 : 2;
        }
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                bootstrap,
                                ProducerConfig.ACKS_CONFIG,
                                "all",
                                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG,
                                true,
                                ProducerConfig.MAX_REQUEST_SIZE_CONFIG,
                                1 << 20),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            List<Future<?>> acks = new ArrayList<>();
            for (Selected s : inOrder) {
                ProducerRecord<byte[], byte[]> record =
                        new ProducerRecord<>(
                                events,
                                s.entityId() == null
                                        ? null
                                        : s.entityId().getBytes(StandardCharsets.UTF_8),
                                s.original());
                record.headers().add(REPLAY_HEADER, s.at().getBytes(StandardCharsets.UTF_8));
                acks.add(producer.send(record));
            }
            for (Future<?> ack : acks) {
                ack.get(60, TimeUnit.SECONDS);
            }
        }
        out.printf(
                "Sent %,d records to '%s', each with the header %s naming the record it replays. The job answers"
                        + " each like any other record (a prediction, or a dead letter); the dead letters replayed stay on"
                        + " '%s'.%n",
                selected.size(), events, REPLAY_HEADER, deadLetters);
        return cut.isEmpty() ? 0 : 2;
    }

    private boolean matches(DeadLetter d) {
        return reasons.contains(d.getReasonCode())
                && (from == null || d.getTime() >= from.toEpochMilli())
                && (to == null || d.getTime() < to.toEpochMilli())
                && (model == null || model.equals(d.getModel()));
    }

    /**
     * Whether {@code original} is the whole value: its sha256 is the one recorded, or its size
     * where none is.
     */
    private static boolean whole(DeadLetter d, byte[] original) {
        if (d.getOriginalSha256() != null) {
            try {
                return HexFormat.of()
                        .formatHex(MessageDigest.getInstance("SHA-256").digest(original))
                        .equals(d.getOriginalSha256());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JVM has SHA-256", e);
            }
        }
        return d.getOriginalSize() == original.length;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
