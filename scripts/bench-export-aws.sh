#!/usr/bin/env bash
# Export on the AWS backend with parallel workers: a fresh `hearth serve` (no in-process export
# workers) on the emulators is loaded with a Synthea data set (a folder of transaction
# Bundles), then for each worker count given a system-level and a Patient-level export run
# with that many `hearth worker` processes; prints resources/s per run (kick-off to manifest,
# polled every second). Processes are stopped by pid.
#
#   HEARTH_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT HEARTH_TEST_OPENSEARCH_URL=http://127.0.0.1:PORT2 \
#     scripts/bench-export-aws.sh DATASET_DIR [WORKERS...]        (default: 1 2)
#
# Both exports name in `_type` the types the data set holds (EXPORT_TYPES=A,B,... to choose):
# the same resources as without `_type`, without a Query per shard of every other R4
# type, which on moto (a whole-table pass per index query) would dominate the time.
# HEARTH_BIN=PATH uses a built binary instead of building a release one. On moto, which
# serves one request at a time (tests/moto/serve.py), the figures are about the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: $0 DATASET_DIR [WORKERS...]" >&2; exit 2; }

log() { printf '[bench-export-aws] %s\n' "$*"; }
die() { printf '[bench-export-aws] error: %s\n' "$*" >&2; exit 2; }
: "${HEARTH_TEST_AWS_ENDPOINT:?set HEARTH_TEST_AWS_ENDPOINT (scripts/moto.sh start)}"
: "${HEARTH_TEST_OPENSEARCH_URL:?set HEARTH_TEST_OPENSEARCH_URL (scripts/opensearch-node.sh start)}"
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}
PYTHON=${PYTHON:-python3}
if [[ -z ${HEARTH_BIN:-} ]]; then
  cargo build --release --quiet -p hearth-cli
  target_dir=$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  HEARTH_BIN="$target_dir/release/hearth"
fi
dataset=$1
shift
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(1 2)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

WORK_DIR=$(mktemp -d -t hearth-bench-export-aws.XXXXXX)
# shellcheck source=../tests/lib/server.sh
source tests/lib/server.sh
WORKER_PIDS=()
stop_workers() {
  local pid
  for pid in "${WORKER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${WORKER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  WORKER_PIDS=()
}
trap 'stop_workers; hearth_cleanup' EXIT
hearth_venv export tests/export/requirements.txt

NAME="bench$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export HEARTH_BACKEND=aws HEARTH_PROVISION=true HEARTH_INDEXING=inline
# moto serves one request at a time: no long polls.
export HEARTH_SQS_WAIT_SECONDS=0
export HEARTH_AWS_ENDPOINT_URL=$HEARTH_TEST_AWS_ENDPOINT HEARTH_AWS_PREFIX=$NAME
export HEARTH_OPENSEARCH_URL=$HEARTH_TEST_OPENSEARCH_URL HEARTH_OPENSEARCH_PREFIX="hearth-$NAME-"
export HEARTH_EXPORT_WORKERS=0 HEARTH_EXPORT_POLL_SECONDS=1 HEARTH_MAX_BODY_BYTES=$((64 << 20))
hearth_start_server
log "loading $dataset"
start=$(date +%s)
"$VENV/bin/python" tests/export/load_synthea.py "$dataset" "$WORK_DIR/load.json" >/dev/null
log "loaded in $(($(date +%s) - start)) s"
EXPORT_TYPES=${EXPORT_TYPES:-$("$VENV/bin/python" -c 'import json, sys; print(",".join(sorted(json.load(open(sys.argv[1]))["by_type"])))' "$WORK_DIR/load.json")}
export EXPORT_TYPES
log "exporting _type=$EXPORT_TYPES"

for n in "${counts[@]}"; do
  for i in $(seq 1 "$n"); do
    "$HEARTH_BIN" --data-dir "$DATA" worker --workers 1 --indexers 0 >>"$WORK_DIR/worker-$n-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
  done
  for level in system patient; do
    "$VENV/bin/python" - "$level" "$n" <<'PY'
import os, sys, time
import requests
level, workers = sys.argv[1], sys.argv[2]
base, token = os.environ["HEARTH_BASE_URL"], os.environ["HEARTH_TOKEN"]
s = requests.Session()
s.headers["Authorization"] = f"Bearer {token}"
path = "$export" if level == "system" else "Patient/$export"
started = time.monotonic()
r = s.get(f"{base}/{path}", params={"_type": os.environ["EXPORT_TYPES"]},
          headers={"Accept": "application/fhir+json", "Prefer": "respond-async"})
r.raise_for_status()
status = r.headers["Content-Location"]
while True:
    time.sleep(1.0)
    r = s.get(status)
    if r.status_code == 200:
        break
    if r.status_code not in (202, 429):
        sys.exit(f"status {r.status_code}: {r.text}")
took = time.monotonic() - started
manifest = r.json()
count = sum(f["count"] for f in manifest["output"])
print(f"{level:7} export, {workers} worker(s): {count} resources in {len(manifest['output'])} files, "
      f"{took:.1f} s, {count / took:.0f} resources/s", flush=True)
s.delete(status)
PY
  done
  stop_workers
done
