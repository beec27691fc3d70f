#!/usr/bin/env bash
# A real standalone Flink session cluster (one JobManager and one TaskManager process) from Maven artifacts, with
# the project's flink-conf/config.yaml; flink-dist is not needed. Used by StandaloneClusterIT.
#   ./standalone-cluster.sh start WORK_DIR [REST_PORT] [options]   prints the REST address once a TaskManager registered
#   ./standalone-cluster.sh start-taskmanager WORK_DIR             starts another TaskManager (e.g. after one was killed)
#   ./standalone-cluster.sh stop WORK_DIR
# Options of start, so that two clusters or a busy host do not collide (every other port Flink opens is chosen free):
#   --rest-port N          REST API and web UI (default 8081)
#   --rpc-port N           JobManager RPC (default 6123)
#   --prometheus-ports R   start the Prometheus reporter on this port range, one port per process (e.g. 9249-9260);
#                          off without it: Flink's reporter has no bind address and listens on every interface
#   --conf FILE            lines appended to the cluster's config.yaml (cluster-wide job options, e.g.
#                          model.allowed-roots, parallelism.default); env.java.opts.all, env.java.opts.jobmanager and
#                          env.java.opts.taskmanager (written as flat keys) reach the processes' JVMs as in flink-dist
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
command="${1:?start|start-taskmanager|stop}"
work="$(mkdir -p "${2:?work dir}" && cd "$2" && pwd)"
shift 2
rest_port=8081
rpc_port=6123
prometheus_ports=""
extra_conf=""
if [[ $# -gt 0 && "$1" != --* ]]; then rest_port="$1"; shift; fi
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rest-port) rest_port="${2:?}"; shift 2 ;;
    --rpc-port) rpc_port="${2:?}"; shift 2 ;;
    --prometheus-ports) prometheus_ports="${2:?}"; shift 2 ;;
    --conf) extra_conf="$(cd "$(dirname "${2:?}")" && pwd)/$(basename "$2")"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
flink_version="$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' "$root/pom.xml" | head -1)"
log4j_version="$(sed -n 's:.*<log4j.version>\(.*\)</log4j.version>.*:\1:p' "$root/pom.xml" | head -1)"

classpath() {
  if [[ ! -f "$work/classpath.txt" ]]; then
    cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>flink-cluster</artifactId><version>1</version>
  <dependencies>
$(for a in flink-clients flink-runtime-web flink-streaming-java flink-statebackend-rocksdb flink-metrics-prometheus \
           flink-connector-base; do
    echo "    <dependency><groupId>org.apache.flink</groupId><artifactId>$a</artifactId><version>$flink_version</version></dependency>"
  done)
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j_version</version></dependency>
  </dependencies>
</project>
POM
    mvn -B -q -ntp -f "$work/pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/classpath.txt" >&2
  fi
  cat "$work/classpath.txt"
}

configure() {
  mkdir -p "$work/conf" "$work/log"
  cp "$root/flink-conf/config.yaml" "$work/conf/config.yaml"
  # local stand-ins for the production storage and sizes; everything else is the shipped configuration
  cat >> "$work/conf/config.yaml" <<CONF

# --- standalone-cluster.sh overrides ---
jobmanager.rpc.address: localhost
jobmanager.bind-host: localhost
taskmanager.bind-host: localhost
taskmanager.host: localhost
rest.port: $rest_port
rest.address: localhost
rest.bind-address: localhost
jobmanager.rpc.port: $rpc_port
$(if [[ -n "$prometheus_ports" ]]; then echo "metrics.reporter.prom.port: $prometheus_ports"; else
  echo "# no --prometheus-ports: no reporter (Flink's Prometheus reporter listens on every interface)"
  echo "metrics.reporters: none"; fi)
execution.checkpointing.dir: file://$work/checkpoints
execution.checkpointing.savepoint-dir: file://$work/savepoints
execution.checkpointing.interval: 1 s
jobmanager.memory.process.size: 1g
taskmanager.memory.process.size: 2g
taskmanager.memory.task.off-heap.size: 256m
restart-strategy.type: fixed-delay
restart-strategy.fixed-delay.attempts: 100
restart-strategy.fixed-delay.delay: 1 s
# the demo's feature spec bundled with the job, not the production one on S3; the model trust settings
# (model.trusted-keys, model.allowed-roots) stay the shipped ones unless --conf sets them
features.spec: ""
CONF
  if [[ -n "$extra_conf" ]]; then
    { echo; echo "# --- from --conf $extra_conf ---"; cat "$extra_conf"; } >> "$work/conf/config.yaml"
  fi
  cat > "$work/conf/log4j.properties" <<LOG
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = \${sys:log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{HH:mm:ss,SSS} %-5p %c{1} - %m%n
logger.metricgroups.name = org.apache.flink.runtime.metrics.groups
logger.metricgroups.level = ERROR
LOG
}

# JVM memory options and dynamic properties as flink-dist's scripts compute them
resource_params() {
  java -cp "$(classpath)" org.apache.flink.runtime.util.bash.BashJavaUtils "$1" --configDir "$work/conf" \
    | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

# Flink's --add-opens for Java 17: one list, shared with the other scripts and the tests
OPENS="@$root/flink-conf/jvm-opens.args"

# a flat key's last value in the cluster's config.yaml, unquoted (for env.java.opts.*)
conf_value() {
  sed -n "s/^$1:[[:space:]]*//p" "$work/conf/config.yaml" | tail -1 | sed 's/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/'
}

start_process() { # name main-class resource-command
  local name="$1" main="$2" params jvm dynamic n
  params="$(resource_params "$3")"
  jvm="$(echo "$params" | sed -n 1p) $(conf_value 'env\.java\.opts\.all') $(conf_value "env\.java\.opts\.$name")"
  dynamic="$(echo "$params" | sed -n 2p)"
  n=$(ls "$work/log" | grep -c "^$name" || true)
  # shellcheck disable=SC2086
  # FLINK_CONF_DIR as Flink's own scripts export it (the job reads the cluster's configuration from it)
  FLINK_CONF_DIR="$work/conf" nohup java $OPENS $jvm -Dlog.file="$work/log/$name-$n.log" -Dlog4j.configurationFile="file:$work/conf/log4j.properties" \
    -cp "$(classpath)" "$main" --configDir "$work/conf" $dynamic > "$work/log/$name-$n.out" 2>&1 &
  echo $! >> "$work/$name.pids"
  echo "$name pid $!" >&2
}

wait_for_taskmanagers() {
  for _ in $(seq 1 120); do
    if curl -fs "http://localhost:$rest_port/taskmanagers" 2>/dev/null | grep -q '"id"'; then
      echo "http://localhost:$rest_port"
      return 0
    fi
    sleep 0.5 # polling the REST API until a TaskManager registered
  done
  echo "the cluster did not come up; logs in $work/log" >&2
  return 1
}

case "$command" in
  start)
    configure
    start_process jobmanager org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint GET_JM_RESOURCE_PARAMS
    start_process taskmanager org.apache.flink.runtime.taskexecutor.TaskManagerRunner GET_TM_RESOURCE_PARAMS
    wait_for_taskmanagers
    ;;
  start-taskmanager)
    start_process taskmanager org.apache.flink.runtime.taskexecutor.TaskManagerRunner GET_TM_RESOURCE_PARAMS
    ;;
  stop)
    for f in "$work"/*.pids; do
      [[ -f "$f" ]] || continue
      while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$f"
      rm -f "$f"
    done
    ;;
  *) echo "unknown command $command" >&2; exit 2 ;;
esac
