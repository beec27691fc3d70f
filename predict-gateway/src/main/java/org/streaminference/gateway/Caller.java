package org.streaminference.gateway;

import org.apache.flink.annotation.Internal;

import java.util.Set;

/**
 * Who asks: an API key's name or a token's subject (rate limits and answers are kept per caller),
 * and what it may do.
 */
@Internal
public record Caller(String name, Set<String> scopes) {
    public boolean may(String scope) {
        return scopes.contains(scope);
    }
}
