package org.streaminference.bench;

import org.streaminference.embedded.EmbeddedKafkaBroker;

import java.nio.file.Path;

/**
 * A Kafka broker in a process of its own, so that a benchmark's figures for the job's process do
 * not include the broker's work. Prints {@code READY <bootstrap>} once it serves, and stops when
 * its standard input closes (the benchmark that started it ended).
 */
public final class KafkaBrokerProcess {
    private KafkaBrokerProcess() {}

    public static void main(String[] args) throws Exception {
        try (EmbeddedKafkaBroker broker =
                EmbeddedKafkaBroker.start(Path.of(args[0]), Integer.parseInt(args[1]))) {
            System.out.println("READY " + broker.bootstrapServers());
            System.out.flush();
            while (System.in.read() >= 0) {
                // until the parent closes our standard input
            }
        }
        System.exit(0);
    }
}
