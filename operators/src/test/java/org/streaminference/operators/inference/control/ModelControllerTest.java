package org.streaminference.operators.inference.control;

import org.streaminference.model.DemoModels;
import org.streaminference.model.InferenceModel;
import org.streaminference.model.LoadedModel;
import org.streaminference.model.ModelLoadException;
import org.streaminference.model.ModelLoader;
import org.streaminference.model.ModelLoaderConfig;
import org.streaminference.model.ModelManifest;
import org.streaminference.model.control.ControlMessages;
import org.streaminference.model.control.ModelCommands;
import org.streaminference.model.control.ModelControlLimits;
import org.streaminference.model.control.ModelDeployment;
import org.streaminference.operators.inference.batching.BatchingConfig;
import org.streaminference.operators.inference.batching.InferenceMetrics;
import org.streaminference.schemas.ModelCommand;
import org.streaminference.schemas.ModelEvent;
import org.streaminference.schemas.ModelEventType;
import org.streaminference.schemas.ModelRole;
import org.streaminference.tracing.RecordTracing;

import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.function.ThrowingRunnable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The model controller on its own, without an operator or a harness: a plain host whose "mailbox"
 * the test runs and whose timers the test fires, loading the real demo model's versions.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ModelControllerTest {
    private static final String MODEL = DemoModels.NAME;

    @TempDir static Path root;

    private static String v1;
    private static String v2;
    private static String v3;

    private TestHost host;
    private ModelController controller;

    @BeforeAll
    static void writeModels() throws Exception {
        Path models = root.resolve("models");
        v1 = DemoModels.write(models, 1).toString();
        v2 = DemoModels.write(models, 2).toString();
        // version 3: version 2's file under a manifest of its own
        Path dir = models.resolve(MODEL).resolve("3");
        Files.createDirectories(dir);
        Files.copy(Path.of(v2).resolve("model.onnx"), dir.resolve("model.onnx"));
        ModelManifest m = new ModelLoader(ModelLoaderConfig.defaults()).readManifest(v2);
        DemoModels.writeManifest(dir, m.toBuilder().version("3").build());
        v3 = dir.toString();
    }

    /** The task's side of the controller, run by the test thread. */
    static final class TestHost implements ModelController.Host {
        final ModelLoader loader = new ModelLoader(ModelLoaderConfig.defaults());
        final LinkedBlockingQueue<ThrowingRunnable<Exception>> mails = new LinkedBlockingQueue<>();
        final List<ThrowingRunnable<Exception>> timers = new ArrayList<>();
        final List<ModelEvent> events = new CopyOnWriteArrayList<>();
        final AtomicInteger opened = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();

        /** Loads of this location wait for {@link #gate}. */
        volatile String slowLocation = "";

        volatile CountDownLatch gate = new CountDownLatch(0);

        @Override
        public ModelProvider.Handle open(String location, ModelLoader.Expected expected)
                throws ModelLoadException {
            if (location.equals(slowLocation)) {
                awaitUninterruptibly(gate); // as ONNX Runtime, which does not listen to interrupts
            }
            LoadedModel model =
                    loader.load(location, expected == null ? ModelLoader.Expected.ANY : expected);
            opened.incrementAndGet();
            return new ModelProvider.Handle() {
                @Override
                public InferenceModel model() {
                    return model;
                }

                @Override
                public void close() throws Exception {
                    closed.incrementAndGet();
                    model.close();
                }
            };
        }

        @Override
        public ServedVersion serve(ModelProvider.Handle handle) {
            String name = handle.model().manifest().name();
            String version = handle.model().manifest().version();
            return new ServedVersion(
                    handle,
                    new InferenceMetrics(new UnregisteredMetricsGroup(), name, version),
                    BatchingConfig.defaults(),
                    "test-" + version,
                    batch -> {},
                    (served, batch) -> {},
                    RecordTracing.off());
        }

        @Override
        public void runOnTaskThread(ThrowingRunnable<Exception> action, String description) {
            mails.add(action);
        }

        @Override
        public void runOnTaskThreadAfter(long delayMillis, ThrowingRunnable<Exception> action) {
            timers.add(action);
        }

        @Override
        public void emit(ModelEvent event) {
            events.add(event);
        }

        private static void awaitUninterruptibly(CountDownLatch latch) {
            while (true) {
                try {
                    latch.await();
                    return;
                } catch (InterruptedException e) {
                    // ignored, like a native load
                }
            }
        }

        List<ModelEvent> events(ModelEventType type) {
            return events.stream().filter(e -> e.getType() == type).toList();
        }
    }

    @BeforeEach
    void start() throws Exception {
        host = new TestHost();
        controller =
                new ModelController(
                        host,
                        MODEL,
                        new ModelControlLimits(Duration.ofMinutes(1), 4096, 2),
                        new ModelController.Reporter("job", "id", 0, "test"),
                        new SimpleCounter(),
                        new SimpleCounter());
        controller.start(v1, null);
    }

    @AfterEach
    void close() throws Exception {
        host.gate.countDown();
        controller.close();
    }

    private void send(ModelCommand command) throws Exception {
        receive(new String(ModelCommands.toJson(command), StandardCharsets.UTF_8));
    }

    /** A control-topic record, decoded as the job's control source decodes it. */
    private void receive(String json) throws Exception {
        controller.receive(ControlMessages.decode(json.getBytes(StandardCharsets.UTF_8), 4096));
    }

    /** Runs the host's mails until every command received is answered. */
    private void settle() throws Exception {
        while (!controller.isSettled()) {
            ThrowingRunnable<Exception> mail = host.mails.poll(30, TimeUnit.SECONDS);
            assertThat(mail).as("a mail from the loader").isNotNull();
            mail.run();
        }
    }

    private String servedFor(String entity) {
        return controller.versions().route(entity).version;
    }

    @Test
    void startsOnTheInitialVersion() {
        assertThat(controller.deployment().active()).isEqualTo("1");
        assertThat(host.events)
                .extracting(ModelEvent::getType)
                .containsExactly(ModelEventType.LOADED, ModelEventType.DEPLOYED);
        assertThat(servedFor("anyone")).isEqualTo("1");
    }

    @Test
    void aNewVersionServesOnlyOnceLoadedOnTheTaskThread() throws Exception {
        host.slowLocation = v2;
        host.gate = new CountDownLatch(1);
        ModelCommand publish = ModelCommands.publish(MODEL, "2", v2, null, null);
        send(publish);
        assertThat(controller.isLoading()).isTrue();
        assertThat(servedFor("anyone"))
                .as("make before break: 1 serves while 2 loads")
                .isEqualTo("1");

        host.gate.countDown();
        settle();
        assertThat(servedFor("anyone")).isEqualTo("2");
        assertThat(controller.deployment().previous()).isEqualTo("1");
        assertThat(controller.versions().isLoaded("1"))
                .as("the previous version stays loaded")
                .isTrue();
        assertThat(host.events(ModelEventType.DEPLOYED))
                .last()
                .satisfies(e -> assertThat(e.getCommandId()).isEqualTo(publish.getId()));
    }

    @Test
    void commandsBehindALoadWaitAndApplyInTheirOrder() throws Exception {
        host.slowLocation = v2;
        host.gate = new CountDownLatch(1);
        send(ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 30));
        send(ModelCommands.promote(MODEL)); // needs the canary of the command before it
        assertThat(controller.pendingCommands()).hasSize(2);
        assertThat(host.events(ModelEventType.REJECTED)).isEmpty();

        host.gate.countDown();
        settle();
        assertThat(host.events(ModelEventType.DEPLOYED))
                .extracting(ModelEvent::getCommand)
                .containsExactly(null, "PUBLISH " + MODEL + ":2 as CANARY 30%", "PROMOTE " + MODEL);
        assertThat(controller.deployment().active()).isEqualTo("2");
    }

    @Test
    void aVersionThatFailsItsChecksIsRejectedAndTheOldOneKeepsServing() throws Exception {
        // version 1's location published as version 3: the loaded manifest names another version
        send(ModelCommands.publish(MODEL, "3", v1, null, null));
        settle();
        assertThat(host.events(ModelEventType.REJECTED))
                .singleElement()
                .satisfies(e -> assertThat(e.getReason()).isEqualTo("INVALID_MANIFEST"));
        assertThat(servedFor("anyone")).isEqualTo("1");
        assertThat(host.opened.get() - host.closed.get())
                .as("nothing but version 1 is held")
                .isEqualTo(1);
    }

    @Test
    void aLoadThatTimesOutIsRejectedTheNextCommandGoesOnAndTheLateVersionIsReleased()
            throws Exception {
        host.slowLocation = v2;
        host.gate = new CountDownLatch(1);
        send(ModelCommands.publish(MODEL, "2", v2, null, null));
        send(ModelCommands.publish(MODEL, "3", v3, null, null));
        assertThat(host.timers).hasSize(1);

        host.timers.get(0).run(); // model.load-timeout elapsed
        assertThat(host.events(ModelEventType.REJECTED))
                .singleElement()
                .satisfies(e -> assertThat(e.getReason()).isEqualTo("LOAD_TIMEOUT"));
        settle(); // version 3 loads on a new loader thread
        assertThat(servedFor("anyone")).isEqualTo("3");

        host.gate.countDown(); // the abandoned load of version 2 finishes after all
        ThrowingRunnable<Exception> late = host.mails.poll(30, TimeUnit.SECONDS);
        assertThat(late).isNotNull();
        int closedBefore = host.closed.get();
        late.run();
        assertThat(host.closed.get())
                .as("the late version is released unused")
                .isEqualTo(closedBefore + 1);
        assertThat(servedFor("anyone")).isEqualTo("3");
    }

    @Test
    void commandsOverTheLimitsAndMalformedOnesAreRejectedWithTheirReason() throws Exception {
        receive("{\"command\":\"PUBLISH\",\"model\":\"" + "x".repeat(5000) + "\"}");
        receive("not json");
        host.slowLocation = v2;
        host.gate = new CountDownLatch(1);
        send(ModelCommands.publish(MODEL, "2", v2, null, null));
        send(ModelCommands.promote(MODEL));
        send(
                ModelCommands.rollback(
                        MODEL)); // a third command waiting behind the load: over the limit of 2
        assertThat(host.events(ModelEventType.REJECTED))
                .extracting(ModelEvent::getReason)
                .containsExactly("TOO_LARGE", "INVALID_COMMAND", "TOO_MANY_PENDING");
        host.gate.countDown();
        settle();
    }

    @Test
    void restoredCommandsGoOnInTheirOrderAndAnUnreadableOneIsAnswered() throws Exception {
        // a savepoint of an earlier version holds commands as it received them, parsed or not
        controller.resume(
                List.of(
                        ControlMessages.decode(
                                "not json".getBytes(StandardCharsets.UTF_8), Integer.MAX_VALUE),
                        ControlMessages.of(
                                ModelCommands.publish(MODEL, "2", v2, ModelRole.CANARY, 40)),
                        ControlMessages.of(ModelCommands.promote(MODEL))));
        settle();
        assertThat(host.events(ModelEventType.REJECTED))
                .singleElement()
                .satisfies(e -> assertThat(e.getReason()).isEqualTo("INVALID_COMMAND"));
        assertThat(controller.deployment().active()).isEqualTo("2");
        assertThat(controller.deployment().previous()).isEqualTo("1");
    }

    @Test
    void aRestoreServesWhatWasServedAndLeavesOutOnlyAVersionThatCannotLoad() throws Exception {
        controller.close();
        ModelDeployment before =
                ModelDeployment.builder(MODEL, "2")
                        .previous("1")
                        .canary("3", 20)
                        .location("1", v1)
                        .location("2", v2)
                        .location("3", root.resolve("gone").toString())
                        .revision(7)
                        .build();
        host = new TestHost();
        controller =
                new ModelController(
                        host,
                        MODEL,
                        ModelControlLimits.defaults(),
                        new ModelController.Reporter("job", "id", 0, "test"),
                        new SimpleCounter(),
                        new SimpleCounter());
        controller.start(v1, before);
        assertThat(controller.deployment().active()).isEqualTo("2");
        assertThat(controller.deployment().previous()).isEqualTo("1");
        assertThat(controller.deployment().canary()).as("the canary could not load").isNull();

        ModelDeployment activeGone =
                ModelDeployment.builder(MODEL, "3")
                        .location("3", root.resolve("gone").toString())
                        .revision(1)
                        .build();
        ModelController other =
                new ModelController(
                        new TestHost(),
                        MODEL,
                        ModelControlLimits.defaults(),
                        new ModelController.Reporter("job", "id", 0, "test"),
                        new SimpleCounter(),
                        new SimpleCounter());
        assertThatThrownBy(() -> other.start(v1, activeGone))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the active version before the restore");
        other.close();
    }
}
