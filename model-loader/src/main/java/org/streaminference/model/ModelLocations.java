package org.streaminference.model;

import org.apache.flink.annotation.Internal;
import org.apache.flink.core.fs.Path;

/** Compares model locations by what they name, not how they are written. */
@Internal
public final class ModelLocations {
    private ModelLocations() {}

    /**
     * The canonical form of a location: {@code /x}, {@code file:/x} and {@code file:///x} are one
     * location, as are paths that differ only in {@code .} segments or doubled slashes.
     */
    public static String canonical(String location) {
        if (location == null) {
            return null;
        }
        try {
            return ModelLocationPolicy.canonical(new Path(location).toUri()).toString();
        } catch (RuntimeException e) {
            return location;
        }
    }

    public static boolean same(String a, String b) {
        return a != null && b != null && canonical(a).equals(canonical(b));
    }
}
