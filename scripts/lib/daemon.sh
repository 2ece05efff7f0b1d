# Start/wait/stop for the test stand-ins (sourced by scripts/moto.sh and scripts/opensearch-node.sh).
# A daemon NAME started for DIR keeps its pid in DIR/NAME.pid and its output in DIR/NAME.log.

# Whether the daemon NAME started with DIR is alive.
daemon_running() {
  local pidfile="$2/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# Waits up to SECONDS for READY (a command) to succeed while the daemon's pid lives; on
# failure prints the log tail, stops the daemon and exits 1.
#   daemon_wait NAME DIR SECONDS LABEL READY...
daemon_wait() {
  local name="$1" dir="$2" seconds="$3" label="$4" pid deadline
  shift 4
  pid=$(cat "$dir/$name.pid")
  deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$label exited while starting; log tail:" >&2
      tail -n 40 "$dir/$name.log" >&2
      rm -f "$dir/$name.pid"
      exit 1
    fi
    if "$@"; then
      return 0
    fi
    sleep 0.5
  done
  echo "$label was not ready after ${seconds}s; log tail:" >&2
  tail -n 40 "$dir/$name.log" >&2
  daemon_stop "$name" "$dir" 10
  exit 1
}

# Stops the daemon (TERM, then KILL after GRACE seconds) and removes its pid file.
#   daemon_stop NAME DIR GRACE
daemon_stop() {
  local name="$1" dir="$2" grace="$3" pid
  [ -f "$dir/$name.pid" ] || return 0
  pid=$(cat "$dir/$name.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 $((grace * 2))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/$name.pid"
}

# The command line of both scripts: `start PORT DIR` or `stop DIR`, dispatched to the
# caller's `start` and `stop` functions.
daemon_main() {
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
}
