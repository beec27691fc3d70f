package org.streaminference.model.control;

import org.streaminference.schemas.ModelCommand;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A command is obeyed once, never after a newer one of its model (or plan), never from before the
 * configuration.
 */
class CommandOrderTest {

    private static ModelCommand at(ModelCommand command, long sequence) {
        command.setSequence(sequence);
        return command;
    }

    private static String reason(CommandOrder order, ModelCommand command) {
        CommandOrder.Refusal refusal = order.check(command);
        return refusal == null ? null : refusal.reason();
    }

    @Test
    void aReplayIsRefusedAndAnOlderCommandOfTheSameModelIsOutOfOrder() throws Exception {
        CommandOrder order = CommandOrder.startingAt(0);
        ModelCommand publish2 =
                at(ModelCommands.publish("churn", "2", "s3://m/churn/2", null, null), 10);
        ModelCommand promote = at(ModelCommands.promote("churn"), 20);
        assertThat(order.check(publish2)).isNull();
        order.accept(publish2);
        order.accept(promote);
        assertThat(reason(order, promote)).isEqualTo("REPLAYED");
        assertThat(reason(order, publish2)).isEqualTo("REPLAYED");
        assertThat(reason(order, at(ModelCommands.retire("churn", "1"), 15)))
                .isEqualTo("OUT_OF_ORDER");
        assertThat(reason(order, at(ModelCommands.retire("churn", "1"), 20)))
                .isEqualTo("OUT_OF_ORDER");
        assertThat(order.check(at(ModelCommands.retire("churn", "1"), 21))).isNull();
        // each model and the plan keep their own order
        assertThat(order.check(at(ModelCommands.promote("fraud"), 5))).isNull();
        assertThat(order.check(at(ModelCommands.setPlan(ServingPlans.single("churn")), 5)))
                .isNull();
        assertThat(order.lastSequence("churn")).isEqualTo(20L);
        assertThat(order.lastSequence(null)).isNull();
    }

    @Test
    void aJobStartedWithoutStateRefusesWhatWasIssuedBeforeItsConfiguration() {
        long configured = System.currentTimeMillis();
        CommandOrder order = CommandOrder.startingAt(configured);
        ModelCommand before = ModelCommands.setPlan(ServingPlans.single("nothing"));
        before.setIssuedAt(configured - 1);
        assertThat(order.check(before).reason()).isEqualTo("STALE");
        assertThat(order.check(before).message()).contains("model.configuration-time");
        ModelCommand after = ModelCommands.setPlan(ServingPlans.single("churn"));
        after.setIssuedAt(configured + 1);
        assertThat(order.check(after)).isNull();
    }

    @Test
    void theOrderSurvivesItsJsonFormAndForgetsOnlyTheOldestIds() throws Exception {
        CommandOrder order = CommandOrder.startingAt(1234);
        ModelCommand first = at(ModelCommands.promote("churn"), 1);
        order.accept(first);
        for (int i = 0; i < CommandOrder.REMEMBERED_IDS; i++) {
            order.accept(at(ModelCommands.promote("m" + (i % 7)), 2 + i));
        }
        CommandOrder restored = CommandOrder.fromJson(order.toJson());
        assertThat(restored.toJson()).isEqualTo(order.toJson());
        assertThat(restored.lastSequence("churn")).isEqualTo(1L);
        // the first id is forgotten, but its sequence still keeps it out
        assertThat(reason(restored, first)).isEqualTo("OUT_OF_ORDER");
        ModelCommand stale = ModelCommands.promote("x");
        stale.setIssuedAt(1000L);
        assertThat(reason(restored, stale)).isEqualTo("STALE");
        assertThat(
                        new String(
                                restored.toJson().getBytes(StandardCharsets.UTF_8),
                                StandardCharsets.UTF_8))
                .contains("\"notBefore\":1234");
    }
}
