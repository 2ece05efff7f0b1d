#!/usr/bin/env bash
# Whole-server benchmark: builds release binaries, starts `hearth serve` on a fresh data dir on
# loopback, runs the load driver (create, read by id, 100-entry transactions) and stops the
# server by pid. Extra arguments go to the driver (see `hearth-load --help`), e.g. --runs 3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p hearth-cli -p hearth-tests
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
data_dir=$(mktemp -d -t hearth-bench.XXXXXX)
port=${HEARTH_BENCH_PORT:-18090}
"$target_dir/release/hearth" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" >"$data_dir.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data_dir" "$data_dir.log"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
HEARTH_TOKEN=$("$target_dir/release/hearth" token --data-dir "$data_dir" --tenant default --scope 'system/*.cruds')
export HEARTH_TOKEN
"$target_dir/release/hearth-load" --base-url "http://127.0.0.1:$port/tenant/default" "$@"
