#!/usr/bin/env bash
# Runs the whole pipeline locally: real Kafka and PostgreSQL from Maven artifacts, the job on a Flink MiniCluster,
# demo models and a demo event generator. Options: ./run-local.sh --help
set -euo pipefail
cd "$(dirname "$0")"

classpath_file=jobs/target/local-classpath.txt
echo "Building (mvn package, tests skipped) ..."
mvn -B -q -ntp -DskipTests -pl jobs -am package dependency:build-classpath \
    -DincludeScope=compile -Dmdep.outputFile="$PWD/$classpath_file"

# Flink's --add-opens for Java 17: one list, shared with the other scripts and the tests
exec java @flink-conf/jvm-opens.args -Xmx2g \
    -Dlog4j2.configurationFile=classpath:log4j2-local.properties \
    -cp "jobs/target/classes:$(cat "$classpath_file")" \
    org.streaminference.jobs.local.LocalPipeline "$@"
