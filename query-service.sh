#!/usr/bin/env bash
# The query service over the result store: ./query-service.sh serve --config-dir flink-conf [--key value ...]
#   ./query-service.sh create-key NAME predictions:read[,models:read]   prints a new API key and its keys-file line
# Options: query.* and result-store.* (README, Configuration). It builds the project the first time.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
classpath_file="$root/sinks/target/query-classpath.txt"
if [[ ! -f "$classpath_file" || ! -d "$root/sinks/target/classes/org/streaminference/sinks/query" ]]; then
  echo "Building (mvn package, tests skipped) ..." >&2
  (cd "$root" && mvn -B -q -ntp -DskipTests -pl sinks -am package dependency:build-classpath \
      -DincludeScope=compile -Dmdep.outputFile="$classpath_file")
fi
exec java -Dlog4j2.configurationFile=classpath:log4j2-query.properties \
    -cp "$root/sinks/target/classes:$(cat "$classpath_file")" \
    org.streaminference.sinks.query.QueryService "$@"
