#!/usr/bin/env bash
# Runs a benchmark; never part of the tests. Results (markdown tables and PNG charts) go to bench/results/.
#   bench/run.sh [operator] [options]   the inference operator alone against its baselines (~5 min)
#   bench/run.sh pipeline [options]     the whole pipeline end to end on real Kafka (~11 min)
#   bench/run.sh swap [options]         pauses and latency while model versions are swapped under load (~2 min)
#   bench/run.sh models [options]       a light model's latency alone and beside a ~50x heavier one (~5 min)
#   bench/run.sh query [options]        the query service's point lookups under concurrent load (~2 min)
#   bench/run.sh predict [options]      synchronous predictions through the job at fixed rates, REST and gRPC,
#                                       with and without a stream; wrk where installed (~7 min)
#   bench/run.sh features [options]     feature enrichment's cost per event and RocksDB state per entity (~6 min)
#   bench/run.sh validation [options]   Avro decoding alone vs the job's bounded validation, per event (~1 min)
#   bench/run.sh encoding [options]     writing a prediction: Avro's writer vs the generated encoder (~1 min)
#   bench/run.sh soak [options]         the whole job through lulls, outages, restarts and swaps, every answer
#                                       checked against a recomputation from the events sent (~35 min)
#   bench/run.sh cluster [options]      the shaded job on a standalone cluster, broker in its own process: drains
#                                       (Avro, JSON, p=1/p=2) against a plain consumer, live rates, idle CPU (~15 min)
#   bench/run.sh retention [options]    latest_prediction and prediction_history kept bounded at 1,000,000 entities (~4 min)
# --help after the name lists the options. BENCH_JAVA_OPTS adds JVM options (e.g. -Xmx8g).
set -euo pipefail
cd "$(dirname "$0")/.."
main=org.streaminference.bench.InferenceBenchmark
case "${1:-}" in
  operator) shift ;;
  pipeline) main=org.streaminference.bench.PipelineBenchmark; shift ;;
  swap) main=org.streaminference.bench.SwapBenchmark; shift ;;
  models) main=org.streaminference.bench.MultiModelBenchmark; shift ;;
  query) main=org.streaminference.bench.QueryBenchmark; shift ;;
  predict) main=org.streaminference.bench.PredictBenchmark; shift ;;
  features) main=org.streaminference.bench.FeatureBenchmark; shift ;;
  validation) main=org.streaminference.bench.ValidationBenchmark; shift ;;
  encoding) main=org.streaminference.bench.PredictionEncodingBenchmark; shift ;;
  soak) main=org.streaminference.bench.SoakBenchmark; shift ;;
  retention) main=org.streaminference.bench.RetentionBenchmark; shift ;;
  cluster) main=org.streaminference.bench.ClusterBenchmark; shift ;;
esac
classpath_file=bench/target/bench-classpath.txt
mvn -B -q -ntp -DskipTests -pl bench -am package dependency:build-classpath \
    -DincludeScope=runtime -Dmdep.outputFile="$PWD/$classpath_file"
exec java ${BENCH_JAVA_OPTS:-} -Xmx6g @flink-conf/jvm-opens.args \
    -cp "bench/target/classes:$(cat "$classpath_file")" "$main" "$@"
