#!/usr/bin/env bash
# Runs the whole pipeline locally: real Kafka and PostgreSQL from Maven artifacts, the job on a Flink MiniCluster,
# demo models and a demo event generator. Options: ./run-local.sh --help
# Paths given as options are relative to where it is run from, as are its work directory (.local-run) and log.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"

classpath_file="$root/local-runner/target/local-classpath.txt"
echo "Building (mvn package, tests skipped) ..."
(cd "$root" && mvn -B -q -ntp -DskipTests -pl local-runner -am package dependency:build-classpath \
    -DincludeScope=runtime -Dmdep.outputFile="$classpath_file")

# Flink's --add-opens for Java 17: one list, shared with the other scripts and the tests
exec java @"$root/flink-conf/jvm-opens.args" -Xmx2g \
    -Dlog4j2.configurationFile=classpath:log4j2-local.properties \
    -cp "$root/local-runner/target/classes:$(cat "$classpath_file")" \
    org.streaminference.local.LocalPipeline "$@"
