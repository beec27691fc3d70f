package org.streaminference.query;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.annotation.Internal;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;
import java.util.Map;

/**
 * Jetty's answer to requests it refuses before the service sees them (a NUL or an ambiguous segment
 * in the URI, an oversized header): the same JSON error shape as the service's own, instead of
 * Jetty's HTML page.
 */
@Internal
public final class JsonErrorHandler extends ErrorHandler {
    private static final ObjectMapper JSON = new ObjectMapper();

    public JsonErrorHandler() {
        setShowStacks(false);
        setShowCauses(false);
    }

    @Override
    protected void generateResponse(
            Request request,
            Response response,
            int code,
            String message,
            Throwable cause,
            Callback callback) {
        String errorCode =
                code == 404 ? "not_found" : code >= 500 ? "internal_error" : "bad_request";
        byte[] body;
        try {
            body =
                    JSON.writeValueAsBytes(
                            Map.of("code", errorCode, "message", "the request cannot be served"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a map of two strings always serializes", e);
        }
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
