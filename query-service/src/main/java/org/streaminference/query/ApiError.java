package org.streaminference.query;

import org.apache.flink.annotation.Internal;

import java.util.Map;

/**
 * A request the service refuses, with its HTTP status and a JSON body {@code {"code":...,
 * "message":...}}.
 */
@Internal
public final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public final int status;
    public final String code;
    public final Map<String, String> headers;

    public ApiError(int status, String code, String message) {
        this(status, code, message, Map.of());
    }

    public ApiError(int status, String code, String message, Map<String, String> headers) {
        super(message, null, false, false); // no stack trace: it is an answer, not a failure
        this.status = status;
        this.code = code;
        this.headers = headers;
    }
}
