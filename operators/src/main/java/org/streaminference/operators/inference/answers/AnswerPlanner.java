package org.streaminference.operators.inference.answers;

import org.streaminference.model.control.ServingPlans;
import org.streaminference.operators.inference.control.ModelController;
import org.streaminference.operators.inference.control.ServedModels;
import org.streaminference.operators.inference.control.ServedVersion;
import org.streaminference.operators.inference.control.ServedVersions;
import org.streaminference.operators.inference.queue.InferenceQueue;
import org.streaminference.schemas.DeadLetters;
import org.streaminference.schemas.EnrichedEvent;
import org.streaminference.schemas.Ensemble;
import org.streaminference.schemas.EnsembleMember;
import org.streaminference.schemas.PredictRequest;
import org.streaminference.schemas.ReasonCode;

import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an event into the answers it owes: one per target the serving plan's routes give it (a
 * model, through the version its canary split picks for the entity, or an ensemble, through one
 * request per member), each request handed to its version's batcher; an event no route matches, or
 * a target without a version, owes an UNKNOWN_MODEL dead letter. A model the event reaches directly
 * and as an ensemble's member runs once. Task thread only.
 */
@Internal
public final class AnswerPlanner {
    private final ServedModels models;

    /** Where the shadow version's requests wait: answered as they finish, never held back. */
    private final InferenceQueue<InferenceRequest> shadows;

    /**
     * Answers that are UNKNOWN_MODEL dead letters: no route matched, or the target had no version.
     */
    private final Counter unknownModel;

    public AnswerPlanner(
            ServedModels models, InferenceQueue<InferenceRequest> shadows, Counter unknownModel) {
        this.models = models;
        this.shadows = shadows;
        this.unknownModel = unknownModel;
    }

    /** The answers the event owes, in the order of its route's targets. */
    public List<PendingAnswer> answers(EnrichedEvent event, long timestamp) {
        PredictRequest request = event.getSource().getRequest();
        if (request != null) {
            // a predict request names the one model or ensemble that answers it
            String target = request.getModel();
            if (models.routes().ensemble(target) == null && models.model(target) == null) {
                return List.of(
                        unavailable(
                                event,
                                timestamp,
                                target,
                                "model '" + target + "' is not served by this job"));
            }
            return List.of(answer(event, timestamp, target));
        }
        List<String> targets = models.routes().targets(event.getEvent());
        if (targets == null) {
            unknownModel.inc();
            return List.of(
                    PendingAnswer.deadLetter(
                            event,
                            timestamp,
                            null,
                            DeadLetters.of(
                                    event.getEvent(),
                                    event.getSource(),
                                    ReasonCode.UNKNOWN_MODEL,
                                    "no route of the serving plan matches event type '"
                                            + event.getEvent().getEventType()
                                            + "'")));
        }
        // the models first: an ensemble of the same event reuses their requests, so each model runs
        // once per event
        Map<String, PendingAnswer> direct = new HashMap<>();
        for (String target : targets) {
            if (models.routes().ensemble(target) == null) {
                direct.put(target, modelAnswer(event, timestamp, target));
            }
        }
        List<PendingAnswer> answers = new ArrayList<>(targets.size());
        for (String target : targets) {
            PendingAnswer answer = direct.get(target);
            answers.add(
                    answer != null
                            ? answer
                            : ensembleAnswer(
                                    event, timestamp, models.routes().ensemble(target), direct));
        }
        return answers;
    }

    /**
     * The answer {@code target} owes the event (a restored one: no other answer shares its
     * requests).
     */
    public PendingAnswer answer(EnrichedEvent event, long timestamp, String target) {
        Ensemble ensemble = models.routes().ensemble(target);
        return ensemble != null
                ? ensembleAnswer(event, timestamp, ensemble, Map.of())
                : modelAnswer(event, timestamp, target);
    }

    private PendingAnswer modelAnswer(EnrichedEvent event, long timestamp, String model) {
        ModelController controller = models.model(model);
        ServedVersions versions = controller == null ? null : controller.versions();
        ServedVersion version =
                versions == null ? null : versions.route(event.getEvent().getEntityId());
        if (version == null) {
            return unavailable(
                    event,
                    timestamp,
                    model,
                    controller == null
                            ? "the serving plan no longer serves model '" + model + "'"
                            : "no version of model '" + model + "' is deployed yet");
        }
        InferenceRequest request = new InferenceRequest(event, timestamp, model, version);
        if (submit(request)) {
            // not request.isDone(): a batch cut by this record may already have answered it on an
            // inference thread
            ServedVersion shadow = versions.shadow();
            if (shadow != null) {
                InferenceRequest shadowRequest =
                        new InferenceRequest(event, timestamp, model, shadow);
                submit(shadowRequest);
                shadows.add(shadowRequest);
            }
        }
        return request;
    }

    /**
     * One request per member, each on the member's version for the entity (or its pinned version);
     * a member the event also goes to directly shares that request ({@code direct}, by model)
     * instead of running again.
     */
    private PendingAnswer ensembleAnswer(
            EnrichedEvent event,
            long timestamp,
            Ensemble ensemble,
            Map<String, PendingAnswer> direct) {
        List<EnsembleMember> members = ensemble.getMembers();
        ServedVersion[] versions = new ServedVersion[members.size()];
        double[] weights = new double[members.size()];
        for (int m = 0; m < versions.length; m++) {
            EnsembleMember member = members.get(m);
            ModelController controller = models.model(member.getModel());
            versions[m] =
                    controller == null
                            ? null
                            : member.getVersion() == null
                                    ? controller.versions().route(event.getEvent().getEntityId())
                                    : controller.versions().loaded(member.getVersion());
            if (versions[m] == null) {
                return unavailable(
                        event,
                        timestamp,
                        ensemble.getName(),
                        "ensemble '"
                                + ensemble.getName()
                                + "': its member "
                                + ServingPlans.memberName(member)
                                + " is not served");
            }
            weights[m] = member.getWeight();
        }
        List<InferenceRequest> requests = new ArrayList<>(versions.length);
        List<InferenceRequest> own = new ArrayList<>(versions.length);
        for (int m = 0; m < versions.length; m++) {
            if (direct.get(members.get(m).getModel()) instanceof InferenceRequest shared
                    && shared.version == versions[m]) {
                requests.add(shared);
                continue;
            }
            InferenceRequest request =
                    new InferenceRequest(event, timestamp, members.get(m).getModel(), versions[m]);
            submit(request);
            requests.add(request);
            own.add(request);
        }
        return new EnsembleRequest(event, timestamp, ensemble.getName(), requests, own, weights);
    }

    private PendingAnswer unavailable(
            EnrichedEvent event, long timestamp, String target, String message) {
        unknownModel.inc();
        return PendingAnswer.deadLetter(
                event,
                timestamp,
                target,
                DeadLetters.of(
                        event.getEvent(), event.getSource(), ReasonCode.UNKNOWN_MODEL, message));
    }

    /**
     * Hands a record to its version's batcher and returns true, or answers it at once and returns
     * false when the model cannot take it.
     */
    private static boolean submit(InferenceRequest request) {
        ServedVersion version = request.version;
        version.outstanding++;
        version.metrics.requests.inc();
        if (version.runner.rejectInvalid(request)) {
            return false;
        }
        version.batcher.add(request);
        return true;
    }
}
