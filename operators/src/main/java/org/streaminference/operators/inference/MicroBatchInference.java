package org.streaminference.operators.inference;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.streaminference.operators.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;

import java.util.Objects;

/**
 * The micro-batched inference operator: adds async, batched ONNX inference to a stream of enriched events. Results
 * are the predictions; dead letters are on the side output {@link DeadLetters#TAG} of the returned stream.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<Prediction> predictions = MicroBatchInference.builder()
 *         .modelProvider(new SharedModelProvider(modelUri, loaderOptions))
 *         .batching(BatchingOptions.defaults())
 *         .build()
 *         .apply(enriched, "inference");
 * }</pre>
 */
@PublicEvolving
public final class MicroBatchInference {
    private final ModelProvider modelProvider;
    private final BatchingOptions batching;

    private MicroBatchInference(ModelProvider modelProvider, BatchingOptions batching) {
        this.modelProvider = modelProvider;
        this.batching = batching;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Adds the operator with uid {@code uid}. */
    public SingleOutputStreamOperator<Prediction> apply(DataStream<EnrichedEvent> input, String uid) {
        return input.transform(uid, new AvroTypeInfo<>(Prediction.class),
                        new MicroBatchInferenceOperatorFactory(modelProvider, batching))
                .uid(uid);
    }

    /** Builds a {@link MicroBatchInference}. */
    public static final class Builder {
        private ModelProvider modelProvider;
        private BatchingOptions batching = BatchingOptions.defaults();

        public Builder modelProvider(ModelProvider modelProvider) {
            this.modelProvider = modelProvider;
            return this;
        }

        public Builder batching(BatchingOptions batching) {
            this.batching = batching;
            return this;
        }

        public MicroBatchInference build() {
            return new MicroBatchInference(Objects.requireNonNull(modelProvider, "modelProvider"), batching);
        }
    }
}
