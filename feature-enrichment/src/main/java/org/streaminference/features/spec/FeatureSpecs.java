package org.streaminference.features.spec;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Where feature specs come from: a file on any Flink file system, or the demo's spec bundled with
 * the job.
 */
@PublicEvolving
public final class FeatureSpecs {
    /** The demo's spec, the complete example in docs/features.md. */
    public static final String DEMO_RESOURCE = "/feature-specs/demo-transactions.yaml";

    /** Upper bound on a spec file's size: a spec is a page of YAML, not a data file. */
    private static final int MAX_SIZE = 1 << 20;

    private FeatureSpecs() {}

    /**
     * Reads and checks the spec at {@code location} (a path or URI Flink's file systems can open).
     *
     * @throws InvalidFeatureSpecException naming the line and problem, or that the file cannot be
     *     read
     */
    public static FeatureSpec load(String location) throws InvalidFeatureSpecException {
        Path path = new Path(location);
        try (FSDataInputStream in = path.getFileSystem().open(path)) {
            return FeatureSpecParser.parse(read(in, location), location);
        } catch (IOException e) {
            throw new InvalidFeatureSpecException(
                    location, 0, "cannot read the feature spec: " + e);
        }
    }

    /** The demo's spec. */
    public static FeatureSpec demo() {
        try (InputStream in = FeatureSpecs.class.getResourceAsStream(DEMO_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(DEMO_RESOURCE + " is missing from the class path");
            }
            return FeatureSpecParser.parse(read(in, DEMO_RESOURCE), "built-in " + DEMO_RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InvalidFeatureSpecException e) {
            throw new IllegalStateException(
                    "the built-in demo spec is invalid: " + e.getMessage(), e);
        }
    }

    private static String read(InputStream in, String location) throws IOException {
        byte[] bytes = in.readNBytes(MAX_SIZE + 1);
        if (bytes.length > MAX_SIZE) {
            throw new IOException(location + " is larger than " + MAX_SIZE + " bytes");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
