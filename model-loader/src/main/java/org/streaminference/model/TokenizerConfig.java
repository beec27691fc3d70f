package org.streaminference.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.flink.annotation.PublicEvolving;

import java.io.Serializable;

/**
 * A version's text pre-processing: a Hugging Face {@code tokenizer.json} in the version's directory
 * (listed with its sha256 in the manifest's {@code files}), the feature group holding the text (one
 * string per record), and the longest token sequence a record may give (longer ones are truncated).
 * A batch is padded to its longest.
 *
 * @param file the tokenizer file's path inside the version's directory
 * @param from the feature group of one string that holds the text
 * @param maxLength tokens per record at most, special tokens included
 */
@PublicEvolving
public record TokenizerConfig(String file, String from, int maxLength) implements Serializable {
    /** BERT-style models take at most 512 positions. */
    public static final int DEFAULT_MAX_LENGTH = 256;

    @JsonCreator
    public TokenizerConfig(
            @JsonProperty(value = "file", required = true) String file,
            @JsonProperty(value = "from", required = true) String from,
            @JsonProperty("maxLength") Integer maxLength) {
        this(file, from, maxLength == null ? DEFAULT_MAX_LENGTH : maxLength);
    }

    public TokenizerConfig {
        if (!ManifestNames.isPlainRelativePath(file)) {
            throw new IllegalArgumentException(
                    "the tokenizer's file is not a plain path inside the version's" + " directory");
        }
        ManifestNames.requireSafeName(from, "tokenizer.from");
        if (maxLength < 2 || maxLength > 8192) {
            throw new IllegalArgumentException(
                    "tokenizer.maxLength must be between 2 and 8192, it is " + maxLength);
        }
    }

    @JsonProperty("file")
    @Override
    public String file() {
        return file;
    }

    @JsonProperty("from")
    @Override
    public String from() {
        return from;
    }

    @JsonProperty("maxLength")
    @Override
    public int maxLength() {
        return maxLength;
    }
}
