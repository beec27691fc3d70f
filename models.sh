#!/usr/bin/env bash
# Publishes model versions and controls what running jobs serve: ./models.sh --help
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
classpath_file="$root/jobs/target/local-classpath.txt"
if [[ ! -f "$classpath_file" || ! -d "$root/jobs/target/classes/org/streaminference/jobs/cli" ]]; then
  echo "Building (mvn package, tests skipped) ..." >&2
  (cd "$root" && mvn -B -q -ntp -DskipTests -pl jobs -am package dependency:build-classpath \
      -DincludeScope=compile -Dmdep.outputFile="$classpath_file")
fi
exec java -Dlog4j2.configurationFile=classpath:log4j2-cli.properties \
    -cp "$root/jobs/target/classes:$(cat "$classpath_file")" \
    org.streaminference.jobs.cli.ModelsCli "$@"
