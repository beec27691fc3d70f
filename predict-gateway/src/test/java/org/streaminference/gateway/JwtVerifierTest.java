package org.streaminference.gateway;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Date;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

class JwtVerifierTest {
    private static RSAKey key;
    private static RSAKey stranger;
    private static JwtVerifier verifier;

    @BeforeAll
    static void keys(@TempDir Path dir) throws Exception {
        key = new RSAKeyGenerator(2048).keyID("k1").generate();
        stranger = new RSAKeyGenerator(2048).keyID("k1").generate();
        Path jwks = dir.resolve("jwks.json");
        Files.writeString(jwks, new JWKSet(key.toPublicJWK()).toString());
        verifier = new JwtVerifier(jwks.toString(), "streaminference", "https://issuer.example");
    }

    private static JWTClaimsSet.Builder claims() {
        return new JWTClaimsSet.Builder()
                .subject("checkout")
                .audience("streaminference")
                .issuer("https://issuer.example")
                .expirationTime(new Date(System.currentTimeMillis() + 60_000));
    }

    private static String signed(RSAKey by, Consumer<JWTClaimsSet.Builder> change)
            throws Exception {
        JWTClaimsSet.Builder c = claims();
        change.accept(c);
        SignedJWT jwt =
                new SignedJWT(
                        new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(by.getKeyID()).build(),
                        c.build());
        jwt.sign(new RSASSASigner(by));
        return jwt.serialize();
    }

    @Test
    void aTokenSignedByAConfiguredKeyIsItsSubjectWithItsScopes() throws Exception {
        assertThat(verifier.verify(signed(key, c -> c.claim("scope", "predict models:read"))))
                .hasValueSatisfying(
                        caller -> {
                            assertThat(caller.name()).isEqualTo("jwt:checkout");
                            assertThat(caller.scopes())
                                    .containsExactlyInAnyOrder("predict", "models:read");
                        });
        assertThat(verifier.verify(signed(key, c -> c.claim("scp", List.of("predict")))))
                .hasValueSatisfying(caller -> assertThat(caller.may("predict")).isTrue());
    }

    @Test
    void expiredForeignOrForgedTokensAreRefused() throws Exception {
        assertThat(
                        verifier.verify(
                                signed(
                                        key,
                                        c ->
                                                c.expirationTime(
                                                        new Date(
                                                                System.currentTimeMillis()
                                                                        - 120_000)))))
                .as("expired")
                .isEmpty();
        assertThat(verifier.verify(signed(key, c -> c.expirationTime(null))))
                .as("no expiry")
                .isEmpty();
        assertThat(verifier.verify(signed(key, c -> c.audience("elsewhere"))))
                .as("audience")
                .isEmpty();
        assertThat(verifier.verify(signed(key, c -> c.issuer("https://evil.example"))))
                .as("issuer")
                .isEmpty();
        assertThat(verifier.verify(signed(stranger, c -> {}))).as("another key").isEmpty();
        assertThat(verifier.verify(new PlainJWT(claims().build()).serialize()))
                .as("alg none")
                .isEmpty();
        // HMAC keyed with the public key's bytes: the algorithm confusion attack
        SignedJWT hmac = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims().build());
        hmac.sign(new MACSigner(key.toPublicJWK().toRSAPublicKey().getEncoded()));
        assertThat(verifier.verify(hmac.serialize())).as("HS256").isEmpty();
        assertThat(verifier.verify("not.a.token")).isEmpty();
    }
}
