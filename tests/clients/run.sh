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

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNNER_TAG=clients
# shellcheck source=../lib/runner.sh
source "$HERE/../lib/runner.sh"
runner_args PATH/TO/hearth 1 "$@"
command -v "$PYTHON" >/dev/null || die "python3 not found"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
command -v curl >/dev/null || die "curl not found"

WORK_DIR=$(mktemp -d -t hearth-clients.XXXXXX)
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
trap hearth_cleanup EXIT
trap 'exit 130' INT TERM

# --- install the clients (before the server, so a slow install does not keep it idle) -----------

hearth_venv clients "$HERE/python/requirements.txt"

log "node clients: npm ci in $HERE/node"
(cd "$HERE/node" && npm ci --no-audit --no-fund --ignore-scripts --cache "$CACHE_DIR/npm" --loglevel=error) \
  || die "npm ci"

# --- start the server -----------------------------------------------------------------------

hearth_start_server

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
