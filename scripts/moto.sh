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

running() {
  local pidfile="$1/moto.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
  local port="$1" dir="$2" bin pid deadline
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if running "$dir"; then
    echo "a moto server started with $dir is already running (pid $(cat "$dir/moto.pid"))" >&2
    exit 1
  fi
  bin=$(moto_server_bin)
  # The Python that has this moto; tests/moto/serve.py runs it with serialized requests and
  # item-level transaction rollback (see that file).
  python="$(dirname "$bin")/python3"
  [ -x "$python" ] || python=python3
  nohup "$python" "$ROOT/tests/moto/serve.py" "$port" >"$dir/moto.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/moto.pid"
  deadline=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto exited while starting; log tail:" >&2
      tail -n 40 "$dir/moto.log" >&2
      rm -f "$dir/moto.pid"
      exit 1
    fi
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
      echo "moto ready on http://127.0.0.1:$port (pid $pid)"
      return 0
    fi
    sleep 0.5
  done
  echo "moto was not ready after ${WAIT_SECONDS}s; log tail:" >&2
  tail -n 40 "$dir/moto.log" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir="$1" pid
  [ -f "$dir/moto.pid" ] || return 0
  pid=$(cat "$dir/moto.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/moto.pid"
}

case "${1:-}" in
  start)
    [ $# -eq 3 ] || usage
    start "$2" "$3"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
  *) usage ;;
esac
