#!/usr/bin/env bash
# Search benchmark on Synthea data, embedded backend: builds release binaries, generates (or
# reuses from HEARTH_CACHE_DIR) N Synthea patients, loads them into a fresh `hearth serve` on
# loopback through transaction Bundles (tests/export/load_synthea.py, the load rate printed),
# picks real search parameters from the loaded data through the API
# (tests/export/search_bench.py params), runs each scenario with `hearth-search-load` and prints
# a table (scenario, URL shape, req/s, p50, p99, target, met/missed; medians over --runs), then
# the create phase of `hearth-load` on the loaded tenant (creates/s with indexing and auth). The
# server is stopped by pid. Needs python3; Synthea and the loader's packages are installed into
# venvs under HEARTH_CACHE_DIR (tests/export/requirements*.txt).
#
#   scripts/bench-search.sh [--patients N] [--duration S] [--runs R] [--concurrency C]
#
#   --patients N     Synthea patients (default 100; seed 42, reference date 20250601)
#   --duration S     seconds per scenario and run (default 10)
#   --runs R         runs of every scenario; the table shows medians (default 1)
#   --concurrency C  concurrent requests of the request/s scenarios (default 16)
#   --reuse DIR      keep the loaded data dir (and the picked queries) in DIR and reuse it on
#                    later runs with the same DIR, skipping the load (before/after figures)
#   --only LIST      run only these scenarios (comma-separated names, e.g. patient-code,create)
#
# Scenarios and targets (2 cores):
#   patient-code        Observation?patient=P&code=C over many (P, C)   ≥ 3,000 req/s, p99 < 20 ms
#   chain-org           Observation?encounter.service-provider.name=O  p99 < 50 ms (2-level chain)
#   chain-practitioner  Observation?patient=P&encounter.participant:Practitioner.name=F  p99 < 50 ms
#   include-patient     Observation?patient=P&_include=Observation:patient  p99 < 50 ms
#   include-encounter   MedicationRequest?patient=P&_include=MedicationRequest:encounter  p99 < 50 ms
#   stream-1000         Observation?_count=1000, following `next`, 1 client  ≥ 50,000 resources/s
#   create              hearth-load create phase (POST Patient, 64 concurrent)  ≥ 3,446/s (60% of 5,744)
set -euo pipefail
cd "$(dirname "$0")/.."

PATIENTS=100
DURATION=10
RUNS=1
CONCURRENCY=16
REUSE=""
ONLY=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --patients) PATIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --reuse) REUSE=$2; shift 2 ;;
    --only) ONLY=",$2,"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[bench-search] %s\n' "$*"; }
die() { printf '[bench-search] error: %s\n' "$*" >&2; exit 2; }
SEED=42
REFERENCE_DATE=20250601
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth-tests}
PYTHON=${PYTHON:-python3}
mkdir -p "$CACHE_DIR"

cargo build --release --quiet -p hearth-cli -p hearth-tests
target_dir=$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
HEARTH_BIN="$target_dir/release/hearth"
LOAD_BIN="$target_dir/release/hearth-load"
SEARCH_BIN="$target_dir/release/hearth-search-load"

WORK_DIR=$(mktemp -d -t hearth-bench-search.XXXXXX)
# shellcheck source=../tests/lib/server.sh
source tests/lib/server.sh
trap hearth_cleanup EXIT

# --- data: generated once per (N, seed, date, Synthea pins), shared with tests/export/run.sh ----
SYNTHEA_KEY="p$PATIENTS-s$SEED-r$REFERENCE_DATE-$(sha256sum tests/export/requirements-synthea.txt | cut -c1-8)"
SYNTHEA_DIR="$CACHE_DIR/synthea-$SYNTHEA_KEY"
if [[ -f $SYNTHEA_DIR/.complete ]]; then
  log "reusing Synthea data in $SYNTHEA_DIR"
else
  hearth_venv synthea tests/export/requirements-synthea.txt
  log "synthea -p $PATIENTS -s $SEED -r $REFERENCE_DATE (a few seconds per patient)"
  gen=$(mktemp -d "$CACHE_DIR/.synthea.XXXXXX")
  if ! "$VENV/bin/synthea" -p "$PATIENTS" -s "$SEED" -r "$REFERENCE_DATE" -o "$gen/out" >"$gen/log" 2>&1; then
    tail -n 20 "$gen/log" >&2
    rm -rf "$gen"
    die "synthea failed"
  fi
  rm -rf "$SYNTHEA_DIR"
  mv "$gen/out/fhir" "$SYNTHEA_DIR"
  rm -rf "$gen"
  touch "$SYNTHEA_DIR/.complete"
