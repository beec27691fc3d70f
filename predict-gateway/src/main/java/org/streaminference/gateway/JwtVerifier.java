package org.streaminference.gateway;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.ConfigurableJWTProcessor;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import org.apache.flink.annotation.Internal;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Verifies JWT bearer tokens against configured keys (a JWKS file, or an https URL fetched and
 * cached by Nimbus): an RS256 or ES256 signature by one of the keys, an expiry that has not passed
 * (60 s of clock skew), the configured audience and, where set, issuer. The caller is the token's
 * subject, its scopes those of the {@code scope} (space-separated) or {@code scp} claim. An
 * unsigned ({@code alg: none}) or HMAC token is refused: the key selector accepts only the two
 * public-key algorithms.
 */
@Internal
public final class JwtVerifier {
    private final ConfigurableJWTProcessor<SecurityContext> processor;

    JwtVerifier(String jwks, String audience, String issuer) throws IOException {
        JWKSource<SecurityContext> keys;
        if (jwks.startsWith("https://") || jwks.startsWith("http://")) {
            keys = JWKSourceBuilder.create(URI.create(jwks).toURL()).retrying(true).build();
        } else {
            try {
                keys = new ImmutableJWKSet<>(JWKSet.parse(Files.readString(Path.of(jwks))));
            } catch (ParseException e) {
                throw new IOException(
                        jwks + " is not a JWKS (JSON Web Key Set): " + e.getMessage());
            }
        }
        processor = new DefaultJWTProcessor<>();
        processor.setJWSKeySelector(
                new JWSVerificationKeySelector<>(
                        Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256), keys));
        JWTClaimsSet.Builder exact = new JWTClaimsSet.Builder();
        if (issuer != null) {
            exact.issuer(issuer);
        }
        processor.setJWTClaimsSetVerifier(
                new DefaultJWTClaimsVerifier<>(audience, exact.build(), Set.of("sub", "exp")));
    }

    /** The token's caller, or empty when the token is not one this gateway accepts. */
    Optional<Caller> verify(String token) {
        if (token.length() > 8192 || token.chars().filter(c -> c == '.').count() != 2) {
            return Optional.empty();
        }
        try {
            JWTClaimsSet claims = processor.process(token, null);
            return Optional.of(new Caller("jwt:" + claims.getSubject(), scopes(claims)));
        } catch (ParseException | BadJOSEException | JOSEException e) {
            return Optional.empty();
        }
    }

    private static Set<String> scopes(JWTClaimsSet claims) throws ParseException {
        Set<String> scopes = new HashSet<>();
        String scope = claims.getStringClaim("scope");
        if (scope != null) {
            scopes.addAll(List.of(scope.trim().split("\\s+")));
        }
        Object scp = claims.getClaim("scp");
        if (scp instanceof List<?> list) {
            list.forEach(s -> scopes.add(String.valueOf(s)));
        } else if (scp instanceof String s) {
            scopes.addAll(List.of(s.trim().split("\\s+")));
        }
        return Set.copyOf(scopes);
    }
}
