#!/usr/bin/env bash
# The whole test suite, from a fresh clone: formatting, lints, unit and conformance tests,
# black-box HTTP tests, the spec-example corpus and the real FHIR clients.
# Installs what it needs into a cache (HEARTH_CACHE_DIR, default ~/.cache/hearth) and stops
# every process it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}"
export HEARTH_CACHE_DIR="$CACHE"
mkdir -p "$CACHE"
step() { printf '\n==> %s\n' "$*"; }

step "fetch the FHIR R4 4.0.1 definitions and examples (npm hl7.fhir.r4.examples@4.0.1)"
PKG="$CACHE/hl7.fhir.r4.examples-4.0.1"
if [ ! -f "$PKG/package/package.json" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null)
  sum=$(sha1sum "$tmp/hl7.fhir.r4.examples-4.0.1.tgz" | cut -d' ' -f1)
  if [ "$sum" != "537ea7db3f3c7b3575fe2eaa7808bad21261cca3" ]; then
    echo "unexpected checksum $sum for hl7.fhir.r4.examples-4.0.1.tgz" >&2
    exit 1
  fi
  mkdir -p "$PKG"
  tar xzf "$tmp/hl7.fhir.r4.examples-4.0.1.tgz" -C "$PKG"
  rm -rf "$tmp"
fi
export HEARTH_FHIR_PACKAGE="$PKG/package"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (unit, conformance, black-box HTTP, spec examples)"
cargo test --workspace --quiet 2>&1 | tee "$CACHE/cargo-test.log"

step "build the hearth binary"
cargo build --quiet -p hearth-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
HEARTH_BIN="$target_dir/debug/hearth"
"$HEARTH_BIN" --help >/dev/null
"$HEARTH_BIN" serve --help >/dev/null

if [ -x tests/clients/run.sh ]; then
  step "real FHIR clients (fhirpy, fhir-kit-client) against hearth serve"
  tests/clients/run.sh "$HEARTH_BIN"
fi

step "Bulk Data \$export with smart-fetch on Synthea data (NDJSON checked as R4, Parquet with pyarrow and DuckDB)"
tests/export/run.sh "$HEARTH_BIN"

step "infrastructure templates (cfn-lint) and Dockerfile (hadolint)"
scripts/check-infra.sh

step "OpenAPI: openapi-spec-validator and schemathesis against hearth serve"
tests/openapi/check.sh "$HEARTH_BIN"

step "all tests passed"
