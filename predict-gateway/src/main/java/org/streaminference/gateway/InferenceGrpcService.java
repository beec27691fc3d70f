package org.streaminference.gateway;

import org.streaminference.gateway.oip.GRPCInferenceServiceGrpc;
import org.streaminference.gateway.oip.InferParameter;
import org.streaminference.gateway.oip.InferTensorContents;
import org.streaminference.gateway.oip.ModelInferRequest;
import org.streaminference.gateway.oip.ModelInferResponse;
import org.streaminference.gateway.oip.ModelMetadataRequest;
import org.streaminference.gateway.oip.ModelMetadataResponse;
import org.streaminference.gateway.oip.ModelReadyRequest;
import org.streaminference.gateway.oip.ModelReadyResponse;
import org.streaminference.gateway.oip.ServerLiveRequest;
import org.streaminference.gateway.oip.ServerLiveResponse;
import org.streaminference.gateway.oip.ServerMetadataRequest;
import org.streaminference.gateway.oip.ServerMetadataResponse;
import org.streaminference.gateway.oip.ServerReadyRequest;
import org.streaminference.gateway.oip.ServerReadyResponse;
import org.streaminference.query.ApiError;
import org.streaminference.query.ApiKeys;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import org.apache.flink.annotation.Internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Open Inference Protocol's {@code inference.GRPCInferenceService}, so that KServe and Triton
 * clients call the gateway unchanged: liveness, readiness, metadata, and {@code ModelInfer} with
 * named input tensors mapped to event fields ({@link OipTensors}); typed contents and raw
 * (little-endian) contents both read.
 */
