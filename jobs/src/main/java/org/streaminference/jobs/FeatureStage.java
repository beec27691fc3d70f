package org.streaminference.jobs;

import org.streaminference.features.ControlledFeatureEnrichmentFunction;
import org.streaminference.features.FeatureEnrichmentFunction;
import org.streaminference.features.ProfileJoinFunction;
import org.streaminference.features.ProfileUpdate;
import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.ValidatedEvent;

import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.KafkaSourceOptions;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamUtils;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

import java.util.regex.Pattern;

/**
 * The job's feature stage for a feature spec: the entity's profile joined from the reference-data
 * topic where the spec reads one, then {@link FeatureEnrichmentFunction} in keyed state; event time
 * comes with the events from their source ({@link EventTime}), and the profiles and commands never
 * move it. Both keyed steps share one partitioning, so the join adds no network shuffle.
 */
final class FeatureStage {
    private static final KeySelector<ValidatedEvent, String> ENTITY = v -> v.entityId;

    private FeatureStage() {}

    /**
     * @param joinProfiles whether to join the reference-data topic's profiles (the spec reads them)
     * @param commands the control topic's commands, broadcast to every subtask and passed on in its
     *     stream; or null where the job has none
     */
    static SingleOutputStreamOperator<EnrichedEvent> apply(
            DataStream<ValidatedEvent> valid,
            FeatureSpec spec,
            ReadableConfig options,
            boolean joinProfiles,
            DataStream<ControlMessage> commands) {
        // the events carry their time and watermarks from the source (EventTime)
        KeyedStream<ValidatedEvent, String> keyed = valid.keyBy(ENTITY);
        if (joinProfiles) {
            DataStream<ProfileUpdate> profiles =
                    valid.getExecutionEnvironment()
                            .fromSource(
                                    profileSource(
                                            options, PipelineSettings.bootstrapServers(options)),
                                    EventTime.sideInput(),
                                    "entity-profiles")
                            .uid("entity-profiles-source");
            SingleOutputStreamOperator<ValidatedEvent> joined =
                    keyed.connect(profiles.keyBy(ProfileUpdate::getEntityId))
                            .process(new ProfileJoinFunction())
                            .name("reference-data")
                            .uid("reference-data");
            keyed = DataStreamUtils.reinterpretAsKeyedStream(joined, ENTITY);
        }
        FeatureEnrichmentFunction features =
                new FeatureEnrichmentFunction(spec, PipelineSettings.tracing(options));
        if (commands == null) {
            return keyed.process(features).name("features").uid("features");
        }
        // a broadcast side with no broadcast state: the commands are only passed on, inference
        // keeps their state
        return keyed.connect(commands.broadcast(new MapStateDescriptor<?, ?>[0]))
                .process(new ControlledFeatureEnrichmentFunction(features))
                .name("features")
                .uid("features");
    }

    /**
     * The profile topic from its beginning (it is compacted: every entity's latest profile),
     * subscribed by pattern so the job starts while the topic does not exist yet.
     */
    private static KafkaSource<ProfileUpdate> profileSource(
            ReadableConfig options, String bootstrap) {
        KafkaSourceBuilder<ProfileUpdate> builder =
                KafkaSource.<ProfileUpdate>builder()
                        .setBootstrapServers(bootstrap)
                        .setTopicPattern(
                                Pattern.compile(
                                        Pattern.quote(
                                                options.get(
                                                        PipelineOptions.FEATURES_REFERENCE_TOPIC))))
                        .setGroupId(options.get(PipelineOptions.GROUP_ID) + "-reference-data")
                        .setStartingOffsets(OffsetsInitializer.earliest())
                        .setDeserializer(new ProfileRecordDeserializer());
        if (options.get(PipelineOptions.SOURCE_BOUNDED)) {
            builder.setBounded(
                    OffsetsInitializer
                            .latest()); // a bounded job reads the profiles there are at its start
        } else {
            builder.setProperty(
                    KafkaSourceOptions.PARTITION_DISCOVERY_INTERVAL_MS.key(),
                    "10000"); // notices the topic once it exists
        }
        return builder.build();
    }
}
