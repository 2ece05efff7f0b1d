# Shared by the end-to-end runners (sourced, not run): their log lines, their arguments, and
# small helpers. A runner sets RUNNER_TAG (the prefix of its log lines) before sourcing this,
# then calls `runner_args`; tests/lib/server.sh and tests/lib/standins.sh build on it.

: "${RUNNER_TAG:?set RUNNER_TAG before sourcing runner.sh}"

log() { printf '[%s] %s\n' "$RUNNER_TAG" "$*"; }
# Exit status 2, so a broken setup is told apart from a failed test (1).
die() { printf '[%s] error: %s\n' "$RUNNER_TAG" "$*" >&2; exit 2; }

# `runner_args USAGE COUNT ARG...`: dies with `usage: RUNNER USAGE` unless there are COUNT
# arguments, the first being the hearth binary. Sets HEARTH_BIN (absolute, so the runner may
# change directory), CACHE_DIR (created; HEARTH_CACHE_DIR, where venvs and generated data are
# reused across runs) and PYTHON.
runner_args() {
  local usage=$1 count=$2
  shift 2
  [[ $# -eq $count ]] || die "usage: $0 $usage"
  HEARTH_BIN=$(realpath "$1") || die "no such file: $1"
  [[ -x $HEARTH_BIN ]] || die "not an executable: $HEARTH_BIN"
  CACHE_DIR=${HEARTH_CACHE_DIR:-$HOME/.cache/hearth-tests}
  PYTHON=${PYTHON:-python3}
  mkdir -p "$CACHE_DIR"
}

# `random_hex BYTES`: that many random bytes in hex (unique names, shared secrets).
random_hex() {
  head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# A loopback port free at the time of asking (the kernel picks it).
free_port() {
  "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# `wait_healthy ROOT_URL SECONDS WHAT`: polls ROOT_URL/health every 0.1 s; dies naming WHAT
# when it has not answered within SECONDS.
wait_healthy() {
  local url=$1 seconds=$2 what=$3 tries i
  tries=$((seconds * 10))
  for i in $(seq 1 "$tries"); do
    curl -fsS -o /dev/null --max-time 1 "$url/health" 2>/dev/null && return 0
    [[ $i -eq $tries ]] && die "$what not healthy after $seconds s"
    sleep 0.1
  done
}

# `show_logs DIR`: the last lines of every log in DIR (on failure, before DIR is removed).
show_logs() {
  local f
  for f in "$1"/*.log; do
    [[ -e $f ]] || continue
    log "last lines of $(basename "$f"):"
    tail -n 15 "$f" | sed 's/^/    /'
  done
}