@Internal
final class InferenceGrpcService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
    private final PredictService service;
    private final Authenticator auth;
    private final ServedModelsView models;
    private final GatewayMetrics metrics;
    private final long defaultTimeoutMs;
    private final long maxTimeoutMs;
    private final int maxBatch;

    InferenceGrpcService(FrontDoor door) {
        this.service = door.service();
        this.auth = door.auth();
        this.models = door.models();
        this.metrics = door.metrics();
        this.defaultTimeoutMs = door.defaultTimeoutMs();
        this.maxTimeoutMs = door.maxTimeoutMs();
        this.maxBatch = door.maxBatch();
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
        out.onNext(ServerLiveResponse.newBuilder().setLive(true).build());
        out.onCompleted();
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
        out.onNext(ServerReadyResponse.newBuilder().setReady(service.ready()).build());
        out.onCompleted();
    }

    @Override
    public void serverMetadata(
            ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
        out.onNext(
                ServerMetadataResponse.newBuilder()
                        .setName("streaminference-predict-gateway")
                        .setVersion("v2")
                        .build());
        out.onCompleted();
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
        try {
            auth.authorize(GrpcSupport.AUTHORIZATION.get(), ApiKeys.MODELS_READ);
            out.onNext(
                    ModelReadyResponse.newBuilder()
                            .setReady(service.ready() && models.serves(request.getName()))
                            .build());
            out.onCompleted();
        } catch (ApiError e) {
            out.onError(GrpcSupport.status(e));
        }
    }

    @Override
    public void modelMetadata(
            ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
        try {
            auth.authorize(GrpcSupport.AUTHORIZATION.get(), ApiKeys.MODELS_READ);
            var deployment =
                    models.deployment(request.getName())
                            .orElseThrow(
                                    () ->
                                            new ApiError(
                                                    404,
                                                    "model_not_found",
                                                    "no job reported serving this model"));
            ModelMetadataResponse.Builder metadata =
                    ModelMetadataResponse.newBuilder()
                            .setName(request.getName())
                            .addAllVersions(deployment.servedVersions())
                            .setPlatform("streaminference_onnx");
            OipTensors.inputsMetadata(service.fields().eventFields())
                    .forEach(t -> metadata.addInputs(tensor(t)));
            OipTensors.outputsMetadata().forEach(t -> metadata.addOutputs(tensor(t)));
            out.onNext(metadata.build());
            out.onCompleted();
        } catch (ApiError e) {
            out.onError(GrpcSupport.status(e));
        }
    }

    private static ModelMetadataResponse.TensorMetadata tensor(OipTensors.Tensor t) {
        ModelMetadataResponse.TensorMetadata.Builder m =
                ModelMetadataResponse.TensorMetadata.newBuilder()
                        .setName(t.name())
                        .setDatatype(t.datatype());
        for (long d : t.shape()) {
            m.addShape(d);
        }
        return m.build();
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
        List<PredictCall> calls;
        Caller caller;
        try {
            caller = auth.authorize(GrpcSupport.AUTHORIZATION.get(), ApiKeys.PREDICT);
            calls =
                    OipTensors.calls(
                            request.getModelName(),
                            request.getId(),
                            parameters(request.getParametersMap()),
                            inputs(request),
                            service.fields().eventFields(),
                            defaultTimeoutMs,
                            maxTimeoutMs,
                            maxBatch);
            auth.admit(caller, calls.size());
        } catch (ApiError e) {
            metrics.answered("oip", e.code);
            out.onError(GrpcSupport.status(e));
            return;
        }
        PredictHttpApi.submitAll(service, caller, calls)
                .whenComplete(
                        (answers, e) -> {
                            if (e != null) {
                                metrics.answered("oip", GrpcSupport.apiError(e).code);
                                out.onError(GrpcSupport.status(e));
                                return;
                            }
                            metrics.answered("oip", "ok");
                            ModelInferResponse.Builder response =
                                    ModelInferResponse.newBuilder()
                                            .setModelName(request.getModelName())
                                            .setModelVersion(OipTensors.versions(answers))
                                            .setId(request.getId());
                            for (OipTensors.Tensor t : OipTensors.outputs(answers)) {
                                response.addOutputs(output(t));
                            }
                            out.onNext(response.build());
                            out.onCompleted();
                        });
    }

    private static ModelInferResponse.InferOutputTensor output(OipTensors.Tensor t) {
        ModelInferResponse.InferOutputTensor.Builder out =
                ModelInferResponse.InferOutputTensor.newBuilder()
                        .setName(t.name())
                        .setDatatype(t.datatype());
        for (long d : t.shape()) {
            out.addShape(d);
        }
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (Object v : t.data()) {
            switch (t.datatype()) {
                case "FP64" -> contents.addFp64Contents(((Number) v).doubleValue());
                case "INT64" -> contents.addInt64Contents(((Number) v).longValue());
                default ->
                        contents.addBytesContents(
                                ByteString.copyFrom(String.valueOf(v), StandardCharsets.UTF_8));
            }
        }
        return out.setContents(contents).build();
    }

    private static Map<String, Object> parameters(Map<String, InferParameter> given) {
        Map<String, Object> parameters = new HashMap<>();
        given.forEach(
                (k, p) ->
                        parameters.put(
                                k,
                                switch (p.getParameterChoiceCase()) {
                                    case BOOL_PARAM -> p.getBoolParam();
                                    case INT64_PARAM -> p.getInt64Param();
                                    case STRING_PARAM -> p.getStringParam();
                                    default -> null;
                                }));
        return parameters;
    }

    private static List<OipTensors.Tensor> inputs(ModelInferRequest request) {
        boolean raw = request.getRawInputContentsCount() > 0;
        if (raw && request.getRawInputContentsCount() != request.getInputsCount()) {
            throw new ApiError(
                    400, "invalid_input", "raw_input_contents needs one entry per input");
        }
        List<OipTensors.Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < request.getInputsCount(); i++) {
            ModelInferRequest.InferInputTensor in = request.getInputs(i);
            long[] shape = in.getShapeList().stream().mapToLong(Long::longValue).toArray();
            List<Object> data =
                    raw
                            ? raw(in.getName(), in.getDatatype(), request.getRawInputContents(i))
                            : typed(in.getDatatype(), in.getContents());
            tensors.add(new OipTensors.Tensor(in.getName(), in.getDatatype(), shape, data));
        }
        return tensors;
    }

    private static List<Object> typed(String datatype, InferTensorContents c) {
        List<Object> data = new ArrayList<>();
        switch (datatype) {
            case "FP32" ->
                    data.addAll(c.getFp32ContentsList().stream().map(Float::doubleValue).toList());
            case "FP64" -> data.addAll(c.getFp64ContentsList());
            case "INT64" ->
                    data.addAll(c.getInt64ContentsList().stream().map(Long::doubleValue).toList());
            case "INT8", "INT16", "INT32" ->
                    data.addAll(c.getIntContentsList().stream().map(Integer::doubleValue).toList());
            case "BOOL" -> c.getBoolContentsList().forEach(b -> data.add(b ? 1.0 : 0.0));
            case "BYTES" -> c.getBytesContentsList().forEach(b -> data.add(b.toStringUtf8()));
            default ->
                    throw new ApiError(
                            400, "invalid_input", "datatype " + datatype + " is not taken");
        }
        return data;
    }

    private static List<Object> raw(String name, String datatype, ByteString bytes) {
        ByteBuffer buffer = bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<Object> data = new ArrayList<>();
        try {
            switch (datatype) {
                case "FP32" -> {
                    while (buffer.hasRemaining()) {
                        data.add((double) buffer.getFloat());
                    }
                }
                case "FP64" -> {
                    while (buffer.hasRemaining()) {
                        data.add(buffer.getDouble());
                    }
                }
                case "INT64" -> {
                    while (buffer.hasRemaining()) {
                        data.add((double) buffer.getLong());
                    }
                }
                case "INT32" -> {
                    while (buffer.hasRemaining()) {
                        data.add((double) buffer.getInt());
                    }
                }
                case "BYTES" -> {
                    while (buffer.hasRemaining()) {
                        int length = buffer.getInt();
                        if (length < 0 || length > buffer.remaining()) {
                            throw new ApiError(
                                    400, "invalid_input", "input '" + name + "': bad BYTES length");
                        }
                        byte[] element = new byte[length];
                        buffer.get(element);
                        data.add(new String(element, StandardCharsets.UTF_8));
                    }
                }
                default ->
                        throw new ApiError(
                                400, "invalid_input", "datatype " + datatype + " is not taken raw");
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw new ApiError(
                    400, "invalid_input", "input '" + name + "': raw contents end mid-value");
        }
        return data;
    }
}
