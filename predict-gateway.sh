#!/usr/bin/env bash
# The predict gateway: synchronous and hybrid predictions through the running job, over REST, gRPC and the Open
# Inference Protocol.   ./predict-gateway.sh serve --config-dir flink-conf [--key value ...]
# Options: gateway.*, the kafka.* topics and features.spec (docs/configuration.md); API keys are made with
#   ./query-service.sh create-key NAME predict,models:read
# It builds the project when its sources changed.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
classpath_file="$root/predict-gateway/target/gateway-classpath.txt"
# rebuilt whenever a source or pom of the modules it runs is newer than the last build: never stale classes
if [[ ! -f "$classpath_file" ]] || [[ -n "$(find "$root/pom.xml" \
    "$root"/{schemas,model-loader,model-control,feature-enrichment,sinks,query-service,predict-gateway}/{pom.xml,src/main} \
    -newer "$classpath_file" -type f -print -quit)" ]]; then
  echo "Building (mvn package, tests skipped) ..." >&2
  (cd "$root" && mvn -B -q -ntp -DskipTests -pl predict-gateway -am package dependency:build-classpath \
      -DincludeScope=runtime -Dmdep.outputFile="$classpath_file")
  touch "$classpath_file"
fi
exec java @"$root/flink-conf/jvm-opens.args" -Dlog4j2.configurationFile=classpath:log4j2-query.properties \
    -cp "$root/predict-gateway/target/classes:$(cat "$classpath_file")" \
    org.streaminference.gateway.PredictGateway "$@"