fi
hearth_venv export tests/export/requirements.txt
PY="$VENV/bin/python"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- server and data --------------------------------------------------------------------------
export HEARTH_MAX_BODY_BYTES=$((64 << 20))
LOADED="$WORK_DIR"
if [[ -n $REUSE ]]; then
  mkdir -p "$REUSE"
  LOADED=$(cd "$REUSE" && pwd)
  DATA="$LOADED/data"
fi
hearth_start_server
if [[ -f $LOADED/.loaded ]]; then
  log "reusing the data loaded in $LOADED"
else
  log "loading $(find "$SYNTHEA_DIR" -name '*.json' | wc -l) Synthea Bundles ($PATIENTS patients) through transactions"
  "$PY" tests/export/load_synthea.py "$SYNTHEA_DIR" "$LOADED/load.json" | grep -v '\] bundle ' || die "load failed"
  "$PY" - "$LOADED/load.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"[bench-search] loaded {s['resources']:,} resources ({s['by_type'].get('Observation', 0):,} Observations) "
      f"in {s['seconds']:.1f} s: {s['resources'] / s['seconds']:,.0f} resources/s through transaction Bundles")
EOF
  "$PY" tests/export/search_bench.py params "$LOADED/load.json" "$LOADED/queries"
  touch "$LOADED/.loaded"
fi
Q="$LOADED/queries"

# --- scenarios ----------------------------------------------------------------------------------
RESULTS="$WORK_DIR/results.jsonl"
# `scenario NAME SHAPE TARGET [hearth-search-load options]`: runs it --runs times, one JSON line
# each (with the scenario's name, shape and target added) into RESULTS.
scenario() {
  local name=$1 shape=$2 target=$3 run line
  shift 3
  [[ -z $ONLY || $ONLY == *",$name,"* ]] || return 0
  for run in $(seq 1 "$RUNS"); do
    line=$("$SEARCH_BIN" --json --duration "$DURATION" --label "$name" "$@")
    log "$name run $run: $line"
    "$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(scenario=sys.argv[2], shape=sys.argv[3], target=sys.argv[4], run=int(sys.argv[5])); print(json.dumps(r))' \
      "$line" "$name" "$shape" "$target" "$run" >>"$RESULTS"
  done
}
scenario patient-code "Observation?patient=P&code=C" "rps>=3000,p99<20" \
  --queries-file "$Q/patient-code.txt" --concurrency "$CONCURRENCY"
scenario chain-org "Observation?encounter.service-provider.name=O" "p99<50" \
  --queries-file "$Q/chain-org.txt" --concurrency "$CONCURRENCY"
scenario chain-practitioner "Observation?patient=P&encounter.participant:Practitioner.name=F" "p99<50" \
  --queries-file "$Q/chain-practitioner.txt" --concurrency "$CONCURRENCY"
scenario include-patient "Observation?patient=P&_include=Observation:patient" "p99<50" \
  --queries-file "$Q/include-patient.txt" --concurrency "$CONCURRENCY"
scenario include-encounter "MedicationRequest?patient=P&_include=MedicationRequest:encounter" "p99<50" \
  --queries-file "$Q/include-encounter.txt" --concurrency "$CONCURRENCY"
scenario stream-1000 "Observation?_count=1000, next links, 1 client" "res>=50000" \
  --query "Observation?_count=1000" --follow-next --concurrency 1

# --- create throughput with indexing and auth, on the loaded tenant ---------------------------
if [[ -z $ONLY || $ONLY == *",create,"* ]]; then
log "hearth-load create phase ($RUNS run(s), $DURATION s each)"
"$LOAD_BIN" --base-url "$HEARTH_BASE_URL" --runs "$RUNS" --duration "$DURATION" --no-transactions \
  --max-reads 1 | tee "$WORK_DIR/create.txt"
"$PY" - "$WORK_DIR/create.txt" "$RESULTS" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    for key, label in (("rps", "create Patient c="), ("p50", "  create p50 ms"), ("p99", "  create p99 ms")):
        if line.startswith(label):
            rows[key] = float(line.split()[-1])
with open(sys.argv[2], "a") as f:
    f.write(json.dumps({"scenario": "create", "shape": "POST Patient, 64 concurrent (hearth-load)",
                        "target": "creates>=3446", "requests_per_s": rows["rps"], "resources_per_s": rows["rps"],
                        "p50_ms": rows["p50"], "p99_ms": rows["p99"], "failed": 0}) + "\n")
EOF
fi

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg) (at the end)"
"$PY" tests/export/search_bench.py table "$RESULTS"
