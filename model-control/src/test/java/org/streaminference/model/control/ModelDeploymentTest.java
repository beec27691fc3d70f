package org.streaminference.model.control;

import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelCommandType;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The deployment's state machine: what each command does, and what it refuses. */
class ModelDeploymentTest {
    private static final ModelDeployment V1 =
            ModelDeployment.initial("churn", "1", "s3://models/churn/1");

    private static ModelDeployment apply(ModelDeployment d, ModelCommand... commands)
            throws Exception {
        for (ModelCommand c : commands) {
            d = d.apply(c);
        }
        return d;
    }

    @Test
    void publishActivatesAndKeepsThePreviousVersionForRollback() throws Exception {
        ModelDeployment d =
                apply(V1, ModelCommands.publish("churn", "2", "s3://models/churn/2", null, null));
        assertThat(d.active()).isEqualTo("2");
        assertThat(d.previous()).isEqualTo("1");
        assertThat(d.servedVersions()).containsExactly("2", "1");
        ModelDeployment back = d.apply(ModelCommands.rollback("churn"));
        assertThat(back.active()).isEqualTo("1");
        assertThat(back.previous()).isNull();
        assertThat(back.revision()).isEqualTo(2);
        assertThatThrownBy(() -> back.apply(ModelCommands.rollback("churn")))
                .hasMessageContaining("no previous version");
    }

    @Test
    void aRollbackNamingAVersionGoesBackOnlyToThePreviousOne() throws Exception {
        ModelDeployment d =
                apply(
                        V1,
                        ModelCommands.publish("churn", "2", "s3://models/churn/2", null, null),
                        ModelCommands.publish("churn", "3", "s3://models/churn/3", null, null));
        assertThatThrownBy(() -> d.apply(ModelCommands.rollback("churn", "1")))
                .hasMessageContaining("ROLLBACK names churn:1, but the previous version is 2");
        assertThat(d.apply(ModelCommands.rollback("churn", "2")).active()).isEqualTo("2");
    }

    @Test
    void canaryShadowPromoteAndRetire() throws Exception {
        ModelDeployment d =
                apply(
                        V1,
                        ModelCommands.publish(
                                "churn", "2", "s3://models/churn/2", ModelRole.CANARY, 10),
                        ModelCommands.publish(
                                "churn", "3", "s3://models/churn/3", ModelRole.SHADOW, null));
        assertThat(d.active()).isEqualTo("1");
        assertThat(d.canary()).isEqualTo("2");
        assertThat(d.canaryPercent()).isEqualTo(10);
        assertThat(d.shadow()).isEqualTo("3");
        assertThat(d.servedVersions()).containsExactlyInAnyOrder("1", "2", "3");

        ModelDeployment wider = d.apply(ModelCommands.setCanary("churn", "2", 50));
        assertThat(wider.canaryPercent()).isEqualTo(50);
        ModelDeployment promoted = wider.apply(ModelCommands.promote("churn"));
        assertThat(promoted.active()).isEqualTo("2");
        assertThat(promoted.previous()).isEqualTo("1");
        assertThat(promoted.canary()).isNull();
        ModelDeployment noShadow = promoted.apply(ModelCommands.setShadow("churn", null));
        assertThat(noShadow.shadow()).isNull();
        ModelDeployment retired = noShadow.apply(ModelCommands.retire("churn", "1"));
        assertThat(retired.previous()).isNull();
        assertThat(retired.locations()).containsOnlyKeys("2", "3");
        assertThatThrownBy(() -> retired.apply(ModelCommands.retire("churn", "2")))
                .hasMessageContaining("is active");
        assertThatThrownBy(() -> retired.apply(ModelCommands.promote("churn")))
                .hasMessageContaining("no canary");
        assertThatThrownBy(() -> retired.apply(ModelCommands.setCanary("churn", "1", 5)))
                .hasMessageContaining("not registered");
    }

    @Test
    void versionsAreImmutableAndRepublishingIsHarmless() throws Exception {
        ModelDeployment d =
                apply(V1, ModelCommands.publish("churn", "2", "s3://models/churn/2", null, null));
        assertThat(
                        d.apply(
                                        ModelCommands.publish(
                                                "churn", "2", "s3://models/churn/2", null, null))
                                .active())
                .isEqualTo("2");
        assertThatThrownBy(
                        () ->
                                d.apply(
                                        ModelCommands.publish(
                                                "churn", "2", "s3://elsewhere/2", null, null)))
                .isInstanceOf(InvalidCommandException.class)
                .hasMessageContaining("immutable");
    }

    @Test
    void theRegistryIsBoundedButVersionsWithARoleStay() throws Exception {
        ModelDeployment d = V1;
        for (int v = 2; v < 2 + 2 * ModelDeployment.MAX_REGISTERED; v++) {
            d =
                    d.apply(
                            ModelCommands.publish(
                                    "churn", "" + v, "s3://m/" + v, ModelRole.SHADOW, null));
        }
        assertThat(d.locations()).hasSize(ModelDeployment.MAX_REGISTERED).containsKey("1");
        assertThat(d.location(d.shadow())).isNotNull();
    }

