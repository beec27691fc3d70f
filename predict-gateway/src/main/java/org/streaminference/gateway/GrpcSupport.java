package org.streaminference.gateway;

import org.streaminference.query.ApiError;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.apache.flink.annotation.Internal;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * What the gRPC services share: the caller's {@code authorization} metadata carried in the call's
 * context (checked by each method for its own scope, as the REST API does), the mapping of the REST
 * API's refusals to gRPC status codes, and {@code google.protobuf.Struct} to JSON trees.
 */
@Internal
final class GrpcSupport {
    static final Context.Key<String> AUTHORIZATION = Context.key("authorization");
    private static final Metadata.Key<String> AUTHORIZATION_HEADER =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private GrpcSupport() {}

    /** Puts each call's {@code authorization} metadata into its context. */
    static ServerInterceptor authorizationInterceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                Context context =
                        Context.current()
                                .withValue(AUTHORIZATION, headers.get(AUTHORIZATION_HEADER));
                return Contexts.interceptCall(context, call, headers, next);
            }
        };
    }

    /** The status a gRPC client expects for a refusal (or an internal error). */
    static StatusRuntimeException status(Throwable e) {
        Throwable cause =
                e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (!(cause instanceof ApiError api)) {
            return Status.INTERNAL.withDescription("internal error").asRuntimeException();
        }
        Status status =
                switch (api.status) {
                    case 400 -> Status.INVALID_ARGUMENT;
                    case 401 -> Status.UNAUTHENTICATED;
                    case 403 -> Status.PERMISSION_DENIED;
                    case 404 -> Status.NOT_FOUND;
                    case 409 -> Status.ALREADY_EXISTS;
                    case 429 -> Status.RESOURCE_EXHAUSTED;
                    case 503 -> Status.UNAVAILABLE;
                    case 504 -> Status.DEADLINE_EXCEEDED;
                    default -> Status.INTERNAL;
                };
        return status.withDescription(api.code + ": " + api.getMessage()).asRuntimeException();
    }

    static ApiError apiError(Throwable e) {
        Throwable cause =
                e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof ApiError api
                ? api
                : new ApiError(500, "internal_error", "internal error");
    }

    static JsonNode json(Struct struct) {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, Value> field : struct.getFieldsMap().entrySet()) {
            node.set(field.getKey(), json(field.getValue()));
        }
        return node;
    }

    private static JsonNode json(Value value) {
        return switch (value.getKindCase()) {
            case NUMBER_VALUE -> JsonNodeFactory.instance.numberNode(value.getNumberValue());
            case STRING_VALUE -> JsonNodeFactory.instance.textNode(value.getStringValue());
            case BOOL_VALUE -> JsonNodeFactory.instance.booleanNode(value.getBoolValue());
            case STRUCT_VALUE -> json(value.getStructValue());
            case LIST_VALUE -> {
                ArrayNode array = JsonNodeFactory.instance.arrayNode();
                for (Value v : value.getListValue().getValuesList()) {
                    array.add(json(v));
                }
                yield array;
            }
            default -> JsonNodeFactory.instance.nullNode();
        };
    }

    static Struct struct(Map<String, ?> map) {
        Struct.Builder builder = Struct.newBuilder();
        map.forEach((k, v) -> builder.putFields(k, value(v)));
        return builder.build();
    }

    @SuppressWarnings("unchecked")
    private static Value value(Object v) {
        if (v == null) {
            return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
        } else if (v instanceof Number n) {
            return Value.newBuilder().setNumberValue(n.doubleValue()).build();
        } else if (v instanceof Boolean b) {
            return Value.newBuilder().setBoolValue(b).build();
        } else if (v instanceof Map<?, ?> m) {
            return Value.newBuilder().setStructValue(struct((Map<String, ?>) m)).build();
        } else if (v instanceof Collection<?> c) {
            ListValue.Builder list = ListValue.newBuilder();
            c.forEach(x -> list.addValues(value(x)));
            return Value.newBuilder().setListValue(list).build();
        } else if (v instanceof long[] a) {
            ListValue.Builder list = ListValue.newBuilder();
            for (long x : a) {
                list.addValues(value(x));
            }
            return Value.newBuilder().setListValue(list).build();
        }
        return Value.newBuilder().setStringValue(String.valueOf(v)).build();
    }
}
