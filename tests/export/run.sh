#!/usr/bin/env bash
# End-to-end test of Bulk Data `$export` with a real client and realistic data, against a Hearth
# server that this script starts and stops.
#
#   tests/export/run.sh PATH/TO/hearth
#
# Builds nothing: pass a built `hearth` binary. Steps:
#   1. Synthea (requirements-synthea.txt, its own venv) generates EXPORT_PATIENTS patients
#      (default 5, seed EXPORT_SEED=42, reference date EXPORT_REFERENCE_DATE=20250601: about
#      10,200 resources in one transaction Bundle per patient). The Bundles are cached under
#      $HEARTH_CACHE_DIR keyed by those three values and the Synthea pins.
#   2. `hearth serve` starts on a free loopback port with a fresh data dir; every Bundle is POSTed
#      to the tenant `default` and a Group of EXPORT_GROUP_SIZE (default 2) patients is created.
#      What the server then holds is read back by search (the reference for every check), and
#      the checkers are tested on files made from it (test_checkers.py).
#   3. A SMART Backend Services client is registered (ES384 key, scope system/*.read).
#   4. smart-fetch (requirements.txt) runs a system export and a Group export with that client;
#      check_ndjson.py validates each line as R4 and compares ids and content with the server.
#   5. bulk_client.py, a small IG client that checks the protocol as it goes, runs a Patient
#      export and a system export (NDJSON), a system export as Parquet (check_parquet.py compares
#      it with the NDJSON one through pyarrow and DuckDB) and a cancelled export.
# The server is stopped by pid at the end; the exit status is non-zero if any step failed.
# EXPORT_TIMEOUT (default 900 s) bounds each export; EXPORT_SELFTEST=0 skips test_checkers.py;
# EXPORT_KEEP=DIR keeps the work dir (exports, reference data, server log) for a look afterwards.
# EXPORT_ONLY_SMART_FETCH=1 stops after the smart-fetch exports (steps 1-4): the run on the AWS
# backend, whose emulator serializes every request.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNNER_TAG=export
# shellcheck source=../lib/runner.sh
source "$HERE/../lib/runner.sh"
runner_args PATH/TO/hearth 1 "$@"
PATIENTS=${EXPORT_PATIENTS:-5}
SEED=${EXPORT_SEED:-42}
REFERENCE_DATE=${EXPORT_REFERENCE_DATE:-20250601}
GROUP_SIZE=${EXPORT_GROUP_SIZE:-2}
export EXPORT_TIMEOUT=${EXPORT_TIMEOUT:-900}
command -v "$PYTHON" >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"

WORK_DIR=$(mktemp -d -t hearth-export.XXXXXX)
# shellcheck source=../lib/server.sh
source "$HERE/../lib/server.sh"
# EXPORT_KEEP=DIR: copy the work dir (exports, reference data, server log) there before cleanup.
keep_work_dir() {
  if [[ -n ${EXPORT_KEEP:-} ]]; then
    mkdir -p "$EXPORT_KEEP" && cp -a "$WORK_DIR/." "$EXPORT_KEEP/" && log "kept the work dir in $EXPORT_KEEP"
  fi
}
trap 'rc=$?; set +e; keep_work_dir; (exit $rc); hearth_cleanup' EXIT
trap 'exit 130' INT TERM

failed=()

# `step NAME COMMAND...`: runs COMMAND, logs its outcome and duration, records a failure.
step() {
  local name=$1 start rc=0 ms took
  shift
  log "── $name"
  start=$(date +%s%N)
  "$@" || rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  took="$((ms / 1000)).$((ms % 1000 / 100))"
  if [[ $rc -eq 0 ]]; then
    log "── $name: passed ($took s)"
  else
    log "── $name: FAILED (exit $rc, $took s)"
    failed+=("$name")
  fi
  return "$rc"
}

# --- tools and data (before the server, so slow installs do not keep it idle) ---------------

hearth_venv export "$HERE/requirements.txt"
TOOLS=$VENV
PY=("$TOOLS/bin/python")

SYNTHEA_KEY="p$PATIENTS-s$SEED-r$REFERENCE_DATE-$(sha256sum "$HERE/requirements-synthea.txt" | cut -c1-8)"
SYNTHEA_DIR="$CACHE_DIR/synthea-$SYNTHEA_KEY"
if [[ -f $SYNTHEA_DIR/.complete ]]; then
  log "reusing Synthea data in $SYNTHEA_DIR"
else
  hearth_venv synthea "$HERE/requirements-synthea.txt"
  log "synthea -p $PATIENTS -s $SEED -r $REFERENCE_DATE"
  gen=$(mktemp -d "$CACHE_DIR/.synthea.XXXXXX")
  if ! "$VENV/bin/synthea" -p "$PATIENTS" -s "$SEED" -r "$REFERENCE_DATE" -o "$gen/out" >"$gen/log" 2>&1; then
    tail -n 20 "$gen/log" >&2
    rm -rf "$gen"
    die "synthea failed"
  fi
  compgen -G "$gen/out/fhir/*.json" >/dev/null || { rm -rf "$gen"; die "synthea wrote no Bundles"; }
  rm -rf "$SYNTHEA_DIR"
  mv "$gen/out/fhir" "$SYNTHEA_DIR"
  rm -rf "$gen"
  touch "$SYNTHEA_DIR/.complete"
  log "generated $(find "$SYNTHEA_DIR" -name '*.json' | wc -l) Bundles into $SYNTHEA_DIR"
fi

# --- server, data, client -------------------------------------------------------------------

# One patient's Bundle can outgrow the default 16 MiB body limit as EXPORT_PATIENTS grows.
export HEARTH_MAX_BODY_BYTES=${HEARTH_MAX_BODY_BYTES:-67108864}
hearth_start_server

