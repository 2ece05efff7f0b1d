#!/usr/bin/env bash
# moto, the AWS stand-in for tests (DynamoDB + Streams, S3, SQS, KMS), on 127.0.0.1 only.
#
#   scripts/moto.sh start PORT DIR   start moto (tests/moto/serve.py) on PORT, wait until it answers
#   scripts/moto.sh stop DIR         stop the server started with DIR
#
# Uses `moto_server` from PATH when python3's moto is at least $MOTO_MIN (older releases answer
# S3 CompleteMultipartUpload with an XML root the Rust SDK rejects); otherwise installs
# `moto[server]==$MOTO_MIN` into a venv under ${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}/moto.
# DIR receives moto.pid and moto.log.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${HEARTH_CACHE_DIR:-$HOME/.cache/hearth}/moto"
MOTO_MIN="5.2.5"
WAIT_SECONDS=60
# shellcheck source=lib/daemon.sh
. "$ROOT/scripts/lib/daemon.sh"

usage() {
  echo "usage: $0 start PORT DIR | stop DIR" >&2
  exit 2
}

# Whether python3's moto is at least $MOTO_MIN.
recent_moto_on_path() {
  command -v moto_server >/dev/null 2>&1 || return 1
  python3 - "$MOTO_MIN" <<'PY' 2>/dev/null
import re, sys
import moto
def parts(v):
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", v).groups())
sys.exit(0 if parts(moto.__version__) >= parts(sys.argv[1]) else 1)
PY
}

# Prints the moto_server to run, installing it into the cache if needed.
moto_server_bin() {
  if recent_moto_on_path; then
    command -v moto_server
    return 0
  fi
  local venv="$CACHE/venv-$MOTO_MIN"
  if [ ! -x "$venv/bin/moto_server" ]; then
    mkdir -p "$CACHE"
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "moto[server]==$MOTO_MIN"; } \
      >"$CACHE/install.log" 2>&1; then
      echo "installing moto $MOTO_MIN failed:" >&2
      tail -n 40 "$CACHE/install.log" >&2
      rm -rf "$venv"
      exit 1
    fi
  fi
  echo "$venv/bin/moto_server"
}

moto_ready() {
  curl -fsS -o /dev/null "http://127.0.0.1:$1/moto-api/" 2>/dev/null
}

start() {
  local port="$1" dir="$2" bin python
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if daemon_running moto "$dir"; then
    echo "a moto server started with $dir is already running (pid $(cat "$dir/moto.pid"))" >&2
    exit 1
  fi
  bin=$(moto_server_bin)
  # The Python that has this moto; tests/moto/serve.py runs it with serialized requests and
  # item-level transaction rollback (see that file).
  python="$(dirname "$bin")/python3"
  [ -x "$python" ] || python=python3
  nohup "$python" "$ROOT/tests/moto/serve.py" "$port" >"$dir/moto.log" 2>&1 </dev/null &
  echo "$!" >"$dir/moto.pid"
  daemon_wait moto "$dir" "$WAIT_SECONDS" moto moto_ready "$port"
  echo "moto ready on http://127.0.0.1:$port (pid $(cat "$dir/moto.pid"))"
}

stop() {
  daemon_stop moto "$1" 10
}

daemon_main "$@"
