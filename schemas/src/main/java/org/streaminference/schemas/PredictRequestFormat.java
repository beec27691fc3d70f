package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

/**
 * What a predict request's value is, whatever format the job's events come in: a JSON object with
 * {@value #REQUEST_ID}, {@value #ENTITY_ID}, {@value #EVENT_TIME} (epoch milliseconds) and {@value
 * #EVENT_TYPE} beside the event's own fields, at the paths the feature spec names them by; its
 * {@link PredictRequestHeaders} say what is asked. The gateway writes it; the job decodes and
 * validates it as it does its JSON events.
 */
@PublicEvolving
public final class PredictRequestFormat {
    public static final String REQUEST_ID = "request_id";
    public static final String ENTITY_ID = "entity_id";
    public static final String EVENT_TIME = "event_time";
    public static final String EVENT_TYPE = "event_type";

    private PredictRequestFormat() {}
}
