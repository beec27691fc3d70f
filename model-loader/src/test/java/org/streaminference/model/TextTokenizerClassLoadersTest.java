package org.streaminference.model;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A TaskManager gives every job, and a restarted job sometimes, its own class loader; each must be
 * able to use the tokenizers' native library, which a JVM loads into one class loader per file. Two
 * isolated class loaders here, as two jobs there, each tokenize.
 */
class TextTokenizerClassLoadersTest {
    /** A real (tiny) Hugging Face tokenizer.json: word-level, whitespace pre-tokenizer. */
    static final byte[] WORD_LEVEL =
            """
            {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
             "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
             "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, "world": 2}, "unk_token": "[UNK]"}}
            """
                    .getBytes(StandardCharsets.UTF_8);

    @Test
    void tokenizersWorkInEveryClassLoaderOfOneJvm() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            urls.add(new File(entry).toURI().toURL());
        }
        for (int job = 1; job <= 2; job++) {
            try (URLClassLoader loader =
                    new URLClassLoader(
                            urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader())) {
                Class<?> tokenizer = loader.loadClass(TextTokenizer.class.getName());
                assertThat(tokenizer).isNotSameAs(TextTokenizer.class);
                Object ids;
                try {
                    Object t =
                            tokenizer
                                    .getMethod("of", byte[].class, int.class)
                                    .invoke(null, WORD_LEVEL, 8);
                    Object tokens =
                            tokenizer
                                    .getMethod("encode", List.class)
                                    .invoke(t, List.of("hello big world"));
                    ids = tokens.getClass().getMethod("inputIds").invoke(tokens);
                } catch (InvocationTargetException e) {
                    throw new AssertionError(
                            "class loader " + job + ": " + e.getCause(), e.getCause());
                }
                assertThat((long[]) ids).as("class loader " + job).containsExactly(1, 0, 2);
            }
        }
    }
}
