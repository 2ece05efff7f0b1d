#!/usr/bin/env bash
# Two API tasks on one AWS deployment: two `hearth serve` processes on moto and an OpenSearch
# node, each with its own data dir, the same prefix, public URL and admin signing key, driven by
# two_tasks.py (tenants, clients, replayed assertions and tokens signed with the deployment's
# key across the two).
#
#   tests/aws/two_tasks.sh PATH/TO/hearth
#
# Needs HEARTH_TEST_AWS_ENDPOINT (moto) and HEARTH_TEST_OPENSEARCH_URL. Python tools come from
# tests/auth/requirements.txt (PyJWT, cryptography), in a venv under $HEARTH_CACHE_DIR.
set -euo pipefail

log() { printf '[two-tasks] %s\n' "$*"; }
die() { printf '[two-tasks] error: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 PATH/TO/hearth"
HEARTH_BIN=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${HEARTH_TEST_AWS_ENDPOINT:?set HEARTH_TEST_AWS_ENDPOINT}"
: "${HEARTH_TEST_OPENSEARCH_URL:?set HEARTH_TEST_OPENSEARCH_URL}"
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth-tests}
PYTHON=${PYTHON:-python3}
mkdir -p "$CACHE_DIR"
# The tenant cache of each task: how long another task may still serve a changed tenant.
BOUND_SECONDS=2

WORK_DIR=$(mktemp -d -t hearth-two-tasks.XXXXXX)
NAME="two$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# No export workers, so no long polls on moto, which serves one request at a time.
export HEARTH_BACKEND=aws HEARTH_PROVISION=true HEARTH_INDEXING=inline HEARTH_SQS_WAIT_SECONDS=0
export HEARTH_AWS_ENDPOINT_URL=$HEARTH_TEST_AWS_ENDPOINT HEARTH_AWS_PREFIX=$NAME
export HEARTH_OPENSEARCH_URL=$HEARTH_TEST_OPENSEARCH_URL HEARTH_OPENSEARCH_PREFIX="hearth-$NAME-"
export HEARTH_PUBLIC_URL="https://fhir.$NAME.example" HEARTH_LOG_FORMAT=json HEARTH_EXPORT_WORKERS=0
HEARTH_ADMIN_SIGNING_KEY=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
export HEARTH_ADMIN_SIGNING_KEY
PIDS=()

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK_DIR"/*.log; do log "last lines of $(basename "$f"):"; tail -n 15 "$f" | sed 's/^/    /'; done
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
hearth_venv auth "$HERE/../auth/requirements.txt"

# Starts task N on a free port with its own data dir; sets ROOT_N.
start_task() {
  local n=$1 port
  port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$HEARTH_BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK_DIR/data-$n" >"$WORK_DIR/serve-$n.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/health" 2>/dev/null && break
    [[ $i -eq 300 ]] && die "task $n not healthy after 30 s"
    sleep 0.1
  done
  printf -v "ROOT_$n" 'http://127.0.0.1:%s' "$port"
  log "task $n: hearth serve (AWS backend) on 127.0.0.1:$port, data dir data-$n"
}
start_task 1
start_task 2

ADMIN_TOKEN=$("$HEARTH_BIN" token --data-dir "$WORK_DIR/data-1" --admin) || die "mint an admin token"
# A tenant token from `hearth token` on a third data dir: signed with the deployment's key, not
# a data dir's, so both tasks accept it. `hearth serve` created the default tenant.
CLI_TENANT=default
CLI_TOKEN=$("$HEARTH_BIN" token --data-dir "$WORK_DIR/data-cli" --tenant "$CLI_TENANT" \
  --scope "system/*.rs") || die "mint a tenant token"
"$VENV/bin/python" "$HERE/two_tasks.py" "$ROOT_1" "$ROOT_2" "$HEARTH_PUBLIC_URL" "$ADMIN_TOKEN" \
  "$BOUND_SECONDS" "$CLI_TENANT" "$CLI_TOKEN"
