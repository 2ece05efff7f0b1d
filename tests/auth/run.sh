#!/usr/bin/env bash
# End-to-end authentication tests against a `hearth serve` that this script starts and stops:
#   - token_endpoint.py: SMART Backend Services `POST /auth/token` with key pairs and assertions
#     made by PyJWT + cryptography (inline JWKS, and a jwks_uri served over HTTPS by a test CA
#     that the server trusts through HEARTH_AUTH_CA_FILE);
#   - cognito.py (only with HEARTH_TEST_AWS_ENDPOINT, moto): Cognito ID/access tokens accepted
#     through an `[[auth.oidc_issuers]]` entry, tenants and FWoA groups enforced.
# The admin token comes from `hearth token --admin` with HEARTH_ADMIN_SIGNING_KEY set.
#
#   tests/auth/run.sh PATH/TO/hearth
#
# Python tools come from requirements.txt, in a venv under $HEARTH_CACHE_DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNNER_TAG=auth-e2e
# shellcheck source=../lib/runner.sh
source "$HERE/../lib/runner.sh"
runner_args PATH/TO/hearth 1 "$@"

WORK_DIR=$(mktemp -d -t hearth-auth.XXXXXX)
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
trap hearth_cleanup EXIT
trap 'exit 130' INT TERM

hearth_venv auth "$HERE/requirements.txt"
PY="$VENV/bin/python"

# The test CA and the JWKS servers' certificates; the server trusts the CA.
"$PY" "$HERE/tls.py" "$WORK_DIR/certs" || die "make test certificates"
export HEARTH_AUTH_CA_FILE="$WORK_DIR/certs/ca.pem"

CONFIG="$WORK_DIR/hearth.toml"
: >"$CONFIG"
if [[ -n ${HEARTH_TEST_AWS_ENDPOINT:-} ]]; then
  log "Cognito user pool on moto at $HEARTH_TEST_AWS_ENDPOINT"
  "$PY" "$HERE/cognito.py" setup "$HEARTH_TEST_AWS_ENDPOINT" "$WORK_DIR/cognito.json" "$CONFIG" \
    || die "set up the Cognito user pool"
else
  log "HEARTH_TEST_AWS_ENDPOINT is not set: skipping the Cognito test"
fi
export HEARTH_CONFIG="$CONFIG"
# Admin tokens signed with a shared secret (as on AWS), not the data dir's key.
HEARTH_ADMIN_SIGNING_KEY=$(random_hex 48)
export HEARTH_ADMIN_SIGNING_KEY

hearth_start_server
ADMIN_TOKEN=$("$HEARTH_BIN" token --data-dir "$DATA" --admin) || die "mint an admin token"
ADMIN_ALG=$("$PY" -c 'import jwt, sys; print(jwt.get_unverified_header(sys.argv[1])["alg"])' "$ADMIN_TOKEN")
[[ $ADMIN_ALG == HS256 ]] || die "the admin token is $ADMIN_ALG, not signed with HEARTH_ADMIN_SIGNING_KEY"

failed=0
"$PY" "$HERE/token_endpoint.py" "$ROOT_URL" "$ADMIN_TOKEN" "$WORK_DIR/certs" || failed=1
if [[ -n ${HEARTH_TEST_AWS_ENDPOINT:-} ]]; then
  "$PY" "$HERE/cognito.py" test "$HEARTH_TEST_AWS_ENDPOINT" "$WORK_DIR/cognito.json" \
    "$ROOT_URL" "$ADMIN_TOKEN" || failed=1
fi
[[ $failed -eq 0 ]] || die "authentication tests failed"
log "passed"
