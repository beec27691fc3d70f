package org.streaminference.jobs.cli;

import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.streaminference.jobs.PipelineOptions;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.ReasonCode;
import org.streaminference.schemas.SourcePosition;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
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
 * {@code models replay}: after a fix (a schema version added, a model published), sends the original records of
 * the dead letters it selects back to the events topic, where the job answers them like any other record. A record
 * is sent once however many dead letters it has (one per model it reached); one whose original was cut at 64 KiB is
 * refused (it names the source record to replay from instead). Records are sent in the order of their source
 * partitions, so an entity's events keep their order, and each carries the header {@value #REPLAY_HEADER} naming its
 * source record.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Send the original records of selected dead letters back to the events topic, after a fix;"
                + " each is answered again like any other record.")
final class ReplayCommand implements Callable<Integer> {
    /** The header of a replayed record: the topic/partition/offset of the record it replays. */
    static final String REPLAY_HEADER = "streaminference-replay-of";

    @CommandLine.Mixin
    JobTopics topics;

    @Option(names = "--reason", required = true, split = ",", description = "Replay dead letters of these reasons"
            + " (e.g. UNKNOWN_SCHEMA,UNKNOWN_MODEL).")
    Set<ReasonCode> reasons;

    @Option(names = "--from", description = "Only dead letters written at or after this instant (ISO-8601).")
    Instant from;

    @Option(names = "--to", description = "Only dead letters written before this instant (ISO-8601).")
    Instant to;

    @Option(names = "--model", description = "Only dead letters of this model or ensemble.")
    String model;

    @Option(names = "--dry-run", description = "Print what would be sent; send nothing.")
    boolean dryRun;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** A source record to send again, and what it was refused for. */
    record Selected(SourcePosition source, byte[] original, String entityId, ReasonCode reason) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Configuration config = topics.config();
        String bootstrap = topics.bootstrapServers(config);
        String deadLetters = config.get(PipelineOptions.DEAD_LETTERS_TOPIC);
        String events = config.get(PipelineOptions.EVENTS_TOPIC);

        Map<String, Selected> selected = new LinkedHashMap<>(); // by source record: sent once
        List<String> cut = new ArrayList<>();
        Map<ReasonCode, Long> byReason = new EnumMap<>(ReasonCode.class);
        long read = 0;
        long unreadable = 0;
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        CommittedRecords.forEach(bootstrap, deadLetters, records::add);
        for (ConsumerRecord<byte[], byte[]> record : records) {
            read++;
            DeadLetter d;
            try {
                d = DeadLetter.fromByteBuffer(ByteBuffer.wrap(record.value()));
            } catch (Exception e) {
                unreadable++;
                continue;
            }
            if (!matches(d)) {
                continue;
            }
            SourcePosition s = d.getSource();
            String at = s.getTopic() + "/" + s.getPartition() + "/" + s.getOffset();
            byte[] original = bytes(d.getOriginalBytes());
            if (!whole(d, original)) {
                cut.add(at + " (" + d.getOriginalSize() + " bytes, kept " + original.length + ")");
                continue;
            }
            if (selected.putIfAbsent(at, new Selected(s, original, d.getEntityId(), d.getReasonCode())) == null) {
                byReason.merge(d.getReasonCode(), 1L, Long::sum);
            }
        }
        out.printf("%,d dead letters read from '%s'%s; %,d records selected %s%s%n", read, deadLetters,
                unreadable == 0 ? "" : " (" + unreadable + " not dead letters, skipped)", selected.size(), byReason,
                cut.isEmpty() ? "" : "; " + cut.size() + " refused: their original was cut at 64 KiB, replay them"
                        + " from their source record: " + String.join(", ", cut.subList(0, Math.min(5, cut.size())))
                        + (cut.size() > 5 ? ", …" : ""));
        List<Selected> inOrder = new ArrayList<>(selected.values()); // each source partition's records in order
        inOrder.sort(java.util.Comparator.comparing((Selected s) -> s.source().getTopic())
                .thenComparingInt(s -> s.source().getPartition()).thenComparingLong(s -> s.source().getOffset()));
        if (dryRun || selected.isEmpty()) {
            out.printf("%s%n", dryRun ? "Dry run: nothing sent." : "Nothing to send.");
            return cut.isEmpty() ? 0 : 2;
        }
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1 << 20),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            List<Future<?>> acks = new ArrayList<>();
            for (Selected s : inOrder) {
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(events,
                        s.entityId() == null ? null : s.entityId().getBytes(StandardCharsets.UTF_8), s.original());
                record.headers().add(REPLAY_HEADER, (s.source().getTopic() + "/" + s.source().getPartition() + "/"
                        + s.source().getOffset()).getBytes(StandardCharsets.UTF_8));
                acks.add(producer.send(record));
            }
            for (Future<?> ack : acks) {
                ack.get(60, TimeUnit.SECONDS);
            }
        }
        out.printf("Sent %,d records to '%s', each with the header %s naming the record it replays. The job answers"
                + " each like any other record (a prediction, or a dead letter); the dead letters replayed stay on"
                + " '%s'.%n", selected.size(), events, REPLAY_HEADER, deadLetters);
        return cut.isEmpty() ? 0 : 2;
    }

    private boolean matches(DeadLetter d) {
        return reasons.contains(d.getReasonCode())
                && (from == null || d.getTime() >= from.toEpochMilli())
                && (to == null || d.getTime() < to.toEpochMilli())
                && (model == null || model.equals(d.getModel()));
    }

    /** Whether {@code original} is the whole value: its sha256 is the one recorded, or its size where none is. */
    private static boolean whole(DeadLetter d, byte[] original) throws Exception {
        if (d.getOriginalSha256() != null) {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(original))
                    .equals(d.getOriginalSha256());
        }
        return d.getOriginalSize() == original.length;
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
