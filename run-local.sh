#!/usr/bin/env bash
# Runs the whole pipeline locally: real Kafka and PostgreSQL from Maven artifacts, the job on a Flink MiniCluster,
# demo models and a demo event generator. Options: ./run-local.sh --help
set -euo pipefail
cd "$(dirname "$0")"

classpath_file=jobs/target/local-classpath.txt
echo "Building (mvn package, tests skipped) ..."
mvn -B -q -ntp -DskipTests -pl jobs -am package dependency:build-classpath \
    -DincludeScope=compile -Dmdep.outputFile="$PWD/$classpath_file"

JAVA_OPENS=(
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.sql/java.sql=ALL-UNNAMED
)
exec java "${JAVA_OPENS[@]}" -Xmx2g \
    -Dlog4j2.configurationFile=classpath:log4j2-local.properties \
    -cp "jobs/target/classes:$(cat "$classpath_file")" \
    org.streaminference.jobs.local.LocalPipeline "$@"
