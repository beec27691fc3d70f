package org.streaminference.jobs;

import org.streaminference.gateway.PredictGatewayOptions;
import org.streaminference.query.QueryServiceOptions;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.description.HtmlFormatter;
import org.apache.flink.util.TimeUtils;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Writes the tables of docs/configuration.md from the {@link ConfigOption}s themselves, as Flink's
 * documentation generator (flink-docs) writes Flink's: key, type, default and description, one
 * table for the job, one for the query service and one for the predict gateway. {@link
 * ConfigurationReferenceTest} fails when the file is out of date and rewrites it when asked.
 */
final class ConfigurationReference {
    static final String BEGIN =
            "<!-- generated from the ConfigOptions by ConfigurationReferenceTest: do not edit -->";
    static final String END = "<!-- end of the generated tables -->";

    private ConfigurationReference() {}

    /** The generated part of docs/configuration.md, markers included. */
    static String generate() throws Exception {
        return BEGIN
                + "\n\n### The job\n\n"
                + table(PipelineOptions.all())
                + "\n### The query service\n\n"
                + table(QueryServiceOptions.all())
                + "\n### The predict gateway\n\n"
                + "It also reads the topics above (`kafka.bootstrap-servers`, `kafka.topic.predict-requests`,"
                + " `kafka.topic.predict-replies`, `model.events-topic`).\n\n"
                + table(PredictGatewayOptions.all())
                + "\n"
                + END;
    }

    private static String table(List<ConfigOption<?>> options) throws Exception {
        StringBuilder out =
                new StringBuilder("| key | type | default | description |\n|---|---|---|---|\n");
        for (ConfigOption<?> option : options) {
            out.append("| `")
                    .append(option.key())
                    .append("` | ")
                    .append(type(option))
                    .append(" | ")
                    .append(defaultValue(option))
                    .append(" | ")
                    .append(cell(plain(new HtmlFormatter().format(option.description()))))
                    .append(" |\n");
        }
        return out.toString();
    }

    /**
     * The option's type as Flink's documentation names it; the class is not public API, hence
     * reflection (as flink-docs does).
     */
    private static String type(ConfigOption<?> option) throws Exception {
        Method getClazz = ConfigOption.class.getDeclaredMethod("getClazz");
        Method isList = ConfigOption.class.getDeclaredMethod("isList");
        getClazz.setAccessible(true);
        isList.setAccessible(true);
        Class<?> clazz = (Class<?>) getClazz.invoke(option);
        String type;
        if (clazz.isEnum()) {
            type =
                    "enum: "
                            + Arrays.stream(clazz.getEnumConstants())
                                    .map(c -> "`" + c + "`")
                                    .collect(Collectors.joining(", "));
        } else if (clazz == Integer.class) {
            type = "int";
        } else if (clazz == MemorySize.class) {
            type = "memory";
        } else {
            type = clazz.getSimpleName().toLowerCase(Locale.ROOT);
        }
        return (boolean) isList.invoke(option) ? "list of " + type + "s (`;` between)" : type;
    }

    private static String defaultValue(ConfigOption<?> option) {
        if (!option.hasDefaultValue()) {
            return "(none)";
        }
        Object value = option.defaultValue();
        if (value instanceof Duration duration) {
            return TimeUtils.formatWithHighestUnit(duration);
        }
        if (value instanceof List<?> list) {
            return list.isEmpty()
                    ? "(empty)"
                    : list.stream().map(String::valueOf).collect(Collectors.joining(";"));
        }
        String text = String.valueOf(value);
        return text.isEmpty() ? "(empty)" : cell(text);
    }

    /** Flink's formatter writes HTML; the tables are Markdown, where the text reads as it is. */
    private static String plain(String html) {
        return html.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
    }

    private static String cell(String text) {
        return text.replace("|", "\\|").replace("\n", " ");
    }
}
