#!/usr/bin/env bash
# Checks the OpenAPI document against the tools and against the server it describes:
#   1. openapi-spec-validator accepts /openapi.json (OpenAPI 3.1);
#   2. `hearth openapi` prints the same document;
#   3. /docs serves Swagger UI from the binary (no CDN);
#   4. schemathesis runs against the live server with a valid token and finds no 5xx and no
#      response (status, content type, headers, body) that the document does not allow.
#
#   tests/openapi/check.sh PATH/TO/hearth
#
# Builds nothing. Installs the pinned tools (requirements.txt) into a venv under
# ${HEARTH_CACHE_DIR:-~/.cache/hearth}, starts `hearth serve` on a free loopback port with a
# temp data dir, stops it by pid on exit. schemathesis is bounded (a few resource types and
# operations, OPENAPI_MAX_EXAMPLES examples each, fixed seed) so the run takes a few minutes.
set -uo pipefail

log() { printf '[openapi] %s\n' "$*"; }
die() { printf '[openapi] error: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: $0 PATH/TO/hearth"
HEARTH_BIN=$(realpath "$1") || die "no such file: $1"
[[ -x $HEARTH_BIN ]] || die "not an executable: $HEARTH_BIN"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}
PYTHON=${PYTHON:-python3}
MAX_EXAMPLES=${OPENAPI_MAX_EXAMPLES:-10}
command -v "$PYTHON" >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"
mkdir -p "$CACHE_DIR"

WORK_DIR=$(mktemp -d -t hearth-openapi.XXXXXX)
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
trap hearth_cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ------------------------------------------------------------------------------------

hearth_venv openapi "$HERE/requirements.txt"

# --- server -----------------------------------------------------------------------------------

hearth_start_server
ROOT="$ROOT_URL"
TOKEN="$HEARTH_TOKEN"
HEADERS=(-H "Authorization: Bearer $TOKEN")
log "using a system/*.cruds token for tenant default"

failed=()

# --- the document -----------------------------------------------------------------------------

curl -fsS --max-time 60 -o "$WORK_DIR/openapi.json" "$ROOT/openapi.json" || die "GET /openapi.json"
log "GET /openapi.json: $(wc -c <"$WORK_DIR/openapi.json") bytes"
"$HEARTH_BIN" --data-dir "$DATA" openapi >"$WORK_DIR/printed.json" || die "hearth openapi"
if "$PYTHON" -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(a!=b)' \
  "$WORK_DIR/openapi.json" "$WORK_DIR/printed.json"; then
  log "hearth openapi prints the served document"
else
  log "FAILED: hearth openapi differs from GET /openapi.json"
  failed+=(cli)
fi

if "$VENV/bin/openapi-spec-validator" --schema 3.1 "$WORK_DIR/openapi.json"; then
  log "openapi-spec-validator: ok"
else
  failed+=(openapi-spec-validator)
fi

docs=$(curl -fsS --max-time 10 "$ROOT/docs") || die "GET /docs"
if [[ $docs == *"/docs/swagger-ui-bundle.js"* && $docs != *"https://"* ]] \
  && curl -fsS -o /dev/null --max-time 10 "$ROOT/docs/swagger-ui-bundle.js" \
  && curl -fsS --max-time 10 "$ROOT/docs/swagger-initializer.js" | grep -q '/openapi.json'; then
  log "/docs: Swagger UI served from the binary"
else
  log "FAILED: /docs does not serve Swagger UI with local assets"
  failed+=(docs)
fi

# --- schemathesis -----------------------------------------------------------------------------

# Every tenant path goes to the tenant the token is for.
cat >"$WORK_DIR/schemathesis.toml" <<'EOF'
[parameters]
"path.tenantId" = "default"
EOF
# A bounded selection: the service endpoints, the system interactions, and the interactions of
# two resource types (Patient, Basic) that take no resource body, and bulk export. Operations
# with a resource body are left to the Rust black-box tests: schemathesis builds strategies for
# the full R4 schemas (every type reaches Extension, and `contained` the union of all 146
# resource types) even to replay the schemas' spec examples, which takes minutes per operation.
OPS='^(health|ready|capabilities-system|history-system|search-system|export-(system|patient|status|cancel)|(read|vread|history|history-instance|delete|delete-conditional|search)-(Patient|Basic))$'
log "schemathesis: positive data, $MAX_EXAMPLES examples per operation"
if (cd "$WORK_DIR" && "$VENV/bin/schemathesis" --config-file "$WORK_DIR/schemathesis.toml" run \
  "$WORK_DIR/openapi.json" --url "$ROOT" "${HEADERS[@]}" \
  --include-operation-id-regex "$OPS" \
  --mode positive --phases examples,fuzzing --max-examples "$MAX_EXAMPLES" --seed 1 \
  --workers 2 --suppress-health-check all --request-timeout 30 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --warnings off); then
  log "schemathesis: ok"
else
  failed+=(schemathesis)
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all OpenAPI checks passed"
