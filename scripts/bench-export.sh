#!/usr/bin/env bash
# Export benchmark: release build, then for each Synthea data set given (folders of transaction
# Bundles, e.g. from `synthea -p 200 -s 7 -o DIR` → DIR/fhir), a fresh `hearth serve` on
# loopback is loaded with it and restarted (so its peak RSS counts the export, not the load);
# tests/export/bench.py then measures read-by-id p99 idle, a system export to NDJSON and to
# Parquet, read p99 while exports run back to back, and the server's peak RSS. Servers are
# stopped by pid. Needs the Python packages of tests/export/requirements.txt (a venv is made
# under HEARTH_CACHE_DIR).
#
#   scripts/bench-export.sh DATASET_DIR [DATASET_DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: $0 DATASET_DIR [DATASET_DIR...]" >&2; exit 2; }

log() { printf '[bench-export] %s\n' "$*"; }
die() { printf '[bench-export] error: %s\n' "$*" >&2; exit 2; }
CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}
PYTHON=${PYTHON:-python3}
cargo build --release --quiet -p hearth-cli -p hearth-tests
target_dir=$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
HEARTH_BIN="$target_dir/release/hearth"
LOAD_BIN="$target_dir/release/hearth-load"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

for dataset in "$@"; do
  WORK_DIR=$(mktemp -d -t hearth-bench-export.XXXXXX)
  # shellcheck source=../tests/lib/server.sh
  source tests/lib/server.sh
  trap hearth_cleanup EXIT
  hearth_venv export tests/export/requirements.txt
  export HEARTH_MAX_BODY_BYTES=$((64 << 20))
  hearth_start_server
  log "loading $dataset"
  "$VENV/bin/python" tests/export/load_synthea.py "$dataset" "$WORK_DIR/load.json" >/dev/null
  log "restarting the server so its peak RSS starts from the loaded state"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  "$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fsS "$ROOT_URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
  log "data set $(basename "$(dirname "$dataset")")/$(basename "$dataset"): $(du -sh "$DATA" | cut -f1) on disk"
  "$VENV/bin/python" tests/export/bench.py --base "$HEARTH_BASE_URL" --token "$HEARTH_TOKEN" \
    --pid "$SERVER_PID" --log "$SERVER_LOG" --load-bin "$LOAD_BIN"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  rm -rf "$WORK_DIR"
  trap - EXIT
done
