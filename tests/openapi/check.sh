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
# temp data dir, stops it by pid on exit. schemathesis is bounded (a selection of resource types,
# OPENAPI_MAX_EXAMPLES examples per operation, fixed seed, request bodies from a depth-bounded
# projection of the resource schemas, see below) so the run takes a few minutes.
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
# A bounded selection: the service endpoints, the system interactions (search, history, the
# batch/transaction POST), bulk export, and every REST interaction of the WRITE_TYPES (create,
# update, conditional create/update/patch/delete, JSON Patch and FHIRPath Patch, read, vread,
# history, search by GET and POST).
#
# Request bodies are generated from a depth-bounded projection of the resource schemas
# (fuzz_document.py): hypothesis needs minutes per operation to build a strategy for a full R4
# body schema (every type reaches Extension, `contained` the union of all 146 resource types).
# Only the request side of the selected operations is projected; every response is checked
# against the full document as served. The examples phase replays each type's spec example.
# Writes are not sent `Prefer: return=minimal` (a 200/201 without body, which OpenAPI cannot
# mark optional; fuzz_document.py says why and which Rust test covers it).
WRITE_TYPES=(Patient Basic Observation Encounter Condition Practitioner Organization Binary
  MedicationRequest DiagnosticReport AllergyIntolerance Immunization Procedure QuestionnaireResponse Bundle)
types=$(IFS='|'; echo "${WRITE_TYPES[*]}")
kinds='read|vread|history|history-instance|delete|delete-conditional|search|search-post|create|update|update-conditional|patch|patch-conditional'
OPS="^(health|ready|capabilities-system|history-system|search-system|batch-system|export-(system|patient|status|cancel)|($kinds)-($types))\$"
"$PYTHON" "$HERE/fuzz_document.py" "$WORK_DIR/openapi.json" "$WORK_DIR/fuzz.json" "${WRITE_TYPES[@]}" \
  || die "fuzz_document.py"

# `seed-1` (one of the ids the fuzzed instance operations use) exists for each type with a spec
# example, so updates, patches and reads also reach a stored resource.
seeded=$("$PYTHON" - "$WORK_DIR/openapi.json" "$ROOT/tenant/default" "$TOKEN" "${WRITE_TYPES[@]}" <<'PY'
import json, sys, urllib.request
doc, base, token, types = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
schemas = json.load(open(doc))["components"]["schemas"]
for t in types:
    for example in schemas[t].get("examples", [])[:1]:
        body = json.dumps(dict(example, id="seed-1")).encode()
        req = urllib.request.Request(f"{base}/{t}/seed-1", body, method="PUT", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
        urllib.request.urlopen(req, timeout=30).close()
        print(t)
PY
) || die "seed the spec examples as seed-1"
log "seeded $(echo "$seeded" | wc -l) spec examples as seed-1"

log "schemathesis: positive data, $MAX_EXAMPLES examples per operation"
start=$SECONDS
if (cd "$WORK_DIR" && SCHEMATHESIS_HOOKS="$HERE/hooks.py" "$VENV/bin/schemathesis" \
  --config-file "$WORK_DIR/schemathesis.toml" run \
  "$WORK_DIR/fuzz.json" --url "$ROOT" "${HEADERS[@]}" \
  --include-operation-id-regex "$OPS" \
  --mode positive --phases examples,fuzzing --max-examples "$MAX_EXAMPLES" --seed 1 \
  --workers 2 --suppress-health-check all --request-timeout 30 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --warnings off); then
  log "schemathesis: ok ($((SECONDS - start)) s)"
else
  failed+=(schemathesis)
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all OpenAPI checks passed"
