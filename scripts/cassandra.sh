#!/usr/bin/env bash
# cassandra.sh — run a real Apache Cassandra 5.0.x for Tollgate's integration tests, built only
# from Maven Central jars (org.apache.cassandra:cassandra-all + runtime deps) on Debian's OpenJDK 17.
# No tarball, no Docker. Works from any directory, as root, with CI=true and no stdin.
#
# Usage:
#   scripts/cassandra.sh fetch          # mvn: cassandra-all + deps -> $CASS_HOME/lib/<ver>/ (apt-installs maven/JDK 17 if missing)
#   scripts/cassandra.sh up             # two-DC cluster: n1 127.0.0.1 (dc1, JMX 7199) + n2 127.0.0.2 (dc2, JMX 7299),
#                                       # CQL 9142 and storage 17000 on both; waits for 2x UN and one schema version
#   scripts/cassandra.sh single         # one node: n1 127.0.0.1 (dc1, JMX 7199), CQL 9142
#   scripts/cassandra.sh single-auth    # one more node beside the others, its own cluster: a1 127.0.0.1 (dc1,
#                                       # JMX 7399), CQL 9242 over TLS only (client certificate required),
#                                       # storage 17100, PasswordAuthenticator (superuser cassandra/cassandra);
#                                       # certificates from openssl in $CASS_RUN/a1/tls; waits for the superuser
#   scripts/cassandra.sh down           # stop the nodes this script started (by pid file) and wait for them
#   scripts/cassandra.sh down-auth      # stop the single-auth node
#   scripts/cassandra.sh status         # per node: pid, RSS, CQL port open or not
#   scripts/cassandra.sh env            # print the export lines for internal/testenv (eval "$(scripts/cassandra.sh env)");
#                                       # the dc2 address only while n2 runs, the auth node's only while a1 runs
#   scripts/cassandra.sh stop-node n1|n2   # stop one node of `up`'s cluster (SIGTERM: drain) and wait for it to exit; its data stays
#   scripts/cassandra.sh start-node n1|n2  # start that node again on its existing data (config, data and hints kept),
#                                       # wait until it answers CQL and the cluster has 2x UN and one schema version
#   scripts/cassandra.sh nodetool [n1|n2] <args...>    # e.g. nodetool status, nodetool n2 describecluster
#
# stop-node/start-node are for fault tests (faults/cassandra_test.go): a node that crashed and came back.
# start-node on a node that runs returns at once.
# `up`, `single` and `single-auth` are idempotent: when the requested nodes already run (and answer CQL) they return at once;
# otherwise they stop what runs and start fresh with empty data. `down` with nothing running is a no-op.
#
# Env knobs (defaults in brackets):
#   CASSANDRA_VERSION [5.0.6]
#   CASS_HOME   [${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/cassandra]   jars (outside the repo, reused across runs)
#   CASS_RUN    [${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/cassandra]     per-node config, data, logs, pid files
#   CASSANDRA_JAVA_HOME [/usr/lib/jvm/java-17-openjdk-amd64]  MUST be Java 17 (or 11); Java 24+ cannot run Cassandra 5.0
#   CASSANDRA_HEAP [768M] per node   NATIVE_PORT [9142]   STORAGE_PORT [17000]   START_TIMEOUT [240] s per node
#
# Measured on the 2-core Debian 12 box (OpenJDK 17.0.15, cassandra-all 5.0.6, 768M heaps, other tests running):
#   fetch: 100 jars, 66 MB (10 s with a warm ~/.m2)
#   up:    41-56 s (n1 answers CQL after 17-24 s, n2 after 19-31 s more, then ~5 s until 2x UN + one schema)
#   RSS:   ~1.19 GB per node right after start (2.4 GB for the cluster)
#   down:  graceful stop 7-20 s per node under load (SIGKILL after 15 s)
# `status` prints each node's current RSS.
set -euo pipefail

