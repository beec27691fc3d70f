package org.streaminference.model;

import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.Path;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;

/**
 * Decides whether a model may be read from a location: its URI scheme must be allowed, it may not
 * contain {@code ..} segments, where roots are configured it must lie under one of them, and it
 * must be a regular file. On the local file system the check is made on the real path, with every
 * symbolic link resolved, so a link inside a root cannot lead outside it. A control topic is an
 * input like any other; without this, anyone who can write to it could make the job read any file
 * its user can read.
 */
final class ModelLocationPolicy {
    private final List<String> schemes;
    private final List<URI> roots;

    ModelLocationPolicy(List<String> schemes, List<String> roots) {
        this.schemes = schemes.stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
        this.roots = roots.stream().map(r -> realRoot(canonical(new Path(r).toUri()))).toList();
    }

    /**
     * Checks the location of a file to read and returns it as it must be read: the real path on the
     * local file system, the location itself elsewhere.
     */
    Path check(Path path) throws ModelLoadException {
        URI uri = canonical(path.toUri());
        String raw = path.toUri().getPath() == null ? "" : path.toUri().getPath();
        for (String segment : raw.split("/")) {
            if (segment.equals("..")) {
                throw notAllowed(path, "it contains '..'");
            }
        }
        String scheme = scheme(uri);
        if (!schemes.contains(scheme)) {
            throw notAllowed(path, "scheme '" + scheme + "' is not one of " + schemes);
        }
        // the location as written first: a location outside every root is refused before anything
        // is looked up, so
        // that the answer tells nothing about files outside the roots
        requireUnderRoot(path, uri, null);
        Path target = path;
        if (scheme.equals("file")) {
            java.nio.file.Path real;
            try {
                real = Paths.get(uri).toRealPath();
            } catch (NoSuchFileException e) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.NOT_FOUND, "no file at " + path);
            } catch (IOException | RuntimeException e) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.NOT_FOUND, "cannot resolve " + path);
            }
            if (!Files.isRegularFile(real)) {
                throw notAllowed(path, "it is not a regular file");
            }
            uri = real.toUri();
            target = new Path(uri);
        } else {
            try {
                FileStatus status = path.getFileSystem().getFileStatus(path);
                if (status.isDir()) {
                    throw notAllowed(path, "it is a directory, not a regular file");
                }
            } catch (FileNotFoundException e) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.NOT_FOUND, "no file at " + path);
            } catch (IOException e) {
                throw new ModelLoadException(
                        ModelLoadException.Reason.NOT_FOUND, "cannot read " + path);
            }
        }
        requireUnderRoot(path, uri, target != path ? uri.getPath() : null);
        return target;
    }

    private void requireUnderRoot(Path path, URI uri, String realPath) throws ModelLoadException {
        if (roots.isEmpty()) {
            return;
        }
        for (URI root : roots) {
            if (under(uri, root)) {
                return;
            }
        }
        throw notAllowed(
                path,
                "it is not under an allowed root "
                        + roots
                        + (realPath != null ? " (its real path is " + realPath + ")" : ""));
    }

    private static boolean under(URI location, URI root) {
        if (!scheme(root).equals(scheme(location))
                || !authority(root).equals(authority(location))) {
            return false;
        }
        String rootPath = root.getPath().endsWith("/") ? root.getPath() : root.getPath() + "/";
        return location.getPath().equals(root.getPath()) || location.getPath().startsWith(rootPath);
    }

    private static String scheme(URI uri) {
        return uri.getScheme() == null ? "file" : uri.getScheme().toLowerCase(Locale.ROOT);
    }

    /**
     * {@code file:/x} and {@code file:///x} are one location: an empty authority is no authority.
     */
    private static String authority(URI uri) {
        return uri.getAuthority() == null ? "" : uri.getAuthority();
    }

    /**
     * The normalized form of a location, with the scheme {@code file} made explicit for plain
     * paths.
     */
    static URI canonical(URI uri) {
        URI normalized = uri.normalize();
        if (normalized.getScheme() == null
                && normalized.getPath() != null
                && normalized.getPath().startsWith("/")) {
            return Paths.get(normalized.getPath()).toUri().normalize();
        }
        if ("file".equalsIgnoreCase(normalized.getScheme()) && normalized.getPath() != null) {
            return Paths.get(normalized.getPath()).toUri().normalize();
        }
        return normalized;
    }

    /**
     * A local root by its real path where it exists, so that roots given through a symbolic link
     * still match.
     */
    private static URI realRoot(URI root) {
        if (scheme(root).equals("file")) {
            try {
                return Paths.get(root).toRealPath().toUri();
            } catch (IOException | RuntimeException e) {
                return root;
            }
        }
        return root;
    }

    private static ModelLoadException notAllowed(Path path, String why) {
        return new ModelLoadException(
                ModelLoadException.Reason.URI_NOT_ALLOWED,
                "models may not be read from " + path + ": " + why);
    }
}
