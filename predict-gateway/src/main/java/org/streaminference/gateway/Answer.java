package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.PredictReply;
import org.streaminference.schemas.Prediction;

import org.apache.flink.annotation.Internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The job's answer to one request, with where its time went: in Kafka (request topic to the job's
 * source, the job's sink to this instance's consumer), in the job (read to answer) and in the
 * gateway (the rest). Times are the wall clocks of the gateway and the job, in milliseconds.
 *
 * @param receivedNanos when the gateway took the request ({@link System#nanoTime()})
 * @param sentMillis when the gateway sent it (epoch milliseconds)
 * @param repliedMillis when the gateway read the answer (epoch milliseconds)
 * @param answeredNanos when the gateway read the answer ({@link System#nanoTime()})
 */
@Internal
public record Answer(
        PredictCall call,
        PredictReply reply,
        long receivedNanos,
        long sentMillis,
        long repliedMillis,
        long answeredNanos) {

    public boolean ok() {
        return reply.getPrediction() != null;
    }

    public Prediction prediction() {
        return reply.getPrediction();
    }

    public DeadLetter deadLetter() {
        return reply.getDeadLetter();
    }

    /** Request received to answer read, as the gateway measured it. */
    public double totalMs() {
        return (answeredNanos - receivedNanos) / 1e6;
    }

    public double jobMs() {
        return Math.max(0, reply.getAnswerTime() - reply.getReadTime());
    }

    public double kafkaMs() {
        return requestLegMs() + replyLegMs();
    }

    /** From the gateway's send to the job's read: the producer, the broker, the job's source. */
    public double requestLegMs() {
        return Math.max(0, reply.getReadTime() - sentMillis);
    }

    /** From the job's answer to the gateway's read: the job's sink, the broker, the consumer. */
    public double replyLegMs() {
        return Math.max(0, repliedMillis - reply.getAnswerTime());
    }

    public double gatewayMs() {
        return Math.max(0, totalMs() - jobMs() - kafkaMs());
    }

    /**
     * Why the job refused the request, as the HTTP status a client expects: 404 for a model it does
     * not serve, 400 for an event it would not take (naming the field, as its dead letter does),
     * 500 for a model that failed on it.
     */
    ApiError refusal() {
        DeadLetter letter = reply.getDeadLetter();
        String reason = letter.getReasonCode().name();
        return switch (letter.getReasonCode()) {
            case UNKNOWN_MODEL -> new ApiError(404, "model_not_found", letter.getMessage());
            case MODEL_ERROR, NON_FINITE_OUTPUT, TIMEOUT, OTHER, STORE_REJECTED ->
                    new ApiError(500, "model_error", reason + ": " + letter.getMessage());
            default ->
                    new ApiError(
                            400,
                            "invalid_" + reason.toLowerCase(),
                            reason + ": " + letter.getMessage());
        };
    }

    /** The answer's JSON body. */
    Map<String, Object> toJson() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("request_id", call.requestId());
        body.put("model", call.model());
        Prediction p = reply.getPrediction();
        if (p != null) {
            body.put("version", p.getModelVersion());
            Map<String, Object> prediction = new LinkedHashMap<>();
            if (p.getPredictedClass() != null) {
                prediction.put("class", p.getPredictedClass());
            }
            if (p.getPredictedLabel() != null) {
                prediction.put("label", p.getPredictedLabel());
            }
            prediction.put("score", p.getScore());
            if (call.returnProbabilities() && !p.getProbabilities().isEmpty()) {
                prediction.put("probabilities", p.getProbabilities());
            }
            body.put("prediction", prediction);
        } else {
            ApiError refusal = refusal();
            body.put("error", Map.of("code", refusal.code, "message", refusal.getMessage()));
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("entity_id", call.entityId());
        metadata.put("mode", call.readOnly() ? "read" : "update");
        if (p != null) {
            metadata.put("event_time", p.getEventTime());
        }
        metadata.put("total_ms", round(totalMs()));
        metadata.put("job_ms", round(jobMs()));
        metadata.put("kafka_ms", round(kafkaMs()));
        metadata.put("request_leg_ms", round(requestLegMs()));
        metadata.put("reply_leg_ms", round(replyLegMs()));
        metadata.put("gateway_ms", round(gatewayMs()));
        body.put("metadata", metadata);
        return body;
    }

    private static double round(double ms) {
        return Math.round(ms * 1000) / 1000.0;
    }
}
