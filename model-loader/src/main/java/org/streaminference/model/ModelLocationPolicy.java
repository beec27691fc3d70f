package org.streaminference.model;

import org.apache.flink.core.fs.Path;

import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * Decides whether a model may be read from a location: its URI scheme must be allowed, it may not contain
 * {@code ..} segments, and where roots are configured it must lie under one of them. A control topic is an input
 * like any other; without this, anyone who can write to it could make the job read any file its user can read.
 */
final class ModelLocationPolicy {
    private final List<String> schemes;
    private final List<URI> roots;

    ModelLocationPolicy(List<String> schemes, List<String> roots) {
        this.schemes = schemes.stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
        this.roots = roots.stream().map(r -> normalize(new Path(r).toUri())).toList();
    }

    void check(Path path) throws ModelLoadException {
        URI uri = path.toUri();
        String raw = uri.getPath() == null ? "" : uri.getPath();
        for (String segment : raw.split("/")) {
            if (segment.equals("..")) {
                throw notAllowed(path, "it contains '..'");
            }
        }
        String scheme = uri.getScheme() == null ? "file" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!schemes.contains(scheme)) {
            throw notAllowed(path, "scheme '" + scheme + "' is not one of " + schemes);
        }
        if (roots.isEmpty()) {
            return;
        }
        URI normalized = normalize(uri);
        for (URI root : roots) {
            if (under(normalized, root)) {
                return;
            }
        }
        throw notAllowed(path, "it is not under an allowed root " + roots);
    }

    private static boolean under(URI location, URI root) {
        if (!scheme(root).equals(scheme(location))
                || !String.valueOf(root.getAuthority()).equals(String.valueOf(location.getAuthority()))) {
            return false;
        }
        String rootPath = root.getPath().endsWith("/") ? root.getPath() : root.getPath() + "/";
        return location.getPath().equals(root.getPath()) || location.getPath().startsWith(rootPath);
    }

    private static String scheme(URI uri) {
        return uri.getScheme() == null ? "file" : uri.getScheme().toLowerCase(Locale.ROOT);
    }

    private static URI normalize(URI uri) {
        return uri.normalize();
    }

    private static ModelLoadException notAllowed(Path path, String why) {
        return new ModelLoadException(ModelLoadException.Reason.URI_NOT_ALLOWED,
                "models may not be read from " + path + ": " + why);
    }
}
