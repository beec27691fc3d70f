package org.streaminference.gateway;

import org.streaminference.features.spec.FeatureSpec;
import org.streaminference.features.spec.FeatureSpecs;
import org.streaminference.query.ApiKeysFile;
import org.streaminference.query.RateLimiter;
import org.streaminference.schemas.TopicOptions;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.concurrent.TimeUnit;

/**
 * The predict gateway: synchronous and hybrid predictions through the running job. A request (REST,
 * gRPC or the Open Inference Protocol) is checked, becomes a record on this instance's partition of
 * the request topic, goes through the job's validation, features and served model version like any
 * event, and its answer comes back on the reply topic's partition of the same number. Several
 * instances each take a partition of their own ({@code gateway.partition}).
 */
@PublicEvolving
public final class PredictGateway implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PredictGateway.class);

    private final ReplyChannel channel;
    private final ServedModelsView models;
    private final PredictService service;
    private final PredictHttpApi http;
    private final Server grpc;

    private PredictGateway(Configuration config) throws IOException {
        String bootstrap = config.get(TopicOptions.KAFKA_BOOTSTRAP_SERVERS);
        String requests = config.get(TopicOptions.PREDICT_REQUESTS_TOPIC);
        if (bootstrap == null || requests == null) {
            throw new IllegalConfigurationException(
                    "Options '"
                            + TopicOptions.KAFKA_BOOTSTRAP_SERVERS.key()
                            + "' and '"
                            + TopicOptions.PREDICT_REQUESTS_TOPIC.key()
                            + "' are required: the gateway reaches the job through its request topic.");
        }
        GatewayMetrics metrics = new GatewayMetrics();
        String keysFile = config.get(PredictGatewayOptions.API_KEYS_FILE);
        String jwks = config.get(PredictGatewayOptions.JWT_JWKS);
        if (keysFile == null && jwks == null) {
            throw new IllegalConfigurationException(
                    "Option '"
                            + PredictGatewayOptions.API_KEYS_FILE.key()
                            + "' or '"
                            + PredictGatewayOptions.JWT_JWKS.key()
                            + "' is required: the gateway answers only callers it can identify.");
        }
        Authenticator auth =
                new Authenticator(
                        keysFile == null
                                ? null
                                : new ApiKeysFile(Path.of(keysFile), Clock.systemUTC()),
                        jwks == null
                                ? null
                                : new JwtVerifier(
                                        jwks,
                                        config.get(PredictGatewayOptions.JWT_AUDIENCE),
                                        config.get(PredictGatewayOptions.JWT_ISSUER)),
                        new RateLimiter(
                                config.get(PredictGatewayOptions.RATE_LIMIT),
                                config.get(PredictGatewayOptions.RATE_LIMIT_BURST)),
                        metrics);
        String specLocation = config.get(PredictGatewayOptions.FEATURES_SPEC);
        FeatureSpec spec;
        try {
            spec = specLocation == null ? FeatureSpecs.demo() : FeatureSpecs.load(specLocation);
        } catch (Exception e) {
            throw new IllegalConfigurationException(
                    "The feature spec " + specLocation + " cannot be read: " + e.getMessage(), e);
        }
        long timeout = config.get(PredictGatewayOptions.TIMEOUT).toMillis();
        long maxTimeout = config.get(PredictGatewayOptions.MAX_TIMEOUT).toMillis();
        int maxBatch = config.get(PredictGatewayOptions.MAX_BATCH);
        OpenRequests open =
                new OpenRequests(
                        config.get(PredictGatewayOptions.ANSWER_RETENTION).toMillis(),
                        config.get(PredictGatewayOptions.ANSWER_CAPACITY));
        this.channel =
                new ReplyChannel(
                        bootstrap,
                        requests,
                        config.get(TopicOptions.PREDICT_REPLIES_TOPIC),
                        config.get(PredictGatewayOptions.PARTITION),
                        open,
                        metrics);
        this.models = new ServedModelsView(bootstrap, config.get(TopicOptions.MODEL_EVENTS_TOPIC));
        this.service =
                new PredictService(
                        new RequestFields(spec.eventFields()),
                        channel,
                        open,
                        metrics,
                        config.get(PredictGatewayOptions.MAX_IN_FLIGHT),
                        new HashSet<>(config.get(PredictGatewayOptions.ASYNC_EVENT_TYPES)),
                        Math.max(5_000, 2 * timeout));
        FrontDoor door =
                new FrontDoor(service, auth, models, metrics, timeout, maxTimeout, maxBatch);
        this.http = new PredictHttpApi(door);
        String host = config.get(PredictGatewayOptions.HOST);
        http.start(host, config.get(PredictGatewayOptions.PORT));
        int grpcPort = config.get(PredictGatewayOptions.GRPC_PORT);
        if (grpcPort >= 0) {
            grpc =
                    NettyServerBuilder.forAddress(new InetSocketAddress(host, grpcPort))
                            .maxInboundMessageSize(4 * 1024 * 1024)
                            .addService(
                                    ServerInterceptors.intercept(
                                            new PredictGrpcService(door),
                                            GrpcSupport.authorizationInterceptor()))
                            .addService(
                                    ServerInterceptors.intercept(
                                            new InferenceGrpcService(door),
                                            GrpcSupport.authorizationInterceptor()))
                            .build()
                            .start();
        } else {
            grpc = null;
        }
        LOG.info(
                "Predict gateway on HTTP port {}{}, partition {} of {}",
                http.port(),
                grpc == null ? "" : " and gRPC port " + grpc.getPort(),
                config.get(PredictGatewayOptions.PARTITION),
                requests);
    }

    /**
     * Starts a gateway with {@code config} ({@code gateway.*}, the topics, {@code features.spec}).
     */
    public static PredictGateway start(Configuration config) throws IOException {
        return new PredictGateway(config);
    }

    public int port() {
        return http.port();
    }

    /** The gRPC port, or -1 where gRPC is off. */
    public int grpcPort() {
        return grpc == null ? -1 : grpc.getPort();
    }

    @Override
    public void close() {
        if (grpc != null) {
            grpc.shutdown();
            try {
                grpc.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        http.stop();
        service.close();
        models.close();
        channel.close();
    }

    /** The command line: {@code serve}; see {@link PredictGatewayCli}. */
    public static void main(String[] args) {
        int exitCode = PredictGatewayCli.commandLine().execute(args);
        if (exitCode != 0) {
            System.exit(exitCode);
        }
    }
}
