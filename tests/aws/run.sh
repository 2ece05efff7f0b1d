#!/usr/bin/env bash
# End-to-end test of the AWS backend with stream indexing: `hearth serve`, `hearth worker` and
# `hearth worker stream-pump` on moto and an OpenSearch node, driven over HTTP by
# stream_e2e.py, with OpenSearch stopped and restarted and a worker killed mid-batch.
#
#   tests/aws/run.sh PATH/TO/hearth STANDINS_DIR
#
# Needs HEARTH_TEST_AWS_ENDPOINT (moto) and HEARTH_TEST_OPENSEARCH_URL (the node that
# scripts/opensearch-node.sh started with STANDINS_DIR, which this script stops and restarts).
set -euo pipefail

log() { printf '[aws-e2e] %s\n' "$*"; }
die() { printf '[aws-e2e] error: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 2 ]] || die "usage: $0 PATH/TO/hearth STANDINS_DIR"
HEARTH_BIN=$(realpath "$1")
STANDINS=$(realpath "$2")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${HEARTH_TEST_AWS_ENDPOINT:?set HEARTH_TEST_AWS_ENDPOINT}"
: "${HEARTH_TEST_OPENSEARCH_URL:?set HEARTH_TEST_OPENSEARCH_URL}"
OS_PORT=${HEARTH_TEST_OPENSEARCH_URL##*:}

WORK=$(mktemp -d -t hearth-aws-e2e.XXXXXX)
NAME="e2e$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export HEARTH_BACKEND=aws HEARTH_PROVISION=true HEARTH_INDEXING=stream
# moto serves one request at a time (tests/moto/serve.py): a long poll would stall it.
export HEARTH_SQS_WAIT_SECONDS=0
export HEARTH_AWS_ENDPOINT_URL=$HEARTH_TEST_AWS_ENDPOINT HEARTH_AWS_PREFIX=$NAME
export HEARTH_OPENSEARCH_URL=$HEARTH_TEST_OPENSEARCH_URL HEARTH_OPENSEARCH_PREFIX="hearth-$NAME-"
export HEARTH_DATA_DIR=$WORK/data HEARTH_LOG_FORMAT=json
PIDS=()
CONTROL_PID=""

cleanup() {
  local rc=$?
  set +e
  [[ -n $CONTROL_PID ]] && kill "$CONTROL_PID" 2>/dev/null
  for pid in "${PIDS[@]}" $(pgrep -f "$HEARTH_BIN worker --workers"); do kill -TERM "$pid" 2>/dev/null; done
  sleep 1
  for pid in "${PIDS[@]}" $(pgrep -f "$HEARTH_BIN worker --workers"); do kill -KILL "$pid" 2>/dev/null; done
  if ! curl -fsS -o /dev/null "$HEARTH_TEST_OPENSEARCH_URL" 2>/dev/null; then
    "$ROOT/scripts/opensearch-node.sh" start "$OS_PORT" "$STANDINS" >/dev/null
  fi
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK"/*.log; do log "last lines of $(basename "$f"):"; tail -n 15 "$f" | sed 's/^/    /'; done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 150); do
  curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/health" 2>/dev/null && break
  [[ $i -eq 150 ]] && die "server not healthy after 15 s"
  sleep 0.1
done
log "hearth serve (AWS backend, stream indexing) on 127.0.0.1:$PORT"
"$HEARTH_BIN" worker stream-pump >"$WORK/pump.log" 2>&1 &
PIDS+=($!)
"$HEARTH_BIN" worker --workers 1 >>"$WORK/worker.log" 2>&1 &

# Commands from stream_e2e.py, one per line, each answered "ok" or an error.
CONTROL="$WORK/control"
mkfifo "$CONTROL" "$CONTROL.reply"
(
  while true; do
    read -r command <"$CONTROL" || continue
    case $command in
      stop-opensearch) "$ROOT/scripts/opensearch-node.sh" stop "$STANDINS" >/dev/null && echo ok >"$CONTROL.reply" || echo failed >"$CONTROL.reply" ;;
      start-opensearch) "$ROOT/scripts/opensearch-node.sh" start "$OS_PORT" "$STANDINS" >/dev/null && echo ok >"$CONTROL.reply" || echo failed >"$CONTROL.reply" ;;
      kill-worker) kill -KILL "$(pgrep -f "$HEARTH_BIN worker --workers" | head -1)" && echo ok >"$CONTROL.reply" || echo failed >"$CONTROL.reply" ;;
      start-worker) "$HEARTH_BIN" worker --workers 1 >>"$WORK/worker.log" 2>&1 & echo ok >"$CONTROL.reply" ;;
      *) echo "unknown command" >"$CONTROL.reply" ;;
    esac
  done
) &
CONTROL_PID=$!

TOKEN=$("$HEARTH_BIN" token --tenant default --scope 'system/*.cruds')
python3 "$ROOT/tests/aws/stream_e2e.py" "http://127.0.0.1:$PORT/tenant/default" "$TOKEN" "$CONTROL"
log "passed"
