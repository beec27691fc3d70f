package org.streaminference.operators.inference.answers;

import org.streaminference.model.AnswerContract;
import org.streaminference.operators.inference.routing.EnsembleCombiner;
import org.streaminference.schemas.DeadLetter;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Prediction;
import org.streaminference.schemas.ReasonCode;

import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.List;

/**
 * An event's answer from an ensemble: done once every member has answered; then, on the task
 * thread, the members' predictions combined ({@link EnsembleCombiner}), or a dead letter naming the
 * first member that failed.
 */
@Internal
public final class EnsembleRequest extends PendingAnswer {
    /** One request per member, each on the member's own version and batcher, in member order. */
    final List<InferenceRequest> members;

    /**
     * The members' requests this ensemble submitted; the others are the requests of the event's
     * direct answers from the same models, shared so that a model runs once per event (their direct
     * answers count them out).
     */
    public final List<InferenceRequest> own;

    private final double[] weights;
    private Object answer;

    public EnsembleRequest(
            EnrichedEvent event,
            long timestamp,
            String ensemble,
            List<InferenceRequest> members,
            List<InferenceRequest> own,
            double[] weights) {
        super(event, timestamp, ensemble);
        this.members = members;
        this.own = own;
        this.weights = weights;
    }

    @Override
    public boolean isDone() {
        for (InferenceRequest member : members) {
            if (!member.isDone()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public Prediction prediction() {
        return answer() instanceof Prediction p ? p : null;
    }

    @Override
    public DeadLetter deadLetter() {
        return answer() instanceof DeadLetter d ? d : null;
    }

    private Object answer() {
        if (answer == null && isDone()) {
            answer = combine();
        }
        return answer;
    }

    private Object combine() {
        List<Prediction> predictions = new ArrayList<>(members.size());
        List<AnswerContract> contracts = new ArrayList<>(members.size());
        for (InferenceRequest member : members) {
            contracts.add(member.version.model.answerContract());
            DeadLetter failed = member.deadLetter();
            if (failed != null) {
                // the member's message is printable already; names are safe: only the length needs
                // a bound
                String message =
                        "ensemble '"
                                + target
                                + "': member "
                                + member.target
                                + ":"
                                + member.version.version
                                + " failed: "
                                + failed.getMessage();
                return DeadLetter.newBuilder(failed)
                        .setMessage(
                                message.substring(
                                        0,
                                        Math.min(message.length(), DeadLetters.MAX_MESSAGE_CHARS)))
                        .build();
            }
            predictions.add(member.prediction());
        }
        try {
            return EnsembleCombiner.combine(target, predictions, weights, contracts);
        } catch (IllegalArgumentException e) {
            return DeadLetters.of(
                    event.getEvent(),
                    event.getSource(),
                    ReasonCode.MODEL_ERROR,
                    "ensemble '" + target + "': " + e.getMessage());
        }
    }
}
