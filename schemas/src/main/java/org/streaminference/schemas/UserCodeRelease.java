package org.streaminference.schemas;

import org.apache.flink.annotation.Internal;
import org.apache.flink.util.FlinkUserCodeClassLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.ref.Reference;
import java.lang.ref.SoftReference;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.lang.runtime.ObjectMethods;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * What the job leaves in JVM-wide registries that outlive it, released when Flink releases the
 * job's user-code class loader (registered with {@code
 * RuntimeContext#registerUserCodeClassLoaderReleaseHookIfAbsent}, as Flink's guide to class loading
 * advises, and by a job status hook on the JobManager): otherwise each submission to a session
 * cluster pins its class loader, and with it every class of the job jar, until the Metaspace runs
 * out. These registries hold the job's classes:
 *
 * <ul>
 *   <li>the JVM's shutdown hooks: ONNX Runtime registers one per class loader that loads it (its
 *       environment's closer), a thread running a class of the job. It is removed and run now: no
 *       session is left at release, so the environment is closed as it would have been at the JVM's
 *       exit;
 *   <li>{@link DriverManager}: the PostgreSQL driver of the job jar registers itself when Flink's
 *       JDBC sink loads it. Drivers the job's class loader loaded are deregistered.
 *   <li>caches in thread-locals of Flink's long-lived threads: Jackson keeps its buffers in a soft
 *       reference per thread, and Avro parses its schemas with Jackson on whichever thread
 *       initializes a record class (on the JobManager, the threads that deserialize the job's
 *       operators). Soft and weak references there to objects of the job are cleared, which the
 *       garbage collector may do at any time, so it never breaks their holder;
 *   <li>the method handles with which the JDK implements records' {@code equals}, {@code hashCode}
 *       and {@code toString} ({@code java.lang.runtime.ObjectMethods}): before JDK 18 (JDK-8078641)
 *       each keeps its last adaptation to a record's types, a class of the job, strongly. They are
 *       adapted again to JDK types.
 * </ul>
 */
@Internal
public final class UserCodeRelease {
    private static final Logger LOG = LoggerFactory.getLogger(UserCodeRelease.class);

    /**
     * The name of the release hook, registered once per class loader whatever the number of
     * operators.
     */
    public static final String HOOK_NAME = "streaminference-user-code-release";

    private UserCodeRelease() {}

    /**
     * Releases what the job's classes left in the JVM's registries, where they were loaded by a
     * user-code class loader of their own (a job submitted to a session cluster); where they are on
     * the JVM's class path (the local run, tests, a job baked into its image) they live as long as
     * the JVM, and nothing is released.
     */
    public static void releaseThisJob() {
        ClassLoader loader = UserCodeRelease.class.getClassLoader();
        if (loader instanceof FlinkUserCodeClassLoader) {
            release(loader);
        }
    }

    /** Releases what {@code loader}'s classes left in the JVM's registries. */
    static void release(ClassLoader loader) {
        int hooks = runShutdownHooksOf(loader);
        int drivers = deregisterDriversOf(loader);
        int caches = clearThreadLocalCaches(loader::equals);
        releaseRecordMethodCaches();
        LOG.info(
                "Released the job's user code: {} shutdown hooks run and removed, {} JDBC drivers deregistered,"
                        + " {} thread-local caches cleared",
                hooks,
                drivers,
                caches);
    }

    /**
     * Releases, as a job ends on the JobManager, the caches the job's operators left there: the
     * JobManager deserializes them with a class loader of the job's own, which the job's status
     * hook cannot name (where the job was submitted over REST, the hook is the very object {@code
     * main()} created). So the thread-local caches of every user-code class loader are cleared: for
     * those of jobs still running, that only costs a new buffer.
     */
    public static void releaseJobManagerCaches() {
        int caches = clearThreadLocalCaches(loader -> loader instanceof FlinkUserCodeClassLoader);
        releaseRecordMethodCaches();
        LOG.info(
                "Released the JobManager's caches of user code: {} thread-local caches cleared",
                caches);
    }

    /**
     * Clears the soft and weak references, held in thread-locals of the JVM's live threads, to
     * objects whose class a class loader {@code ofJob} accepts loaded. Returns how many. Another
     * thread's thread-locals are read, never changed: only the references are cleared, which is
     * thread-safe, and what their holder expects of a cache.
     */
    static int clearThreadLocalCaches(Predicate<ClassLoader> ofJob) {
        Field[] maps;
        Field table;
        Field value;
        try {
            maps =
                    new Field[] {
                        Thread.class.getDeclaredField("threadLocals"),
                        Thread.class.getDeclaredField("inheritableThreadLocals")
                    };
            table = Class.forName("java.lang.ThreadLocal$ThreadLocalMap").getDeclaredField("table");
            value =
                    Class.forName("java.lang.ThreadLocal$ThreadLocalMap$Entry")
                            .getDeclaredField("value");
            for (Field f : maps) {
                f.setAccessible(true);
            }
            table.setAccessible(true);
            value.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn(
                    "Cannot inspect the threads' thread-locals ({}): caches of the job in them keep its classes"
                            + " loaded until memory runs short. Run the JVM with --add-opens=java.base/java.lang="
                            + "ALL-UNNAMED, as Flink's own start scripts do.",
                    e.toString());
            return 0;
        }
        int cleared = 0;
        for (Thread thread : liveThreads()) {
            for (Field map : maps) {
                try {
                    Object threadLocals = map.get(thread);
                    Object[] entries =
                            threadLocals == null ? null : (Object[]) table.get(threadLocals);
                    for (Object entry : entries == null ? new Object[0] : entries) {
                        Object held = entry == null ? null : value.get(entry);
                        if (held != null
                                && (held.getClass() == SoftReference.class
                                        || held.getClass() == WeakReference.class)) {
                            Object referent = ((Reference<?>) held).get();
                            if (referent != null
                                    && ofJob.test(referent.getClass().getClassLoader())) {
                                ((Reference<?>) held).clear();
                                cleared++;
                            }
                        }
                    }
                } catch (ReflectiveOperationException | RuntimeException e) {
                    LOG.debug("Cannot inspect the thread-locals of {}", thread.getName(), e);
                }
            }
        }
        return cleared;
    }

