package org.streaminference.operators.inference.routing;

import org.streaminference.model.AnswerContract;

import org.apache.flink.annotation.Internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether an ensemble's members can be combined, from what each member version answers ({@link
 * AnswerContract}): all class probabilities (of the same classes, by label where the members name
 * them), all labels, or all scores. Checked when a plan is applied, when a command changes the
 * versions a member model serves, and at the start, so that members that cannot be combined are
 * refused then, with a reason naming them, never found event by event.
 */
@Internal
public final class EnsembleCompatibility {
    private EnsembleCompatibility() {}

    /** A version that may answer for a member: {@code model:version}, and what it answers. */
    public record Member(String name, AnswerContract contract) {}

    /**
     * Why {@code members} cannot be combined in ensemble {@code ensemble}, or null where they can
     * (and where there is nothing to compare yet).
     */
    public static String problem(String ensemble, List<Member> members) {
        String prefix = "ensemble '" + ensemble + "' ";
        for (Member m : members) {
            if (m.contract().kind() == AnswerContract.Kind.NONE) {
                return prefix
                        + "cannot combine "
                        + m.name()
                        + ": it gives "
                        + m.contract().describe();
            }
            Set<String> seen = new HashSet<>();
            for (String label : m.contract().classes()) {
                if (!seen.add(label)) {
                    return prefix
                            + "cannot combine "
                            + m.name()
                            + ": it names class '"
                            + label
                            + "' twice "
                            + m.contract().classes();
                }
            }
        }
        if (members.size() < 2) {
            return null;
        }
        Member first = members.get(0);
        for (Member m : members) {
            if (m.contract().kind() != first.contract().kind()) {
                return prefix
                        + "cannot combine members that answer in different kinds: "
                        + describe(members);
            }
        }
        if (first.contract().kind() != AnswerContract.Kind.CLASS_PROBABILITIES) {
            return null;
        }
        boolean named = first.contract().namesClasses();
        for (Member m : members) {
            if (m.contract().namesClasses() != named) {
                return prefix
                        + "cannot combine members that name their classes with members that do not (their"
                        + " classes would be matched by position): "
                        + describe(members)
                        + "; publish the unnamed"
                        + " ones with --labels";
            }
            if (named
                    ? !new HashSet<>(m.contract().classes())
                            .equals(new HashSet<>(first.contract().classes()))
                    : m.contract().classCount() >= 0
                            && first.contract().classCount() >= 0
                            && m.contract().classCount() != first.contract().classCount()) {
                return prefix + "cannot combine members of different classes: " + describe(members);
            }
        }
        return null;
    }

    private static String describe(List<Member> members) {
        List<String> parts = new ArrayList<>();
        for (Member m : members) {
            parts.add(m.name() + " (" + m.contract().describe() + ")");
        }
        return String.join(", ", parts);
    }
}
