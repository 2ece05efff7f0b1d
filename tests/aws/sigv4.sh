#!/usr/bin/env bash
# SigV4 signing of OpenSearch requests, checked by an independent oracle: sigv4_proxy.py, in front
# of the OpenSearch node, recomputes every request's signature with botocore and refuses (403)
# any that does not match. `hearth serve`, `hearth worker` (stream indexer) and `hearth worker
# stream-pump` run on moto with `HEARTH_OPENSEARCH_SIGV4=es` and moto's fixed credentials;
# sigv4_e2e.py writes resources, waits for them to be indexed and runs string, token, date,
# chained and `_include` searches, then checks the proxy verified requests and refused none. A
# second proxy with another secret key refuses a second `hearth serve`, whose search answers an
# OperationOutcome and whose log names the refusal. Last, the opensearch crate's signing test
# sends paths and queries with special characters through the proxy.
#
#   tests/aws/sigv4.sh PATH/TO/hearth
#
# Needs HEARTH_TEST_AWS_ENDPOINT (moto) and HEARTH_TEST_OPENSEARCH_URL. botocore comes from
# tests/aws/requirements.txt, in a venv under $HEARTH_CACHE_DIR. Set SIGV4_SKIP_CARGO=1 to skip
# the cargo test at the end.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNNER_TAG=sigv4
# shellcheck source=../lib/runner.sh
source "$HERE/../lib/runner.sh"
runner_args PATH/TO/hearth 1 "$@"
# shellcheck source=../lib/standins.sh
source "$HERE/../lib/standins.sh"

WORK_DIR=$(mktemp -d -t hearth-sigv4.XXXXXX)
REGION=eu-west-1
# moto's fixed test credentials: hearth signs with them, the proxy checks with them.
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
standins_env sig stream
# Each process names its OpenSearch URL: a proxy in front of the node, never the node itself.
export HEARTH_AWS_REGION=$REGION HEARTH_OPENSEARCH_SIGV4=es
export HEARTH_DATA_DIR=$WORK_DIR/data HEARTH_EXPORT_WORKERS=0
trap standins_cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
hearth_venv sigv4 "$HERE/requirements.txt"

# `start_proxy NAME SECRET`: a proxy checking signatures of SECRET; sets PROXY_NAME (its URL).
start_proxy() {
  local name=$1 secret=$2 port_file="$WORK_DIR/$1.port"
  "$VENV/bin/python" "$HERE/sigv4_proxy.py" --upstream "$HEARTH_TEST_OPENSEARCH_URL" \
    --port-file "$port_file" --access-key testing --secret-key "$secret" --region "$REGION" \
    --service es >"$WORK_DIR/proxy-$name.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 100); do
    [[ -s $port_file ]] && break
    [[ $i -eq 100 ]] && die "proxy $name did not start"
    sleep 0.1
  done
  printf -v "PROXY_$name" 'http://127.0.0.1:%s' "$(cat "$port_file")"
}

# `start_serve NAME OPENSEARCH_URL`: `hearth serve` on a free port; sets ROOT_NAME.
start_serve() {
  local name=$1 url=$2 port
  port=$(free_port)
  HEARTH_OPENSEARCH_URL=$url "$HEARTH_BIN" serve --listen "127.0.0.1:$port" >"$WORK_DIR/serve-$name.log" 2>&1 &
  PIDS+=($!)
  wait_healthy "http://127.0.0.1:$port" 30 "hearth serve ($name)"
  printf -v "ROOT_$name" 'http://127.0.0.1:%s' "$port"
}

start_proxy good testing
start_proxy bad not-the-secret
log "proxies: $PROXY_good (secret of the test credentials), $PROXY_bad (another secret)"
start_serve good "$PROXY_good"
log "hearth serve on $ROOT_good, OpenSearch through $PROXY_good"
HEARTH_OPENSEARCH_URL=$PROXY_good "$HEARTH_BIN" worker stream-pump >"$WORK_DIR/pump.log" 2>&1 &
PIDS+=($!)
HEARTH_OPENSEARCH_URL=$PROXY_good "$HEARTH_BIN" worker --workers 0 --indexers 1 >"$WORK_DIR/worker.log" 2>&1 &
PIDS+=($!)
start_serve bad "$PROXY_bad"
log "hearth serve on $ROOT_bad, OpenSearch through $PROXY_bad"

TOKEN=$("$HEARTH_BIN" token --tenant default --scope 'system/*.cruds') || die "mint a token"
"$VENV/bin/python" "$HERE/sigv4_e2e.py" "$ROOT_good/tenant/default" "$ROOT_bad/tenant/default" \
  "$TOKEN" "$PROXY_good" "$PROXY_bad"
grep -q "refused the request's authentication" "$WORK_DIR/serve-bad.log" \
  || die "the refused server's log does not name the refusal"
log "the refused server logged: OpenSearch refused the request's authentication"

if [[ ${SIGV4_SKIP_CARGO:-0} != 1 ]]; then
  log "cargo test: the opensearch client's signing of special characters, through $PROXY_good"
  (cd "$HERE/../.." && HEARTH_TEST_SIGV4_PROXY=$PROXY_good cargo test --quiet -p hearth-opensearch --lib \
    http::tests::special_characters_are_signed_as_aws_canonicalizes_them)
fi
log "passed"
