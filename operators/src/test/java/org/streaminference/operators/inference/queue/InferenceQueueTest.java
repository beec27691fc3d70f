package org.streaminference.operators.inference.queue;

import org.apache.flink.streaming.api.watermark.Watermark;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Both inference queues, in the manner of Flink's element-queue tests: what may go out, and when.
 */
class InferenceQueueTest {

    /** A record the test completes by hand. */
    static final class TestRequest implements InferenceQueue.Request {
        final String name;
        boolean done;

        TestRequest(String name) {
            this.name = name;
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** Collects what the queue emits: record names and "W<timestamp>". */
    static final class Collected implements InferenceQueue.Emitter<TestRequest> {
        final List<String> out = new ArrayList<>();

        @Override
        public void emit(TestRequest request) {
            out.add(request.name);
        }

        @Override
        public void emitWatermark(Watermark watermark) {
            out.add("W" + watermark.getTimestamp());
        }
    }

    private static TestRequest add(InferenceQueue<TestRequest> queue, String name) {
        TestRequest request = new TestRequest(name);
        queue.add(request);
        return request;
    }

    @ParameterizedTest(name = "ordered={0}")
    @ValueSource(booleans = {true, false})
    void aWatermarkOnAnEmptyQueueGoesOutAtOnce(boolean ordered) throws Exception {
        InferenceQueue<TestRequest> queue = InferenceQueue.create(ordered);
        Collected c = new Collected();
        queue.addWatermark(new Watermark(5));
        queue.emitCompleted(c);
        assertThat(c.out).containsExactly("W5");
        assertThat(queue.isEmpty()).isTrue();
    }

    @ParameterizedTest(name = "ordered={0}")
    @ValueSource(booleans = {true, false})
    void noRecordOvertakesAWatermarkAndNoWatermarkOvertakesARecord(boolean ordered)
            throws Exception {
        InferenceQueue<TestRequest> queue = InferenceQueue.create(ordered);
        Collected c = new Collected();
        TestRequest a = add(queue, "a");
        queue.addWatermark(new Watermark(10));
        TestRequest b = add(queue, "b");
        queue.addWatermark(new Watermark(20));
        queue.addWatermark(new Watermark(30));

        b.done = true; // the record behind the watermark is answered first
        queue.emitCompleted(c);
        assertThat(c.out).isEmpty();
        assertThat(queue.size()).isEqualTo(2);
        assertThat(queue.pendingRecords()).containsExactly(a, b);

        a.done = true;
        queue.emitCompleted(c);
        assertThat(c.out).containsExactly("a", "W10", "b", "W20", "W30");
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.size()).isZero();
    }

    @ParameterizedTest(name = "ordered={0}")
    @ValueSource(booleans = {true, false})
    void pendingRecordsAreEveryRecordNotEmittedInArrivalOrder(boolean ordered) throws Exception {
        InferenceQueue<TestRequest> queue = InferenceQueue.create(ordered);
        TestRequest a = add(queue, "a");
        TestRequest b = add(queue, "b");
        queue.addWatermark(new Watermark(1));
        TestRequest c = add(queue, "c");
        b.done = true;
        c.done = true;
        queue.emitCompleted(new Collected());
        // ordered: b and c wait behind a; unordered: b went out, c waits behind the watermark
        assertThat(queue.pendingRecords())
                .containsExactlyElementsOf(ordered ? List.of(a, b, c) : List.of(a, c));
        assertThat(queue.size()).isEqualTo(queue.pendingRecords().size());
    }

    @ParameterizedTest(name = "ordered={0}")
    @ValueSource(booleans = {true, false})
    void recordsBetweenTheSameWatermarksGoOutInOrderOnlyWhenOrdered(boolean ordered)
            throws Exception {
        InferenceQueue<TestRequest> queue = InferenceQueue.create(ordered);
        Collected c = new Collected();
        TestRequest a = add(queue, "a");
        TestRequest b = add(queue, "b");
        TestRequest d = add(queue, "c");
        d.done = true;
        b.done = true;
        queue.emitCompleted(c);
        assertThat(c.out).containsExactlyElementsOf(ordered ? List.of() : List.of("b", "c"));
        a.done = true;
        queue.emitCompleted(c);
        assertThat(c.out)
                .containsExactlyElementsOf(
                        ordered ? List.of("a", "b", "c") : List.of("b", "c", "a"));
    }

    @ParameterizedTest(name = "ordered={0}")
    @ValueSource(booleans = {true, false})
    void aRecordAddedAfterTheQueueDrainedIsNotHeldByAnEmittedWatermark(boolean ordered)
            throws Exception {
        InferenceQueue<TestRequest> queue = InferenceQueue.create(ordered);
        Collected c = new Collected();
        TestRequest a = add(queue, "a");
        queue.addWatermark(new Watermark(1));
        a.done = true;
        queue.emitCompleted(c);
        TestRequest b = add(queue, "b");
        TestRequest d = add(queue, "d");
        d.done = true;
        queue.emitCompleted(c);
        assertThat(c.out)
                .containsExactlyElementsOf(ordered ? List.of("a", "W1") : List.of("a", "W1", "d"));
        b.done = true;
        queue.emitCompleted(c);
        assertThat(queue.isEmpty()).isTrue();
        assertThat(c.out).hasSize(4);
    }
}
