package org.streaminference.gateway;

import org.apache.flink.annotation.Internal;

/**
 * What every front door of the gateway (REST, gRPC, the Open Inference Protocol) works with: the
 * service that sends requests to the job, who may ask, the view of the served models, the metrics,
 * and the request limits.
 */
@Internal
record FrontDoor(
        PredictService service,
        Authenticator auth,
        ServedModelsView models,
        GatewayMetrics metrics,
        long defaultTimeoutMs,
        long maxTimeoutMs,
        int maxBatch) {}