    private static Thread[] liveThreads() {
        ThreadGroup root = Thread.currentThread().getThreadGroup();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        Thread[] threads = new Thread[root.activeCount() * 2 + 16];
        int n = root.enumerate(threads, true);
        return Arrays.copyOf(threads, n);
    }

    /**
     * Makes the JDK's record methods adapt their shared method handles to JDK types ({@link String}
     * as the record class and its component), replacing the adaptation each one cached for the last
     * record of the job that was compared, hashed or printed. The bootstrap is public API; what it
     * caches is not, so nothing depends on it.
     */
    static void releaseRecordMethodCaches() {
        try {
            MethodHandle component =
                    MethodHandles.publicLookup()
                            .findVirtual(
                                    String.class, "toString", MethodType.methodType(String.class));
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ObjectMethods.bootstrap(
                    lookup,
                    "equals",
                    MethodType.methodType(boolean.class, String.class, Object.class),
                    String.class,
                    "value",
                    component);
            ObjectMethods.bootstrap(
                    lookup,
                    "hashCode",
                    MethodType.methodType(int.class, String.class),
                    String.class,
                    "value",
                    component);
            ObjectMethods.bootstrap(
                    lookup,
                    "toString",
                    MethodType.methodType(String.class, String.class),
                    String.class,
                    "value",
                    component);
        } catch (Throwable e) {
            LOG.warn(
                    "Cannot release the JDK's record method caches ({}): the job's classes stay loaded until the"
                            + " next job's records replace them",
                    e.toString());
        }
    }

    /**
     * Removes the shutdown hooks whose task is a class of {@code loader} and runs them now (their
     * program, the job, has ended); clears {@code loader} as the context class loader of any other
     * hook. Returns the number removed.
     */
    static int runShutdownHooksOf(ClassLoader loader) {
        List<Thread> hooks;
        try {
            Class<?> registry = Class.forName("java.lang.ApplicationShutdownHooks");
            Field field = registry.getDeclaredField("hooks");
            field.setAccessible(true);
            synchronized (registry) {
                @SuppressWarnings("unchecked")
                Map<Thread, Thread> registered = (Map<Thread, Thread>) field.get(null);
                hooks = registered == null ? List.of() : new ArrayList<>(registered.keySet());
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn(
                    "Cannot inspect the JVM's shutdown hooks ({}): a shutdown hook of the job (ONNX Runtime's) keeps"
                            + " its classes loaded after it ends. Run the JVM with --add-opens=java.base/java.lang="
                            + "ALL-UNNAMED, as Flink's own start scripts do.",
                    e.toString());
            return 0;
        }
        int removed = 0;
        for (Thread hook : hooks) {
            Object task = taskOf(hook);
            if (task != null && task.getClass().getClassLoader() == loader) {
                if (Runtime.getRuntime().removeShutdownHook(hook)) {
                    removed++;
                    try {
                        hook.run(); // on this thread: the hook's task, as the JVM's exit would
                        // have run it
                    } catch (RuntimeException e) {
                        LOG.warn("A shutdown hook of the job failed when run at its release", e);
                    }
                }
            } else if (hook.getContextClassLoader() == loader) {
                hook.setContextClassLoader(
                        null); // created on a thread of the job: it need not keep the job
            }
        }
        return removed;
    }

    /**
     * The Runnable a thread was made with: {@code target} before JDK 19, {@code holder.task} after.
     */
    private static Object taskOf(Thread thread) {
        try {
            Field target = Thread.class.getDeclaredField("target");
            target.setAccessible(true);
            return target.get(thread);
        } catch (NoSuchFieldException e) {
            try {
                Field holderField = Thread.class.getDeclaredField("holder");
                holderField.setAccessible(true);
                Object holder = holderField.get(thread);
                Field task = holder.getClass().getDeclaredField("task");
                task.setAccessible(true);
                return task.get(holder);
            } catch (ReflectiveOperationException | RuntimeException inner) {
                return null;
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Deregisters the JDBC drivers {@code loader} loaded; returns how many. Listing the drivers may
     * register more: {@link DriverManager#getDrivers()} initializes, in the caller's loader, the
     * class of each driver registered from elsewhere, and an initialized driver class registers
     * itself; so it lists again until none of the loader's is left.
     */
    static int deregisterDriversOf(ClassLoader loader) {
        int deregistered = 0;
        for (int pass = 0; pass < 3; pass++) {
            List<Driver> ours = new ArrayList<>();
            for (Driver driver : Collections.list(DriverManager.getDrivers())) {
                if (driver.getClass().getClassLoader() == loader) {
                    ours.add(driver);
                }
            }
            if (ours.isEmpty()) {
                break;
            }
            for (Driver driver : ours) {
                try {
                    DriverManager.deregisterDriver(driver);
                    deregistered++;
                } catch (SQLException | SecurityException e) {
                    LOG.warn(
                            "Cannot deregister the JDBC driver {} of the job",
                            driver.getClass().getName(),
                            e);
                    return deregistered;
                }
            }
        }
        return deregistered;
    }
}
