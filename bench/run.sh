#!/usr/bin/env bash
# Runs the inference operator benchmark: ./bench/run.sh [--models tiny,heavy,crayfish] [--scale 0.2] (--help).
# Results (markdown table and PNG chart) go to bench/results/. Never part of the tests.
# BENCH_JAVA_OPTS adds JVM options (e.g. -Xmx8g).
set -euo pipefail
cd "$(dirname "$0")/.."
classpath_file=bench/target/bench-classpath.txt
mvn -B -q -ntp -DskipTests -pl bench -am package dependency:build-classpath \
    -DincludeScope=runtime -Dmdep.outputFile="$PWD/$classpath_file"
exec java ${BENCH_JAVA_OPTS:-} --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED -Xmx4g \
    -cp "bench/target/classes:$(cat "$classpath_file")" org.streaminference.bench.InferenceBenchmark "$@"
