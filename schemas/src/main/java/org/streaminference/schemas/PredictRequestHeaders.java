package org.streaminference.schemas;

import org.apache.flink.annotation.PublicEvolving;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * The Kafka headers that make a record on the predict-request topic a request: its id, the model
 * asked and whether it may change the entity's state. The gateway writes them and the job reads
 * them; the value is an ordinary JSON event. Headers are untrusted like any other input: a value
 * that is missing, too long or not printable makes the record a dead letter, not a request.
 */
@PublicEvolving
public final class PredictRequestHeaders {
    public static final String REQUEST_ID = "si-request-id";
    public static final String MODEL = "si-model";

    /** {@value #MODE_UPDATE} or {@value #MODE_READ}. */
    public static final String MODE = "si-mode";

    /** When the gateway sent the request, epoch milliseconds in decimal. */
    public static final String SENT = "si-sent";

    public static final String MODE_UPDATE = "update";
    public static final String MODE_READ = "read";

    private PredictRequestHeaders() {}

    /**
     * The request the headers describe, read at {@code readTime} from a record of Kafka timestamp
     * {@code recordTime}.
     *
     * @param header the last value of a header by name, or null
     * @throws IllegalArgumentException naming the header that is missing or invalid
     */
    public static PredictRequest read(
            Function<String, byte[]> header, long readTime, long recordTime) {
        String id = text(header, REQUEST_ID);
        if (!Identifiers.isValid(id)) {
            throw new IllegalArgumentException("header " + REQUEST_ID + " is not a valid id");
        }
        String model = text(header, MODEL);
        if (!Identifiers.isValid(model)) {
            throw new IllegalArgumentException("header " + MODEL + " is not a valid model name");
        }
        String mode = text(header, MODE);
        if (!mode.equals(MODE_UPDATE) && !mode.equals(MODE_READ)) {
            throw new IllegalArgumentException(
                    "header " + MODE + " is '" + MODE_UPDATE + "' or '" + MODE_READ + "'");
        }
        long sent;
        try {
            sent = Long.parseLong(text(header, SENT));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("header " + SENT + " is not epoch milliseconds");
        }
        return new PredictRequest(id, model, mode.equals(MODE_READ), sent, readTime, recordTime);
    }

    private static String text(Function<String, byte[]> header, String name) {
        byte[] value = header.apply(name);
        if (value == null || value.length == 0 || value.length > 256) {
            throw new IllegalArgumentException(
                    "header " + name + " is missing or longer than 256 bytes");
        }
        for (byte b : value) {
            if (b < 0x20 || b > 0x7e) {
                throw new IllegalArgumentException("header " + name + " is not printable ASCII");
            }
        }
        return new String(value, StandardCharsets.US_ASCII);
    }

    /** The header's value as the gateway writes it. */
    public static byte[] bytes(String value) {
        return value.getBytes(StandardCharsets.US_ASCII);
    }
}
