#!/usr/bin/env bash
# The query service over the result store: ./query-service.sh serve --config-dir flink-conf [--key value ...]
#   ./query-service.sh create-key NAME predictions:read[,models:read]   prints a new API key and its keys-file line
# Options: query.* and result-store.* (README, Configuration). It builds the project when its sources changed.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
classpath_file="$root/query-service/target/query-classpath.txt"
# rebuilt whenever a source or pom of the modules it runs is newer than the last build: never stale classes
if [[ ! -f "$classpath_file" ]] || [[ -n "$(find "$root/pom.xml" "$root"/{schemas,sinks,query-service}/{pom.xml,src/main} \
    -newer "$classpath_file" -type f -print -quit)" ]]; then
  echo "Building (mvn package, tests skipped) ..." >&2
  (cd "$root" && mvn -B -q -ntp -DskipTests -pl query-service -am package dependency:build-classpath \
      -DincludeScope=runtime -Dmdep.outputFile="$classpath_file")
  touch "$classpath_file"
fi
exec java @"$root/flink-conf/jvm-opens.args" -Dlog4j2.configurationFile=classpath:log4j2-query.properties \
    -cp "$root/query-service/target/classes:$(cat "$classpath_file")" \
    org.streaminference.query.QueryService "$@"
