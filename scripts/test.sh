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

step "start the AWS stand-ins: moto (DynamoDB, Streams, S3, SQS, KMS) and a real OpenSearch 2.19.6 node"
STANDINS=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop_standins() {
  scripts/moto.sh stop "$STANDINS" || true
  scripts/opensearch-node.sh stop "$STANDINS" || true
  rm -rf "$STANDINS"
}
trap stop_standins EXIT
MOTO_PORT=$(free_port)
scripts/moto.sh start "$MOTO_PORT" "$STANDINS"
OPENSEARCH_PORT=$(free_port)
scripts/opensearch-node.sh start "$OPENSEARCH_PORT" "$STANDINS"
# The one switch of the emulator-backed tests (conformance of the AWS and OpenSearch adapters).
export HEARTH_TEST_EMULATORS=1
export HEARTH_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export HEARTH_TEST_OPENSEARCH_URL="http://127.0.0.1:$OPENSEARCH_PORT"

step "cargo test (unit, conformance on both backends, black-box HTTP, spec examples)"
cargo test --workspace --quiet 2>&1 | tee "$CACHE/cargo-test.log"

step "black-box HTTP tests again on the AWS backend (DynamoDB, S3, SQS, KMS on moto; OpenSearch)"
HEARTH_TEST_BACKEND=aws cargo test -p hearth-tests --tests --quiet 2>&1 | tee "$CACHE/cargo-test-aws.log"

step "build the hearth binary"
cargo build --quiet -p hearth-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
HEARTH_BIN="$target_dir/debug/hearth"
"$HEARTH_BIN" --help >/dev/null
"$HEARTH_BIN" serve --help >/dev/null

step "AWS backend end to end: serve + worker + stream pump; OpenSearch stopped and restarted, a worker killed"
tests/aws/run.sh "$HEARTH_BIN" "$STANDINS"

step "two API tasks on one AWS deployment: tenants, clients and replayed assertions shared through DynamoDB"
tests/aws/two_tasks.sh "$HEARTH_BIN"

step "SigV4 to OpenSearch checked by an independent oracle: a botocore-verifying proxy in front of the node"
tests/aws/sigv4.sh "$HEARTH_BIN"

if [ -x tests/clients/run.sh ]; then
  step "real FHIR clients (fhirpy, fhir-kit-client) against hearth serve"
  tests/clients/run.sh "$HEARTH_BIN"
fi

step "Bulk Data \$export with smart-fetch on Synthea data (NDJSON checked as R4, Parquet with pyarrow and DuckDB)"
tests/export/run.sh "$HEARTH_BIN"

step "Bulk Data \$export with smart-fetch on the AWS backend (system and Group exports, NDJSON checked as R4)"
HEARTH_BACKEND=aws HEARTH_PROVISION=true HEARTH_INDEXING=inline HEARTH_SQS_WAIT_SECONDS=0 \
  HEARTH_AWS_ENDPOINT_URL="$HEARTH_TEST_AWS_ENDPOINT" HEARTH_AWS_PREFIX="export$$" \
  HEARTH_OPENSEARCH_URL="$HEARTH_TEST_OPENSEARCH_URL" HEARTH_OPENSEARCH_PREFIX="hearth-export$$-" \
  EXPORT_ONLY_SMART_FETCH=1 EXPORT_SELFTEST=0 tests/export/run.sh "$HEARTH_BIN"

step "authentication end to end: /auth/token with PyJWT assertions (inline JWKS, https jwks_uri), Cognito on moto"
tests/auth/run.sh "$HEARTH_BIN"

step "infrastructure templates (cfn-lint) and Dockerfile (hadolint)"
scripts/check-infra.sh

step "OpenAPI: openapi-spec-validator and schemathesis against hearth serve"
tests/openapi/check.sh "$HEARTH_BIN"

step "all tests passed"
