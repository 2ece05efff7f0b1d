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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNNER_TAG=aws-e2e
# shellcheck source=../lib/runner.sh
source "$ROOT/tests/lib/runner.sh"
runner_args "PATH/TO/hearth STANDINS_DIR" 2 "$@"
STANDINS=$(realpath "$2")
# shellcheck source=../lib/standins.sh
source "$ROOT/tests/lib/standins.sh"
OS_PORT=${HEARTH_TEST_OPENSEARCH_URL##*:}

WORK=$(mktemp -d -t hearth-aws-e2e.XXXXXX)
standins_env e2e stream
export HEARTH_OPENSEARCH_URL=$HEARTH_TEST_OPENSEARCH_URL HEARTH_DATA_DIR=$WORK/data
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
  [[ $rc -ne 0 ]] && show_logs "$WORK"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

PORT=$(free_port)
"$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_healthy "http://127.0.0.1:$PORT" 15 server
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
