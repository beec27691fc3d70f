package org.streaminference.gateway;

import org.streaminference.schemas.PredictReply;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class OpenRequestsTest {
    private static final Caller ALICE = new Caller("key:alice", Set.of("predict"));
    private static final Caller BOB = new Caller("key:bob", Set.of("predict"));

    private static OpenRequests.Open open(String id, Caller caller, long sent, boolean keep) {
        return new OpenRequests.Open(
                PredictCall.of(id, "m", "e", null, null, null, false, false, 1_000, keep),
                caller,
                0,
                sent,
                keep);
    }

    private static PredictReply reply(String id, int partition, long offset) {
        return PredictReply.newBuilder()
                .setRequestId(id)
                .setRequestPartition(partition)
                .setRequestOffset(offset)
                .setReadTime(1)
                .setRecordTime(1)
                .setAnswerTime(2)
                .build();
    }

    @Test
    void aReplyIsTakenOnlyForTheRecordThisInstanceWrote() {
        OpenRequests open = new OpenRequests(60_000, 10);
        OpenRequests.Open r = open("r-1", ALICE, 0, false);
        assertThat(open.add(r)).isTrue();
        assertThat(open.add(open("r-1", BOB, 0, false))).as("an id in use").isFalse();
        assertThat(open.answered(reply("r-1", 3, 41), 3, 41))
                .as("before the broker acknowledged it")
                .isEmpty();
        r.offset.complete(42L);
        assertThat(open.answered(reply("r-1", 3, 41), 3, 41)).as("another record's").isEmpty();
        assertThat(open.answered(reply("r-1", 2, 42), 3, 42)).as("another partition's").isEmpty();
        assertThat(open.answered(reply("r-2", 3, 42), 3, 42)).as("another id").isEmpty();
        assertThat(open.answered(reply("r-1", 3, 42), 3, 42)).containsSame(r);
        assertThat(open.answered(reply("r-1", 3, 42), 3, 42)).as("taken once").isEmpty();
    }

    @Test
    void keptAnswersAreTheirCallersAloneAndExpire() {
        OpenRequests open = new OpenRequests(1_000, 2);
        OpenRequests.Open r = open("r-1", ALICE, 0, true);
        open.add(r);
        assertThat(open.lookup("key:alice", "r-1", 10))
                .hasValueSatisfying(a -> assertThat(a).isEmpty());
        assertThat(open.lookup("key:bob", "r-1", 10)).isEmpty();
        Answer answer = new Answer(r.call, reply("r-1", 0, 0), 0, 0, 0, 0);
        open.forget("r-1");
        open.keep(r, answer, 100);
        assertThat(open.lookup("key:alice", "r-1", 200)).hasValue(java.util.Optional.of(answer));
        assertThat(open.lookup("key:bob", "r-1", 200)).isEmpty();
        assertThat(open.add(open("r-1", ALICE, 0, false))).as("answered ids stay taken").isFalse();
        assertThat(open.lookup("key:alice", "r-1", 1_100)).as("past the retention").isEmpty();

        // open requests expire too, and the capacity bounds both
        open.add(open("old", ALICE, 0, true));
        open.add(open("new", ALICE, 5_000, true));
        assertThat(open.hasRoom()).isFalse();
        open.expire(5_500);
        assertThat(open.get("old")).isNull();
        assertThat(open.get("new")).isNotNull();
        assertThat(open.hasRoom()).isTrue();
    }
}
