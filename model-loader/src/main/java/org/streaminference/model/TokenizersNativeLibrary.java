package org.streaminference.model;

import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Gives each class loader its own copy of the tokenizers' native library. A JVM loads a native
 * library into one class loader only, and DJL loads it from one fixed cache path; in a TaskManager
 * every job (and every job's new user-code class loader) would then fail with "already loaded in
 * another classloader". So the first tokenizer of a class loader is made with DJL's {@code
 * RUST_LIBRARY_PATH} pointing at a private copy, as ONNX Runtime's Java binding does for its own
 * library. The class is loaded once per class loader, so its state is too.
 */
@Internal
final class TokenizersNativeLibrary {
    private static final String PROPERTY = "RUST_LIBRARY_PATH";
    private static final String LIBRARY = "libtokenizers.so";

    private static boolean loaded;

    private TokenizersNativeLibrary() {}

    /**
     * Runs {@code firstUse} so that, if it is this class loader's first, it loads a private copy of
     * the library.
     */
    static synchronized <T> T withLibrary(Callable<T> firstUse) throws Exception {
        ClassLoader ours = TokenizersNativeLibrary.class.getClassLoader();
        Thread thread = Thread.currentThread();
        ClassLoader previousContext = thread.getContextClassLoader();
        thread.setContextClassLoader(
                ours); // DJL reads its properties through the context class loader
        try {
            if (loaded) {
                return firstUse.call();
            }
            Path copy = privateCopy(ours);
            if (copy == null) {
                loaded = true; // another platform: DJL's own loading
                return firstUse.call();
            }
            synchronized (
                    System.class) { // the property is JVM-wide; DJL reads it while it loads the
                // library
                String previous = System.getProperty(PROPERTY);
                System.setProperty(PROPERTY, copy.toString());
                try {
                    T result = firstUse.call();
                    loaded = true;
                    return result;
                } finally {
                    if (previous == null) {
                        System.clearProperty(PROPERTY);
                    } else {
                        System.setProperty(PROPERTY, previous);
                    }
                }
            }
        } finally {
            thread.setContextClassLoader(previousContext);
        }
    }

    /**
     * The library of this platform copied out of the tokenizers jar into a new directory, or null.
     */
    private static Path privateCopy(ClassLoader loader) throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux") || System.getenv(PROPERTY) != null) {
            return null;
        }
        String platform =
                arch.equals("amd64") || arch.equals("x86_64")
                        ? "linux-x86_64"
                        : arch.equals("aarch64") ? "linux-aarch64" : null;
        if (platform == null) {
            return null;
        }
        try (InputStream in =
                loader.getResourceAsStream("native/lib/" + platform + "/cpu/" + LIBRARY)) {
            if (in == null) {
                return null;
            }
            Path dir = Files.createTempDirectory("streaminference-tokenizers-");
            Path lib = dir.resolve(LIBRARY);
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
            lib.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return lib;
        }
    }
}
