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

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNNER_TAG=two-tasks
# shellcheck source=../lib/runner.sh
source "$HERE/../lib/runner.sh"
runner_args PATH/TO/hearth 1 "$@"
# shellcheck source=../lib/standins.sh
source "$HERE/../lib/standins.sh"
# The tenant cache of each task: how long another task may still serve a changed tenant.
BOUND_SECONDS=2

WORK_DIR=$(mktemp -d -t hearth-two-tasks.XXXXXX)
standins_env two inline
export HEARTH_OPENSEARCH_URL=$HEARTH_TEST_OPENSEARCH_URL
# No export workers, so no long polls on moto, which serves one request at a time.
export HEARTH_PUBLIC_URL="https://fhir.$NAME.example" HEARTH_EXPORT_WORKERS=0
HEARTH_ADMIN_SIGNING_KEY=$(random_hex 48)
export HEARTH_ADMIN_SIGNING_KEY
trap standins_cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
hearth_venv auth "$HERE/../auth/requirements.txt"

# Starts task N on a free port with its own data dir; sets ROOT_N.
start_task() {
  local n=$1 port
  port=$(free_port)
  "$HEARTH_BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK_DIR/data-$n" >"$WORK_DIR/serve-$n.log" 2>&1 &
  PIDS+=($!)
  wait_healthy "http://127.0.0.1:$port" 30 "task $n"
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
