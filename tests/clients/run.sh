#!/usr/bin/env bash
# Runs the real-client suites (Python fhirpy/fhirclient, Node fhir-kit-client) against a Hearth
# server that this script starts and stops.
#
#   tests/clients/run.sh PATH/TO/hearth
#
# Builds nothing: pass a built `hearth` binary. Starts `hearth serve` on a free loopback port with
# a fresh data dir, installs the Python clients into a venv under $HEARTH_CACHE_DIR (default
# ~/.cache/hearth-tests, reused while requirements.txt is unchanged) and the Node client with
# `npm ci`, runs both suites, stops the server by pid and exits non-zero if any suite failed.
set -uo pipefail

log() { printf '[clients] %s\n' "$*"; }
die() { printf '[clients] error: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 PATH/TO/hearth"
HEARTH_BIN=$(realpath "$1") || die "no such file: $1"
[[ -x $HEARTH_BIN ]] || die "not an executable: $HEARTH_BIN"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth-tests}
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "python3 not found"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
command -v curl >/dev/null || die "curl not found"
mkdir -p "$CACHE_DIR"

WORK_DIR=$(mktemp -d -t hearth-clients.XXXXXX)
SERVER_PID=""
SERVER_LOG="$WORK_DIR/server.log"

cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop in 5 s; sending KILL"
      kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 && -s $SERVER_LOG ]]; then
    log "last server log lines:"
    tail -n 40 "$SERVER_LOG" | sed 's/^/    /'
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- install the clients (before the server, so a slow install does not keep it idle) -----------

REQS="$HERE/python/requirements.txt"
REQS_HASH=$(sha256sum "$REQS" | cut -c1-16)
VENV="$CACHE_DIR/venv-clients-$REQS_HASH"
if [[ -x $VENV/bin/pytest && -f $VENV/.complete ]]; then
  log "python clients: reusing $VENV"
else
  log "python clients: creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "create venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" || die "pip install -r $REQS"
  touch "$VENV/.complete"
fi

log "node clients: npm ci in $HERE/node"
(cd "$HERE/node" && npm ci --no-audit --no-fund --ignore-scripts --cache "$CACHE_DIR/npm" --loglevel=error) \
  || die "npm ci"

# --- start the server -----------------------------------------------------------------------

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') \
  || die "find a free port"
ROOT_URL="http://127.0.0.1:$PORT"
export HEARTH_BASE_URL="$ROOT_URL/tenant/default"

log "starting $HEARTH_BIN serve on 127.0.0.1:$PORT (data dir $WORK_DIR/data)"
"$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK_DIR/data" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
log "server pid $SERVER_PID"

for i in $(seq 1 100); do
  if curl -fsS -o /dev/null --max-time 1 "$ROOT_URL/health"; then
    log "server healthy after ~$((i / 10)).$((i % 10)) s"
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || die "server exited before becoming healthy"
  [[ $i -eq 100 ]] && die "server not healthy after 10 s"
  sleep 0.1
done
# The default tenant is created on first start; wait until it answers too.
for i in $(seq 1 50); do
  curl -fsS -o /dev/null --max-time 2 "$HEARTH_BASE_URL/metadata" && break
  [[ $i -eq 50 ]] && die "$HEARTH_BASE_URL/metadata does not answer"
  sleep 0.1
done

# Every FHIR request needs a bearer token: mint a full-access one for `default` with the same
# data dir (the server created the signing key there on start).
HEARTH_TOKEN=$("$HEARTH_BIN" token --data-dir "$WORK_DIR/data" --tenant default --scope 'system/*.cruds') \
  || die "mint a token with hearth token"
export HEARTH_TOKEN
curl -fsS -o /dev/null --max-time 2 -H "Authorization: Bearer $HEARTH_TOKEN" "$HEARTH_BASE_URL/_history?_count=1" \
  || die "the minted token is not accepted"

# --- run the suites -------------------------------------------------------------------------

failed=()

log "python suite: pytest tests/clients/python against $HEARTH_BASE_URL"
if (cd "$HERE/python" && "$VENV/bin/pytest" -p no:cacheprovider -q -rA test_fhirpy.py); then
  log "python suite: passed"
else
  log "python suite: FAILED"
  failed+=(python)
fi

log "node suite: node --test tests/clients/node against $HEARTH_BASE_URL"
if (cd "$HERE/node" && node --test fhir-kit-client.test.mjs); then
  log "node suite: passed"
else
  log "node suite: FAILED"
  failed+=(node)
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED suites: ${failed[*]}"
  exit 1
fi
log "all client suites passed"
