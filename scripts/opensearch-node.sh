#!/usr/bin/env bash
# A real single-node OpenSearch 2.19.6 for tests (tests/opensearch-node), on 127.0.0.1 only.
#
#   scripts/opensearch-node.sh start PORT DIR   build if needed, start, wait until yellow
#   scripts/opensearch-node.sh stop DIR         stop the node started with DIR
#
# The launcher is built with Maven into ${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}/opensearch-node/,
# one folder per version of its sources. DIR receives opensearch.pid, opensearch.log and the
# node's home (data).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/tests/opensearch-node"
CACHE="${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}/opensearch-node"
WAIT_SECONDS=120
# shellcheck source=lib/daemon.sh
. "$ROOT/scripts/lib/daemon.sh"

usage() {
  echo "usage: $0 start PORT DIR | stop DIR" >&2
  exit 2
}

# Builds the launcher unless this version of its sources is built already; prints its classpath.
build() {
  local sum out
  sum=$(cd "$SRC" && find pom.xml src -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  out="$CACHE/$sum"
  if [ ! -f "$out/built" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    cp -r "$SRC/pom.xml" "$SRC/src" "$out/"
    if ! (cd "$out" && mvn -q -B package -DskipTests >"$out/build.log" 2>&1); then
      echo "building the OpenSearch test node failed:" >&2
      tail -n 40 "$out/build.log" >&2
      exit 1
    fi
    touch "$out/built"
  fi
  echo "$out/target/classes:$out/target/lib/*"
}

node_ready() {
  curl -fsS "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null |
    grep -q '"timed_out":false'
}

start() {
  local port="$1" dir="$2" classpath
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if daemon_running opensearch "$dir"; then
    echo "an OpenSearch node started with $dir is already running (pid $(cat "$dir/opensearch.pid"))" >&2
    exit 1
  fi
  classpath=$(build)
  nohup java -Xmx512m -Xms512m \
    -Dopensearch.set.netty.runtime.available.processors=false \
    -cp "$classpath" hearth.opensearchnode.TestNode "$port" "$dir/home" \
    >"$dir/opensearch.log" 2>&1 </dev/null &
  echo "$!" >"$dir/opensearch.pid"
  daemon_wait opensearch "$dir" "$WAIT_SECONDS" "the OpenSearch node" node_ready "$port"
  echo "OpenSearch 2.19.6 ready on http://127.0.0.1:$port (pid $(cat "$dir/opensearch.pid"))"
}

stop() {
  daemon_stop opensearch "$1" 15
}

daemon_main "$@"
