#!/usr/bin/env bash
# Runs the end-to-end pipeline benchmark (real Kafka, the job's pipeline on a MiniCluster, PostgreSQL sink on and
# off): ./bench/run-pipeline.sh [--models tiny,heavy,crayfish] [--scale 0.5] (--help). About 10 minutes for all models.
# Results (markdown table and PNG charts) go to bench/results/. Never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
classpath_file=bench/target/bench-classpath.txt
mvn -B -q -ntp -DskipTests -pl bench -am package dependency:build-classpath \
    -DincludeScope=runtime -Dmdep.outputFile="$PWD/$classpath_file"
exec java ${BENCH_JAVA_OPTS:-} --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED \
    --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.sql/java.sql=ALL-UNNAMED -Xmx6g \
    -cp "bench/target/classes:$(cat "$classpath_file")" org.streaminference.bench.PipelineBenchmark "$@"
