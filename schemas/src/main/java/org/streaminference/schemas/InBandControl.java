package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;

import java.util.List;
import java.util.Map;

/**
 * The records that carry a model command from the features operator, whose broadcast side the
 * control stream is, to the inference operator chained after it: an {@link EnrichedEvent} whose
 * {@code control} is set and whose other fields are empty, so that inference has a single input.
 */
@Internal
public final class InBandControl {
    private InBandControl() {}

    /**
     * A record that is not an event: it carries {@code command} to inference, in order with the
     * events.
     */
    public static EnrichedEvent carrying(ControlMessage command) {
        return new EnrichedEvent(
                new InputEvent("", "", 0L, "", Map.of(), Map.of(), Map.of()),
                new SourcePosition("", -1, -1L, null, null),
                List.of(),
                List.of(),
                List.of(),
                List.of(),
                command);
    }
}
