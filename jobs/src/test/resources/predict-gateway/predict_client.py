"""A Python gRPC client of the predict gateway, as a user writes one with Debian's python3-grpcio:
stubs generated from the gateway's .proto files by grpc_tools.protoc (their directory is argv[1]).
Reads what to ask from stdin (JSON) and prints what it got (JSON)."""
import json
import sys

import grpc

sys.path.insert(0, sys.argv[1])
from inference import grpc_predict_v2_pb2 as oip  # noqa: E402
from inference import grpc_predict_v2_pb2_grpc as oip_grpc  # noqa: E402
from streaminference.predict.v1 import predict_pb2, predict_pb2_grpc  # noqa: E402

ask = json.load(sys.stdin)
metadata = [("authorization", "Bearer " + ask["token"])]
with grpc.insecure_channel(ask["target"]) as channel:
    out = {}

    # the project's own service
    p = ask["predict"]
    request = predict_pb2.PredictRequest(
        model=ask["model"], entity_id=p["entity_id"], request_id=p["request_id"],
        event_time=p["event_time"])
    request.fields.update(p["fields"])
    response = predict_pb2_grpc.PredictionServiceStub(channel).Predict(
        request, metadata=metadata, timeout=60)
    out["predict"] = {"status": response.status, "score": response.score,
                      "version": response.version, "total_ms": response.timing.total_ms}

    # the Open Inference Protocol, as KServe's and Triton's clients send it
    inference = oip_grpc.GRPCInferenceServiceStub(channel)
    meta = inference.ModelMetadata(oip.ModelMetadataRequest(name=ask["model"]),
                                   metadata=metadata, timeout=30)
    out["metadata"] = {"name": meta.name, "inputs": [i.name for i in meta.inputs]}
    i = ask["infer"]
    f = i["fields"]
    infer = oip.ModelInferRequest(model_name=ask["model"], id=i["id"])
    infer.parameters["event_time"].int64_param = i["event_time"]

    def tensor(name, datatype, shape):
        t = infer.inputs.add()
        t.name = name
        t.datatype = datatype
        t.shape.extend(shape)
        return t.contents

    tensor("entity_id", "BYTES", [1]).bytes_contents.append(i["entity_id"].encode())
    tensor("payment.amount", "FP64", [1]).fp64_contents.append(f["payment"]["amount"])
    tensor("payment.currency", "BYTES", [1]).bytes_contents.append(
        f["payment"]["currency"].encode())
    tensor("customer.segment", "BYTES", [1]).bytes_contents.append(
        f["customer"]["segment"].encode())
    tensor("customer.embedding", "FP32", [1, 4]).fp32_contents.extend(f["customer"]["embedding"])
    tensor("coupon", "FP64", [1]).fp64_contents.append(f["coupon"])
    result = inference.ModelInfer(infer, metadata=metadata, timeout=60)
    scores = [o for o in result.outputs if o.name == "score"][0]
    out["infer"] = {"id": result.id, "model_version": result.model_version,
                    "score": scores.contents.fp64_contents[0]}
print(json.dumps(out))