CASSANDRA_VERSION="${CASSANDRA_VERSION:-5.0.6}"
CASS_HOME="${CASS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/cassandra}"
CASS_RUN="${CASS_RUN:-${TOLLGATE_RUN_DIR:-/tmp/tollgate-test}/cassandra}"
CASSANDRA_JAVA_HOME="${CASSANDRA_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
JAVA="$CASSANDRA_JAVA_HOME/bin/java"
NATIVE_PORT="${NATIVE_PORT:-9142}"
STORAGE_PORT="${STORAGE_PORT:-17000}"
CASSANDRA_HEAP="${CASSANDRA_HEAP:-768M}"
START_TIMEOUT="${START_TIMEOUT:-240}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { printf '[cassandra.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Absolute paths: they end up in file:// URLs.
mkdir -p "$CASS_HOME" "$CASS_RUN"
CASS_HOME="$(cd "$CASS_HOME" && pwd)"
CASS_RUN="$(cd "$CASS_RUN" && pwd)"
LIB="$CASS_HOME/lib/$CASSANDRA_VERSION"
CONF="$CASS_RUN/conf"

# Node table: name ip dc jmx_port initial_token native_port storage_port. a1 is the
# single-auth node: a cluster of its own, on its own ports, so it runs beside n1 and n2.
AUTH_NATIVE_PORT="${AUTH_NATIVE_PORT:-9242}"
AUTH_STORAGE_PORT="${AUTH_STORAGE_PORT:-17100}"
node_ip()      { case $1 in n1|a1) echo 127.0.0.1 ;; n2) echo 127.0.0.2 ;; *) die "unknown node $1 (n1, n2 or a1)" ;; esac; }
node_dc()      { case $1 in n1|a1) echo dc1 ;; n2) echo dc2 ;; esac; }
node_jmx()     { case $1 in n1) echo 7199 ;; n2) echo 7299 ;; a1) echo 7399 ;; esac; }
node_token()   { case $1 in n1|a1) echo "-9223372036854775808" ;; n2) echo 0 ;; esac; }
node_native()  { case $1 in a1) echo "$AUTH_NATIVE_PORT" ;; *) echo "$NATIVE_PORT" ;; esac; }
node_storage() { case $1 in a1) echo "$AUTH_STORAGE_PORT" ;; *) echo "$STORAGE_PORT" ;; esac; }

# ---------------------------------------------------------------------------------------------
# Tools: JDK 17 and Maven from Debian when missing
# ---------------------------------------------------------------------------------------------
apt_install() {
  command -v apt-get >/dev/null || die "missing $*; install it (no apt-get here)"
  log "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >/dev/null
  apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

ensure_java() {
  if [ ! -x "$JAVA" ] && [ "$CASSANDRA_JAVA_HOME" = /usr/lib/jvm/java-17-openjdk-amd64 ]; then
    apt_install openjdk-17-jdk-headless
  fi
  [ -x "$JAVA" ] || die "no java at $JAVA (set CASSANDRA_JAVA_HOME to a Java 17 JDK)"
  local v
  v="$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  case "$v" in
    17*|11*) ;;
    *) die "Java $v at $JAVA: Cassandra 5.0 runs on Java 11/17 only (Java 24+ cannot install its SecurityManager)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# fetch: cassandra-all and its runtime dependencies from Maven Central
# ---------------------------------------------------------------------------------------------
fetch() {
  if [ -f "$LIB/.complete" ]; then log "jars already in $LIB"; return 0; fi
  ensure_java
  command -v mvn >/dev/null || apt_install maven
  local pom="$CASS_HOME/pom-$CASSANDRA_VERSION.xml" tmp="$LIB.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cat >"$pom" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.tollgate</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$CASSANDRA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "resolving org.apache.cassandra:cassandra-all:$CASSANDRA_VERSION (+deps) into $LIB"
  JAVA_HOME="$CASSANDRA_JAVA_HOME" mvn -B -q -Dstyle.color=never -f "$pom" "$DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null \
    || die "mvn could not resolve cassandra-all $CASSANDRA_VERSION (try another 5.0.x with CASSANDRA_VERSION=5.0.5)"
  [ -f "$tmp/cassandra-all-$CASSANDRA_VERSION.jar" ] || die "cassandra-all jar missing after mvn"
  compgen -G "$tmp/jamm-*.jar" >/dev/null || die "jamm jar missing after mvn"
  touch "$tmp/.complete"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  log "$(find "$LIB" -name '*.jar' | wc -l) jars, $(du -sh "$LIB" | cut -f1)"
}

# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------
write_common_conf() {
  mkdir -p "$CONF"
  # system.log at INFO (readiness is read from it), console WARN+ only, no debug.log.
  cat >"$CONF/logback.xml" <<'EOF'
<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="SYSTEMLOG" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
EOF
  cat >"$CONF/logback-tools.xml" <<'EOF'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%-5level %date{"HH:mm:ss,SSS"} %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR" /></root>
</configuration>
EOF
}

# gen_certs <dir>: a CA, a server certificate for 127.0.0.1/localhost and a client
# certificate, PEM, with openssl; keystore.pem is the server's key and certificate in one
# file, as Cassandra's PEMBasedSslContextFactory reads them.
gen_certs() {
  local d=$1 name
  mkdir -p "$d"
  for name in ca server client; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$name.key" 2>/dev/null
  done
  openssl req -x509 -new -key "$d/ca.key" -out "$d/ca.crt" -days 2 -subj "/CN=tollgate test cassandra CA"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  for name in server client; do
    openssl req -new -key "$d/$name.key" -subj "/CN=tollgate test cassandra $name" -out "$d/$name.csr"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
  done
  cat "$d/server.key" "$d/server.crt" >"$d/keystore.pem"
  chmod 600 "$d"/*.key "$d/keystore.pem"
}

# write_node_conf <node> <auto_bootstrap>
write_node_conf() {
  local name=$1 auto_bootstrap=$2 ip dir cluster=tollgate-test authenticator=AllowAllAuthenticator
  ip="$(node_ip "$name")"
  dir="$CASS_RUN/$name"
  rm -rf "$dir"
  mkdir -p "$dir"/{data,commitlog,saved_caches,hints,logs,tmp,triggers}
  if [ "$name" = a1 ]; then
    cluster=tollgate-auth
    authenticator=PasswordAuthenticator
    gen_certs "$dir/tls"
  fi
  # Only 5.0 key names: unknown keys are fatal ("Invalid yaml. Please remove properties ...").
  cat >"$dir/cassandra.yaml" <<EOF
cluster_name: '$cluster'
num_tokens: 1
initial_token: "$(node_token "$name")"
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
auto_bootstrap: $auto_bootstrap
endpoint_snitch: GossipingPropertyFileSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$(node_storage "$name")"
listen_address: $ip
rpc_address: $ip
storage_port: $(node_storage "$name")
native_transport_port: $(node_native "$name")
start_native_transport: true
data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_disk_access_mode: legacy
authenticator: $authenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
incremental_backups: false
snapshot_before_compaction: false
concurrent_compactors: 1
compaction_throughput: 0MiB/s
internode_compression: none
storage_compatibility_mode: CASSANDRA_4
EOF
  if [ "$name" = a1 ]; then
    cat >>"$dir/cassandra.yaml" <<EOF
client_encryption_options:
  enabled: true
  optional: false
  require_client_auth: true
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: $dir/tls/keystore.pem
  truststore: $dir/tls/ca.crt
EOF
  fi
  printf 'dc=%s\nrack=rack1\n' "$(node_dc "$name")" >"$dir/cassandra-rackdc.properties"
}

# ---------------------------------------------------------------------------------------------
# JVM flags for Java 17: conf/jvm-server.options + conf/jvm17-server.options of 5.0.x
# ---------------------------------------------------------------------------------------------
JPMS_COMMON=(
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
)
SERVER_OPTS=(
  -ea -da:net.openhft...
  -XX:+UseThreadPriorities -XX:+HeapDumpOnOutOfMemoryError -Xss256k
  -XX:+UseTLAB -XX:+ResizeTLAB -XX:+PerfDisableSharedMem
  -Djava.net.preferIPv4Stack=true -Dchronicle.analytics.disable=true
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
  -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
  "${JPMS_COMMON[@]}"
  --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
)

jamm_jar() { compgen -G "$LIB/jamm-*.jar" | head -n1; }

# node_pid <node>: pid of the running node, empty when it does not run. The pid file is
# trusted only if that pid is still a CassandraDaemon started with this node's config.
node_pid() {
  local pidf="$CASS_RUN/$1/pid" pid
  [ -f "$pidf" ] || return 0
  pid="$(cat "$pidf")"
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$CASS_RUN/$1/cassandra.yaml"; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

rss_mb() { awk '/^VmRSS:/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo '?'; }

start_node() {
  local name=$1 ip dir jamm
  ip="$(node_ip "$name")"
  dir="$CASS_RUN/$name"
  jamm="$(jamm_jar)"
  [ -n "$jamm" ] || die "no jamm jar in $LIB; run '$0 fetch'"
  if port_open "$ip" "$(node_native "$name")"; then
    die "something not started by this script already listens on $ip:$(node_native "$name"); stop it or set NATIVE_PORT (AUTH_NATIVE_PORT for a1)"
  fi
  local cmd=(
    "$JAVA" "${SERVER_OPTS[@]}"
    "-Xms$CASSANDRA_HEAP" "-Xmx$CASSANDRA_HEAP"
    -XX:+ExitOnOutOfMemoryError "-XX:HeapDumpPath=$dir/logs"
    "-Xlog:gc:file=$dir/logs/gc.log:time,uptime:filecount=2,filesize=10m"
    "-javaagent:$jamm"
    "-Dcassandra.jmx.local.port=$(node_jmx "$name")" -Dcom.sun.management.jmxremote.authenticate=false
    "-Dlogback.configurationFile=$CONF/logback.xml"
    "-Dcassandra.logdir=$dir/logs"
    "-Dcassandra.storagedir=$dir"
    -Dcassandra-foreground=yes
    "-Dcassandra.config=file://$dir/cassandra.yaml"
    "-Dcassandra-rackdc.properties=file://$dir/cassandra-rackdc.properties"
    "-Dcassandra.triggers_dir=$dir/triggers"
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=5000
    -Dcassandra.unsafesystem=true
    -Dcassandra.skip_sync=true
    -Dcassandra.libjemalloc=-
    -Dcassandra.superuser_setup_delay_ms=0
    "-Djava.io.tmpdir=$dir/tmp" "-Djna.tmpdir=$dir/tmp"
    -cp "$LIB/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  log "starting $name on $ip (dc $(node_dc "$name"), heap $CASSANDRA_HEAP, JMX $(node_jmx "$name"), logs $dir/logs)"
  # setsid: the node outlives the shell/CI step that started it and gets no terminal signals;
  # a background child is never a process-group leader, so setsid execs java and $! is the JVM pid.
  # 9>&-: the JVM must not inherit the lock of with_lock, or it would hold it for its lifetime.
  MALLOC_ARENA_MAX=4 setsid "${cmd[@]}" >"$dir/logs/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$dir/pid"
}

wait_node() {
  local name=$1 ip dir pid i
  ip="$(node_ip "$name")"
  dir="$CASS_RUN/$name"
  pid="$(cat "$dir/pid")"
  for ((i = 0; i < START_TIMEOUT; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) died during startup; last lines of its logs:"
      tail -n 40 "$dir/logs/stdout.log" >&2 || true
      tail -n 40 "$dir/logs/system.log" >&2 2>/dev/null || true
      return 1
    fi
    if port_open "$ip" "$(node_native "$name")"; then
      if grep -q 'Unable to read cassandra-rackdc' "$dir/logs/system.log" 2>/dev/null; then
        die "$name could not read its cassandra-rackdc.properties (its dc would be UNKNOWN_DC)"
      fi
      # The auth node takes logins once it has created the default superuser.
      if [ "$name" != a1 ] || grep -q "Created default superuser role" "$dir/logs/system.log" 2>/dev/null; then
        log "$name answers CQL on $ip:$(node_native "$name") after ${i}s (RSS $(rss_mb "$pid") MB)"
        return 0
      fi
    fi
    sleep 1
  done
  log "$name not up after ${START_TIMEOUT}s; last lines of system.log:"
  tail -n 40 "$dir/logs/system.log" >&2 || true
  return 1
}

nodetool() {
  local name=n1
  case "${1:-}" in n1|n2) name=$1; shift ;; esac
  local jamm
  jamm="$(jamm_jar)"
  [ -n "$jamm" ] || die "no jars in $LIB; run '$0 fetch'"
  mkdir -p "$CASS_RUN/nodetool"
  [ -f "$CONF/logback-tools.xml" ] || write_common_conf
  "$JAVA" "-javaagent:$jamm" "${JPMS_COMMON[@]}" -Xmx128m -XX:ParallelGCThreads=1 -XX:TieredStopAtLevel=1 \
    "-Dlogback.configurationFile=$CONF/logback-tools.xml" "-Dcassandra.logdir=$CASS_RUN/nodetool" \
    "-Dcassandra.storagedir=$CASS_RUN/nodetool" -cp "$LIB/*" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(node_jmx "$name")" "$@" </dev/null
}

stop_all() { stop_nodes n2 n1; }

stop_nodes() { # stop_nodes <node...>
  local name pid i stopped=()
  for name in "$@"; do
    pid="$(node_pid "$name")"
    if [ -n "$pid" ]; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      stopped+=("$name:$pid")
    fi
    rm -f "$CASS_RUN/$name/pid"
  done
  local entry
  for entry in ${stopped[@]+"${stopped[@]}"}; do
    name=${entry%%:*}
    pid=${entry#*:}
    # The data is thrown away at the next start, so the drain (memtable flushes)
    # gets a short grace period only.
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after 15s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
  done
  [ ${#stopped[@]} -eq 0 ] && log "no node running"
  return 0
}

# running <node...>: all given nodes run and answer CQL
running() {
  local name pid
  for name in "$@"; do
    pid="$(node_pid "$name")"
    [ -n "$pid" ] && port_open "$(node_ip "$name")" "$(node_native "$name")" || return 1
  done
}

wait_converged() {
  local want=$1 i out schemas
  for ((i = 0; i < 90; i++)); do
    out="$(nodetool n1 status 2>/dev/null || true)"
    schemas="$(nodetool n1 describecluster 2>/dev/null | grep -cE '^[[:space:]]+[0-9a-f-]{36}:' || true)"
    if [ "$(grep -c '^UN ' <<<"$out")" -eq "$want" ] && [ "$schemas" -eq 1 ]; then
      log "cluster ready: $want node(s) UN, one schema version"
      echo "$out" >&2
      return 0
    fi
    sleep 2
  done
  log "cluster did not converge:"
  echo "$out" >&2
  return 1
}

start_cluster() { # start_cluster <node...>
  local start=$SECONDS name
  ensure_java
  [ -f "$LIB/.complete" ] || fetch
  write_common_conf
  stop_all
  # n1 is the only seed; n2 joins without bootstrap streaming (the cluster is empty).
  write_node_conf n1 true
  start_node n1
  wait_node n1 || { stop_all; exit 1; }
  if [ $# -gt 1 ]; then
    write_node_conf n2 false
    start_node n2
    wait_node n2 || { stop_all; exit 1; }
  fi
  wait_converged $# || { stop_all; exit 1; }
  for name in "$@"; do log "$name pid $(node_pid "$name") RSS $(rss_mb "$(node_pid "$name")") MB"; done
  log "up in $((SECONDS - start))s"
}

cmd_up() { # cmd_up <node...>
  if running "$@"; then
    log "already running: $*"
    return 0
  fi
  start_cluster "$@"
}

# cmd_up_auth starts the single-auth node a1 (fresh), unless it runs. It has its own
# config directory and lock, so it can start while `up` starts n1 and n2.
cmd_up_auth() {
  if running a1; then
    log "already running: a1"
    return 0
  fi
  local start=$SECONDS
  ensure_java
  [ -f "$LIB/.complete" ] || die "no jars in $LIB; run '$0 fetch' first"
  write_common_conf
  stop_nodes a1
  write_node_conf a1 true
  start_node a1
  wait_node a1 || { stop_nodes a1; exit 1; }
  log "a1 up in $((SECONDS - start))s"
}

# cmd_stop_node <node>: stop one node with SIGTERM (Cassandra drains: memtables flushed,
# commit log synced) and wait until it has exited; SIGKILL after 60 s. Not SIGKILL at once:
# with commitlog_sync periodic (10 s here) a killed node replays only up to the last sync
# marker, so writes it acknowledged in the last seconds are gone (measured: ~2,300 of ~1,000
# events/s at RF 1), which is Cassandra's documented trade-off, not a fault of the client.
cmd_stop_node() {
  local name=$1 pid i
  case "$name" in n1|n2) ;; *) die "stop-node: unknown node '$name' (n1 or n2)" ;; esac
  pid="$(node_pid "$name")"
  [ -n "$pid" ] || die "stop-node: $name does not run (start the cluster with '$0 up')"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) still running after 60s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$CASS_RUN/$name/pid"
  log "$name stopped; data kept in $CASS_RUN/$name"
}

# cmd_start_node <node>: start a node stopped by stop-node on its own config and data.
cmd_start_node() {
  local name=$1 start=$SECONDS
  case "$name" in n1|n2) ;; *) die "start-node: unknown node '$name' (n1 or n2)" ;; esac
  if running "$name"; then
    log "already running: $name"
    return 0
  fi
  [ -f "$CASS_RUN/$name/cassandra.yaml" ] || die "start-node: no data dir for $name in $CASS_RUN (start the cluster with '$0 up')"
  ensure_java
  start_node "$name"
  wait_node "$name" || exit 1
  wait_converged 2 || exit 1
  log "$name back in $((SECONDS - start))s"
}

cmd_status() {
  local name pid ip port
  for name in n1 n2 a1; do
    pid="$(node_pid "$name")"
    ip="$(node_ip "$name")"
    port="$(node_native "$name")"
    if [ -z "$pid" ]; then echo "$name $ip:$port down"; continue; fi
    if port_open "$ip" "$port"; then
      echo "$name $ip:$port dc=$(node_dc "$name") pid=$pid rss=$(rss_mb "$pid")MB cql=open"
    else
      echo "$name $ip:$port dc=$(node_dc "$name") pid=$pid rss=$(rss_mb "$pid")MB cql=closed"
    fi
  done
}

cmd_env() {
  echo "export TOLLGATE_TEST_CASSANDRA=127.0.0.1:$NATIVE_PORT"
  if [ -n "$(node_pid n2)" ]; then
    echo "export TOLLGATE_TEST_CASSANDRA_DC2=127.0.0.2:$NATIVE_PORT"
  else # `single`: tests that need dc2 skip (or fail under TOLLGATE_REQUIRE_BACKENDS=1)
    echo "unset TOLLGATE_TEST_CASSANDRA_DC2"
  fi
  if [ -n "$(node_pid a1)" ]; then
    echo "export TOLLGATE_TEST_CASSANDRA_AUTH=127.0.0.1:$AUTH_NATIVE_PORT"
    echo "export TOLLGATE_TEST_CASSANDRA_AUTH_CA=$CASS_RUN/a1/tls/ca.crt"
    echo "export TOLLGATE_TEST_CASSANDRA_AUTH_CERT=$CASS_RUN/a1/tls/client.crt"
    echo "export TOLLGATE_TEST_CASSANDRA_AUTH_KEY=$CASS_RUN/a1/tls/client.key"
  else
    echo "unset TOLLGATE_TEST_CASSANDRA_AUTH TOLLGATE_TEST_CASSANDRA_AUTH_CA TOLLGATE_TEST_CASSANDRA_AUTH_CERT TOLLGATE_TEST_CASSANDRA_AUTH_KEY"
  fi
}

# One invocation at a time per run dir (up/single/down change the same nodes);
# LOCK_NAME .lock-auth for the auth node, which changes only a1.
with_lock() {
  exec 9>"$CASS_RUN/${LOCK_NAME:-.lock}"
  flock -w 600 9 || die "another cassandra.sh holds $CASS_RUN/.lock"
  "$@"
}

case "${1:-}" in
  fetch) with_lock fetch ;;
  up) with_lock cmd_up n1 n2 ;;
  single) with_lock cmd_up n1 ;;
  single-auth) CONF="$CASS_RUN/conf-auth" LOCK_NAME=.lock-auth with_lock cmd_up_auth ;;
  down) with_lock stop_all ;;
  down-auth) LOCK_NAME=.lock-auth with_lock stop_nodes a1 ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop-node) with_lock cmd_stop_node "${2:-}" ;;
  start-node) with_lock cmd_start_node "${2:-}" ;;
  nodetool) shift; nodetool "$@" ;;
  *) sed -n '2,42p' "$0" >&2; exit 2 ;;
esac
