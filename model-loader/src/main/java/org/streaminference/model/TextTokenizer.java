package org.streaminference.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.apache.flink.annotation.PublicEvolving;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * A version's Hugging Face tokenizer ({@code tokenizer.json}, run by DJL's binding of the Rust
 * tokenizers library): turns a batch of texts into token ids, attention mask and token type ids,
 * each record truncated to the version's maximum length and the batch padded to its longest record,
 * as the transformers library does with {@code padding=True, truncation=True}. Thread-safe; closed
 * with its version.
 */
@PublicEvolving
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, int maxLength) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
    }

    /**
     * Reads a {@code tokenizer.json}; its own padding settings are replaced by padding to the
     * batch's longest.
     */
    public static TextTokenizer of(byte[] tokenizerJson, int maxLength) throws IOException {
        try {
            HuggingFaceTokenizer tokenizer =
                    TokenizersNativeLibrary.withLibrary(
                            () ->
                                    HuggingFaceTokenizer.newInstance(
                                            new ByteArrayInputStream(tokenizerJson),
                                            Map.of(
                                                    "padding",
                                                    "false",
                                                    "truncation",
                                                    "true",
                                                    "maxLength",
                                                    Integer.toString(maxLength))));
            return new TextTokenizer(tokenizer, maxLength);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (LinkageError | AssertionError e) {
            throw new IOException(
                    "the tokenizers' native library cannot be loaded: " + e.getMessage(), e);
        } catch (Exception e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * The three tensors of a batch, each [rows, length] row-major; padding positions are 0 in all
     * three.
     */
    public record Tokens(
            int rows, int length, long[] inputIds, long[] attentionMask, long[] tokenTypeIds) {
        public long[] get(String name) {
            return switch (name) {
                case "input_ids" -> inputIds;
                case "attention_mask" -> attentionMask;
                case "token_type_ids" -> tokenTypeIds;
                default ->
                        throw new IllegalArgumentException("a tokenizer gives no '" + name + "'");
            };
        }
    }

    /**
     * Tokenizes {@code texts}, with the special tokens the tokenizer adds ([CLS] ... [SEP] for
     * BERT).
     */
    public Tokens encode(List<String> texts) {
        Encoding[] encodings = tokenizer.batchEncode(texts.toArray(new String[0]), true, false);
        int length = 1;
        for (Encoding e : encodings) {
            length = Math.max(length, Math.min(e.getIds().length, maxLength));
        }
        int rows = encodings.length;
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        long[] types = new long[rows * length];
        for (int r = 0; r < rows; r++) {
            long[] rowIds = encodings[r].getIds();
            long[] rowMask = encodings[r].getAttentionMask();
            long[] rowTypes = encodings[r].getTypeIds();
            int n = Math.min(rowIds.length, length);
            System.arraycopy(rowIds, 0, ids, r * length, n);
            System.arraycopy(rowMask, 0, mask, r * length, n);
            System.arraycopy(rowTypes, 0, types, r * length, n);
        }
        return new Tokens(rows, length, ids, mask, types);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
