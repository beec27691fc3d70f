package org.streaminference.model;

import org.apache.flink.annotation.PublicEvolving;

/** A model version that cannot be served, with the check it failed. */
@PublicEvolving
public class ModelLoadException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The check a model version failed. */
    public enum Reason {
        NOT_FOUND,
        INVALID_MANIFEST,
        URI_NOT_ALLOWED,
        TOO_LARGE,
        CHECKSUM_MISMATCH,
        /** The model's inputs or outputs are not what the manifest declares. */
        INTERFACE_MISMATCH,
        /** The version has no manifest signature and the job requires one. */
        UNSIGNED,
        /** The manifest's signature is not valid, or is by a key the job does not trust. */
        SIGNATURE_INVALID,
        /** The model reads tensors from files outside itself (ONNX external data). */
        EXTERNAL_DATA,
        /** Loading took longer than model.load-timeout. */
        LOAD_TIMEOUT,
        FEATURE_SPEC_MISMATCH,
        PROVIDER_UNAVAILABLE,
        RUNTIME_ERROR
    }

    private final Reason reason;

    public ModelLoadException(Reason reason, String message) {
        this(reason, message, null);
    }

    public ModelLoadException(Reason reason, String message, Throwable cause) {
        super(reason + ": " + message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