step "load the Synthea Bundles" "${PY[@]}" "$HERE/load_synthea.py" "$SYNTHEA_DIR" "$WORK_DIR/load.json" \
  --group-size "$GROUP_SIZE" || die "cannot go on without data"
GROUP_ID=$("${PY[@]}" -c 'import json, sys; print(json.load(open(sys.argv[1]))["group"]["id"])' "$WORK_DIR/load.json")

EXPECTED="$WORK_DIR/expected"
step "read the tenant back by search" "${PY[@]}" "$HERE/dump_search.py" "$EXPECTED" --summary "$WORK_DIR/load.json" \
  || die "cannot go on without the reference data"

if [[ ${EXPORT_SELFTEST:-1} != 0 ]]; then
  step "test the checkers on the tenant's data" "${PY[@]}" "$HERE/test_checkers.py" "$EXPECTED" "$GROUP_ID" || true
fi

CLIENT_ID=hearth-export-test
KEY="$WORK_DIR/keys/$CLIENT_ID.jwks"
HEARTH_ADMIN_TOKEN=$("$HEARTH_BIN" token --admin --data-dir "$DATA") || die "mint an admin token"
export HEARTH_ADMIN_TOKEN
step "register a SMART backend-services client" \
  "${PY[@]}" "$HERE/smart_client.py" register "$ROOT_URL" default "$CLIENT_ID" "$WORK_DIR/keys" \
  || die "cannot go on without a client"

# --- smart-fetch ------------------------------------------------------------------------------

# smart-fetch asks for `_type` = the patient-data types it knows that the CapabilityStatement
# lists; --no-default-filters: no `_typeFilter` on Observation categories, so everything comes.
SMART_FETCH=(timeout "$EXPORT_TIMEOUT" "$TOOLS/bin/smart-fetch" bulk
  --fhir-url "$HEARTH_BASE_URL" --smart-client-id "$CLIENT_ID" --smart-key "$KEY"
  --no-compression --no-default-filters)
check_ndjson() { "${PY[@]}" "$HERE/check_ndjson.py" "$@" --expected "$EXPECTED"; }

if step "smart-fetch: system export" "${SMART_FETCH[@]}" "$WORK_DIR/sf-system"; then
  step "check the system export" check_ndjson "$WORK_DIR/sf-system" --level system || true
fi
if step "smart-fetch: Group export" "${SMART_FETCH[@]}" --group "$GROUP_ID" "$WORK_DIR/sf-group"; then
  step "check the Group export" check_ndjson "$WORK_DIR/sf-group" --level group --group "$GROUP_ID" || true
fi

# --- the protocol, Patient level, Parquet, cancel -----------------------------------------

if [[ ${EXPORT_ONLY_SMART_FETCH:-0} == 1 ]]; then
  if [[ ${#failed[@]} -gt 0 ]]; then
    log "FAILED steps:"
    printf '[export]   %s\n' "${failed[@]}"
    exit 1
  fi
  log "the smart-fetch exports passed (EXPORT_ONLY_SMART_FETCH=1: the other steps not run)"
  exit 0
fi

BULK=("${PY[@]}" "$HERE/bulk_client.py")
if step "bulk_client: Patient export (_outputFormat=ndjson, no _type)" \
  "${BULK[@]}" export "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" "$WORK_DIR/bc-patient" --level patient --output-format ndjson; then
  step "check the Patient export" check_ndjson "$WORK_DIR/bc-patient" --level patient || true
fi
if step "bulk_client: system export (NDJSON, every type)" \
  "${BULK[@]}" export "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" "$WORK_DIR/bc-system"; then
  step "check the system export of every type" check_ndjson "$WORK_DIR/bc-system" --level system || true
  if step "bulk_client: system export as Parquet" \
    "${BULK[@]}" export "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" "$WORK_DIR/bc-parquet" --output-format application/vnd.apache.parquet; then
    step "check the Parquet export against the NDJSON one" \
      "${PY[@]}" "$HERE/check_parquet.py" "$WORK_DIR/bc-parquet" "$WORK_DIR/bc-system" || true
  fi
fi
step "bulk_client: cancel an export" "${BULK[@]}" cancel "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" || true

# --- kill -9 mid-export, restart, and the job completes with exactly the right content ------

# `serve_again SIGNAL`: stops the server with SIGNAL and starts it again on the same port and
# data dir, with small export files and pages (many checkpoints) and a short visibility timeout.
serve_again() {
  kill "-$1" "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  HEARTH_EXPORT_FILE_BYTES=100000 HEARTH_EXPORT_PAGE=20 HEARTH_EXPORT_VISIBILITY_SECONDS=3 \
    HEARTH_EXPORT_POLL_SECONDS=1 "$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  log "server restarted after SIG$1 (pid $SERVER_PID)"
  local i
  for i in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "$ROOT_URL/health" && return 0
    sleep 0.1
  done
  return 1
}
crash_and_resume() {
  serve_again TERM || return 1
  "${BULK[@]}" start "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" "$WORK_DIR/crash.json" || return 1
  serve_again KILL || return 1
  "${BULK[@]}" resume "$HEARTH_BASE_URL" "$CLIENT_ID" "$KEY" "$WORK_DIR/crash.json" "$WORK_DIR/crash" || return 1
  grep -q 'export started.*attempt=2' "$SERVER_LOG" || { log "no second attempt in the server log"; return 1; }
}
if step "kill -9 of the server mid-export, restart, resume" crash_and_resume; then
  step "check the resumed export (no gaps, no duplicates)" check_ndjson "$WORK_DIR/crash" --level system || true
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED steps:"
  printf '[export]   %s\n' "${failed[@]}"
  exit 1
fi
log "all export steps passed"