    @Test
    void aBuiltDeploymentIsChecked() {
        ModelDeployment d =
                ModelDeployment.builder("churn", "2")
                        .previous("1")
                        .canary("3", 10)
                        .location("1", "s3://m/1")
                        .location("2", "s3://m/2")
                        .location("3", "s3://m/3")
                        .build();
        assertThat(d.servedVersions()).containsExactly("2", "1", "3");
        assertThatThrownBy(() -> ModelDeployment.builder("churn", "2").canary("3", 0).build())
                .hasMessageContaining("a canary takes a share");
        assertThatThrownBy(() -> ModelDeployment.builder("churn", "2").canary(null, 10).build())
                .hasMessageContaining("a canary takes a share");
        assertThatThrownBy(() -> ModelDeployment.builder("churn", "2").canary("3", 101).build())
                .hasMessageContaining("between 0 and 100");
        assertThatThrownBy(() -> ModelDeployment.builder("churn", null).build())
                .hasMessageContaining("active");
    }

    @Test
    void malformedCommandsSayWhatIsWrong() {
        assertThatThrownBy(() -> ModelCommands.fromJson("{".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(InvalidCommandException.class)
                .hasMessageStartingWith("not a model command");
        assertThatThrownBy(
                        () ->
                                ModelCommands.fromJson(
                                        "{\"command\":\"DELETE\",\"model\":\"m\"}".getBytes()))
                .isInstanceOf(InvalidCommandException.class);
        assertThatThrownBy(
                        () ->
                                ModelCommands.fromJson(
                                        "{\"command\":\"PUBLISH\",\"model\":\"m\",\"version\":\"1\"}"
                                                .getBytes()))
                .hasMessageContaining("needs 'location'");
        assertThatThrownBy(
                        () ->
                                ModelCommands.fromJson(
                                        ("{\"command\":\"SET_CANARY\",\"model\":\"m\",\"version\":\"1\","
                                                        + "\"percent\":101}")
                                                .getBytes()))
                .hasMessageContaining("between 0 and 100");
        assertThatThrownBy(() -> V1.apply(ModelCommands.rollback("other")))
                .hasMessageContaining("sent to 'churn'");
    }

    @Test
    void commandsAndDeploymentsRoundTripThroughJson() throws Exception {
        ModelCommand c = ModelCommands.publish("churn", "2", "s3://m/2", ModelRole.CANARY, 10);
        assertThat(ModelCommands.fromJson(ModelCommands.toJson(c))).isEqualTo(c);
        ModelDeployment d = V1.apply(c);
        assertThat(ModelDeployment.fromJson(d.toJson())).isEqualTo(d);

        ModelEvent event =
                ModelEvent.newBuilder()
                        .setType(ModelEventType.DEPLOYED)
                        .setJob("j")
                        .setJobId("0a")
                        .setSubtask(1)
                        .setModel("churn")
                        .setVersion("1")
                        .setCommandId(c.getId())
                        .setCommand(ModelCommands.describe(c))
                        .setDeployment(d.toState())
                        .setTime(7L)
                        .build();
        assertThat(ModelEvents.fromJson(ModelEvents.toJson(event))).isEqualTo(event);
    }

    @Test
    void theJsonFormIsThePlainOnePeopleWrite() throws Exception {
        ModelCommand written =
                ModelCommands.fromJson(
                        ("{\"command\":\"PUBLISH\",\"model\":\"churn\",\"version\":\"3\","
                                        + "\"location\":\"s3://models/churn/3\",\"role\":\"CANARY\",\"percent\":10,\"comment\":\"unknown"
                                        + " fields are ignored\",\"manifest\":{\"name\":\"churn\",\"version\":\"3\",\"sha256\":\""
                                        + "a".repeat(64)
                                        + "\",\"featureSpec\":\"x:1\"}}")
                                .getBytes(StandardCharsets.UTF_8));
        assertThat(written.getCommand()).isEqualTo(ModelCommandType.PUBLISH);
        assertThat(written.getRole()).isEqualTo(ModelRole.CANARY);
        assertThat(written.getPercent()).isEqualTo(10);
        assertThat(written.getManifest().getSha256()).isEqualTo("a".repeat(64));
        String json =
                new String(
                        ModelCommands.toJson(ModelCommands.promote("churn")),
                        StandardCharsets.UTF_8);
        assertThat(json)
                .startsWith("{\"command\":\"PROMOTE\",\"model\":\"churn\",")
                .doesNotContain("null")
                .doesNotContain("schema")
                .doesNotContain("{\"string\"");
        assertThatThrownBy(
                        () ->
                                ModelCommands.fromJson(
                                        ("{\"command\":\"PUBLISH\",\"model\":\"churn\","
                                                        + "\"version\":\"3\",\"location\":\"s3://m/3\",\"manifest\":{\"name\":\"churn\",\"version\":\"4\","
                                                        + "\"sha256\":\""
                                                        + "a".repeat(64)
                                                        + "\"}}")
                                                .getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("describes churn:4");
    }

    @Test
    void oneLocationWrittenTwoWaysIsOneLocation() throws Exception {
        ModelDeployment local = ModelDeployment.initial("churn", "1", "file:///models/churn/1");
        for (String same :
                new String[] {
                    "file:/models/churn/1", "/models/churn/1", "file:///models/./churn/1"
                }) {
            ModelDeployment d = local.apply(ModelCommands.publish("churn", "1", same, null, null));
            assertThat(d.location("1")).as(same).isEqualTo("file:///models/churn/1");
        }
        assertThatThrownBy(
                        () ->
                                local.apply(
                                        ModelCommands.publish(
                                                "churn",
                                                "1",
                                                "file:///models/churn/9",
                                                null,
                                                null)))
                .hasMessageContaining("already registered");
    }
}
