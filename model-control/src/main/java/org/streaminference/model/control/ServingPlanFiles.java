package org.streaminference.model.control;

import org.streaminference.schemas.ServingPlan;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.apache.flink.annotation.Internal;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.Path;

import java.io.IOException;

/**
 * Serving plans in files, as people write them: YAML or JSON (YAML reads both), at most 1 MiB, from
 * any file system Flink can open. The job reads its starting plan this way, and {@code models plan}
 * the plan it sends.
 */
@Internal
public final class ServingPlanFiles {
    private static final int MAX_SIZE = 1 << 20;
    private static final ObjectMapper YAML =
            new ObjectMapper(new YAMLFactory())
                    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private ServingPlanFiles() {}

    /**
     * @throws IOException when the file cannot be read or parsed
     * @throws InvalidCommandException naming what is wrong with the plan
     */
    public static ServingPlan read(String location) throws IOException, InvalidCommandException {
        Path path = new Path(location);
        byte[] bytes;
        try (FSDataInputStream in = path.getFileSystem().open(path)) {
            bytes = in.readNBytes(MAX_SIZE + 1);
        }
        if (bytes.length > MAX_SIZE) {
            throw new IOException(location + " is larger than " + MAX_SIZE + " bytes");
        }
        JsonNode tree = YAML.readTree(bytes);
        return ServingPlans.fromTree(tree);
    }
}
