package org.streaminference.gateway;

import org.streaminference.query.ApiError;
import org.streaminference.query.ApiKeysFile;
import org.streaminference.query.RateLimiter;

import org.apache.flink.annotation.Internal;

import java.util.Map;
import java.util.Optional;

/**
 * Who a request comes from and whether it may go on: an API key from the configured file or a JWT
 * verified against the configured keys (both as {@code Authorization: Bearer ...}; a token is tried
 * as a JWT when it has a JWT's three parts), the scope its operation needs, and the caller's rate
 * limit. Refusals are {@link ApiError}s with the status and headers a client expects (401 with
 * {@code WWW-Authenticate}, 403, 429 with {@code Retry-After}).
 */
@Internal
public final class Authenticator {
    private final ApiKeysFile keys;
    private final JwtVerifier jwt;
    private final RateLimiter limiter;
    private final GatewayMetrics metrics;

    Authenticator(ApiKeysFile keys, JwtVerifier jwt, RateLimiter limiter, GatewayMetrics metrics) {
        if (keys == null && jwt == null) {
            throw new IllegalArgumentException("the gateway needs API keys, a JWKS, or both");
        }
        this.keys = keys;
        this.jwt = jwt;
        this.limiter = limiter;
        this.metrics = metrics;
    }

    /** The caller of {@code authorization} (the header's value), with {@code scope}. */
    Caller authorize(String authorization, String scope) {
        Caller caller = authenticate(authorization);
        if (!caller.may(scope)) {
            metrics.rejected("forbidden");
            throw new ApiError(403, "forbidden", "the caller lacks the scope " + scope);
        }
        return caller;
    }

    /** Takes {@code n} of the caller's rate-limit tokens, or refuses with 429. */
    void admit(Caller caller, int n) {
        for (int i = 0; i < n; i++) {
            long waitMillis = limiter.tryAcquire(caller.name());
            if (waitMillis > 0) {
                metrics.rejected("rate_limited");
                throw new ApiError(
                        429,
                        "rate_limited",
                        "too many requests for this caller",
                        Map.of(
                                "Retry-After",
                                Long.toString(Math.max(1, (waitMillis + 999) / 1000))));
            }
        }
    }

    private Caller authenticate(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            metrics.rejected("unauthenticated");
            throw new ApiError(
                    401,
                    "unauthenticated",
                    "an API key or token is required (Authorization: Bearer <key or token>)",
                    Map.of("WWW-Authenticate", "Bearer"));
        }
        String presented = authorization.substring(7).trim();
        Optional<Caller> caller = Optional.empty();
        if (jwt != null && presented.chars().filter(c -> c == '.').count() == 2) {
            caller = jwt.verify(presented);
        } else if (keys != null) {
            caller =
                    keys.authenticate(presented)
                            .map(key -> new Caller("key:" + key.name(), key.scopes()));
        }
        return caller.orElseThrow(
                () -> {
                    metrics.rejected("unauthenticated");
                    return new ApiError(
                            401,
                            "unauthenticated",
                            "the API key or token is not valid",
                            Map.of("WWW-Authenticate", "Bearer error=\"invalid_token\""));
                });
    }
}
