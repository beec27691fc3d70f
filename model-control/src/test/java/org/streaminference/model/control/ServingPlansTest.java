package org.streaminference.model.control;

import org.streaminference.schemas.ControlMessage;
import org.streaminference.schemas.ModelCommandType;
import org.streaminference.schemas.ServingPlan;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServingPlansTest {

    private static ServingPlan read(String json) throws InvalidCommandException {
        return ServingPlans.fromJson(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aPlanReadsWithTheSchemaDefaultsAndDescribesItself() throws Exception {
        ServingPlan plan =
                read(
                        """
                {"models": ["spare"],
                 "routes": [{"eventTypes": ["purchase"], "to": ["fraud", "risk"]},
                            {"field": "channel", "values": ["app", "web"], "to": ["churn"]}],
                 "ensembles": [{"name": "risk", "members": [{"model": "fraud", "weight": 3},
                                                            {"model": "churn", "version": "2"}]}]}""");
        assertThat(plan.getEnsembles().get(0).getMembers().get(1).getWeight())
                .as("weight by default")
                .isEqualTo(1.0);
        assertThat(plan.getRoutes().get(1).getEventTypes()).isEmpty();
        assertThat(ServingPlans.servedModels(plan)).containsExactly("spare", "fraud", "churn");
        assertThat(ServingPlans.describe(plan))
                .isEqualTo(
                        "purchase -> fraud, risk; * with channel in [app, web] ->"
                                + " churn; risk = 3*fraud + 1*churn:2; spare (no route)");
        assertThat(ServingPlans.fromJson(ServingPlans.toJson(plan))).isEqualTo(plan);
    }

    @Test
    void aPlanCommandOnTheControlTopicIsCheckedWhereItIsRead() {
        ControlMessage ok =
                ControlMessages.decode(
                        """
                {"command": "SET_PLAN", "plan": {"routes": [{"to": ["a"]}]}}"""
                                .getBytes(StandardCharsets.UTF_8),
                        4096);
        assertThat(ok.getCommand().getCommand()).isEqualTo(ModelCommandType.SET_PLAN);
        assertThat(ok.getCommand().getPlan().getEnsembles()).isEmpty();
        assertThat(ModelCommands.describe(ok.getCommand())).isEqualTo("SET_PLAN * -> a");

        assertThat(rejection("{\"command\": \"SET_PLAN\"}")).isEqualTo("SET_PLAN needs 'plan'");
        assertThat(rejection("{\"command\": \"SET_PLAN\", \"model\": \"a\", \"plan\": {}}"))
                .contains("SET_PLAN names no 'model'");
        assertThat(rejection("{\"command\": \"PROMOTE\"}")).isEqualTo("'model' is missing");
        assertThat(rejection("{\"command\": \"PROMOTE\", \"model\": \"a\", \"plan\": {}}"))
                .isEqualTo("PROMOTE takes no 'plan'");
    }

    @Test
    void aKeyGivenTwiceIsRefusedInCommandsAndPlans() {
        // one reader would take the first value, another the last: what was reviewed is not what is
        // served
        assertThat(
                        rejection(
                                "{\"command\": \"PROMOTE\", \"model\": \"fraud\", \"model\": \"churn\"}"))
                .contains("Duplicate field 'model'");
        assertThat(
                        rejection(
                                "{\"command\": \"SET_PLAN\", \"plan\": {\"routes\": [{\"to\": [\"a\"],"
                                        + " \"to\": [\"b\"]}]}}"))
                .contains("Duplicate field 'to'");
        assertThatThrownBy(() -> read("{\"routes\": [{\"to\": [\"a\"]}], \"routes\": []}"))
                .isInstanceOf(InvalidCommandException.class)
                .hasMessageContaining("Duplicate field 'routes'");
    }

    private static String rejection(String json) {
        return ControlMessages.decode(json.getBytes(StandardCharsets.UTF_8), 4096)
                .getRejection()
                .getMessage();
    }

    @Test
    void namesReferencesWeightsAndLimitsAreChecked() {
        assertThatThrownBy(() -> read("{\"routes\": [{\"to\": []}]}"))
                .hasMessageContaining("a route needs 'to'");
        assertThatThrownBy(() -> read("{\"routes\": [{\"to\": [\"a\", \"a\"]}]}"))
                .hasMessageContaining("names a target twice");
        assertThatThrownBy(() -> read("{\"routes\": [{\"to\": [\"../etc\"]}]}"))
                .hasMessageContaining("a route's target must be 1 to 64 of");
        assertThatThrownBy(() -> read("{\"routes\": [{\"field\": \"f\", \"to\": [\"a\"]}]}"))
                .hasMessageContaining("'field' and 'values' go together");
        assertThatThrownBy(() -> read("{\"ensembles\": [{\"name\": \"e\", \"members\": []}]}"))
                .hasMessageContaining("needs 1 to 16 members");
        assertThatThrownBy(
                        () ->
                                read(
                                        "{\"ensembles\": [{\"name\": \"e\", \"members\": [{\"model\": \"a\","
                                                + " \"weight\": -1}]}]}"))
                .hasMessageContaining("must be a finite number above 0, got -1.0");
        assertThatThrownBy(
                        () ->
                                read(
                                        "{\"ensembles\": [{\"name\": \"e\", \"members\": [{\"model\": \"f\"}]},"
                                                + " {\"name\": \"f\", \"members\": [{\"model\": \"a\"}]}]}"))
                .hasMessageContaining("members are models");
        assertThatThrownBy(
                        () ->
                                read(
                                        "{\"models\": [\"e\"], \"ensembles\": [{\"name\": \"e\", \"members\":"
                                                + " [{\"model\": \"a\"}]}]}"))
                .hasMessageContaining("'e' is both a model and an ensemble");
        StringBuilder many = new StringBuilder("{\"models\": [");
        for (int i = 0; i <= ServingPlans.MAX_MODELS; i++) {
            many.append(i == 0 ? "" : ",").append("\"m").append(i).append('"');
        }
        assertThatThrownBy(() -> read(many + "]}"))
                .hasMessageContaining("at most 32 models, the plan names 33");
        assertThatThrownBy(
                        () ->
                                read(
                                        "{\"routes\": [{\"eventType\": [\"purchase\"], \"to\": [\"a\"]}]}"))
                .hasMessage(
                        "unknown field 'eventType' in a route (its fields: eventTypes, field, values, to)");
        assertThatThrownBy(
                        () ->
                                read(
                                        "{\"ensembles\": [{\"name\": \"e\", \"members\": [{\"model\": \"a\","
                                                + " \"wieght\": 2}]}]}"))
                .hasMessageContaining("unknown field 'wieght' in an ensemble member");
        assertThatThrownBy(() -> read("{\"route\": []}"))
                .hasMessageContaining("unknown field 'route' in the plan");
        assertThatThrownBy(() -> read("[1]")).hasMessageContaining("a serving plan is an object");
        assertThatThrownBy(() -> read("{\"routes\": 7}"))
                .hasMessageContaining("not a serving plan");
    }
}
