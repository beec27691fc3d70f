#!/usr/bin/env bash
# Publishes model versions and controls what running jobs serve: ./models.sh --help
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
classpath_file="$root/cli/target/cli-classpath.txt"
# rebuilt whenever a source or pom of the modules it runs is newer than the last build: never stale classes
if [[ ! -f "$classpath_file" ]] || [[ -n "$(find "$root/pom.xml" "$root"/{schemas,model-loader,model-control,cli}/{pom.xml,src/main} \
    -newer "$classpath_file" -type f -print -quit)" ]]; then
  echo "Building (mvn package, tests skipped) ..." >&2
  (cd "$root" && mvn -B -q -ntp -DskipTests -pl cli -am package dependency:build-classpath \
      -DincludeScope=runtime -Dmdep.outputFile="$classpath_file")
  touch "$classpath_file"
fi
exec java @"$root/flink-conf/jvm-opens.args" -Dlog4j2.configurationFile=classpath:log4j2-cli.properties \
    -cp "$root/cli/target/classes:$(cat "$classpath_file")" \
    org.streaminference.cli.ModelsCli "$@"
