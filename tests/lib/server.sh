# Shared by the test scripts that drive a real `hearth serve` (sourced, not run). The caller
# defines `log` and `die` (tests/lib/runner.sh does, for the end-to-end runners), sets
# HEARTH_BIN, WORK_DIR, CACHE_DIR and PYTHON, and calls `trap hearth_cleanup EXIT`.

SERVER_PID=""
SERVER_LOG="$WORK_DIR/server.log"
DATA="$WORK_DIR/data"

# Stops the server by pid (TERM, then KILL after 15 s: closing a tenant's file checkpoints its
# WAL, up to 128 MiB), shows its log on failure, removes WORK_DIR. A server that needs KILL,
# exits non-zero, or leaves a tenant's WAL behind fails the run.
hearth_cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 150); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop in 15 s; sending KILL"
      kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    local status=0
    wait "$SERVER_PID" 2>/dev/null || status=$?
    if [[ $status -ne 0 ]]; then
      hearth_stop_failed "the server exited with status $status"
    elif compgen -G "$DATA/tenants/*/*-wal" >/dev/null; then
      # A clean stop closes every tenant's file, which checkpoints and removes its WAL.
      hearth_stop_failed "the server stopped without closing its tenants' files: $(echo "$DATA"/tenants/*/*-wal)"
    fi
  fi
  if [[ $rc -ne 0 && -s $SERVER_LOG ]]; then
    log "last server log lines:"
    tail -n 40 "$SERVER_LOG" | sed 's/^/    /'
  fi
  rm -rf "$WORK_DIR"
  exit "$rc"
}

# Logs why stopping the server failed; the run's status becomes 1 unless it already failed.
hearth_stop_failed() {
  log "error: $*"
  if [[ $rc -eq 0 ]]; then rc=1; fi
}

# `hearth_venv NAME REQUIREMENTS`: a venv under CACHE_DIR keyed by the requirements' hash,
# reused while they are unchanged; sets VENV.
hearth_venv() {
  local name=$1 reqs=$2
  VENV="$CACHE_DIR/venv-$name-$(sha256sum "$reqs" | cut -c1-16)"
  if [[ -f $VENV/.complete ]]; then
    log "reusing $VENV"
  else
    log "installing $reqs into $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "create venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$reqs" || die "pip install -r $reqs"
    touch "$VENV/.complete"
  fi
}

# Starts `hearth serve` on a free loopback port with a fresh data dir, waits until it and the
# default tenant answer, and mints a full-access token for `default`. Sets PORT, ROOT_URL,
# HEARTH_BASE_URL and HEARTH_TOKEN (both exported).
hearth_start_server() {
  PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') \
    || die "find a free port"
  ROOT_URL="http://127.0.0.1:$PORT"
  export HEARTH_BASE_URL="$ROOT_URL/tenant/default"
  log "starting $HEARTH_BIN serve on 127.0.0.1:$PORT (data dir $DATA)"
  "$HEARTH_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  log "server pid $SERVER_PID"
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "$ROOT_URL/health"; then
      log "server healthy after ~$((i / 10)).$((i % 10)) s"
      break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited before becoming healthy"
    [[ $i -eq 100 ]] && die "server not healthy after 10 s"
    sleep 0.1
  done
  # The default tenant is created on first start; wait until it answers too.
  for i in $(seq 1 50); do
    curl -fsS -o /dev/null --max-time 2 "$HEARTH_BASE_URL/metadata" && break
    [[ $i -eq 50 ]] && die "$HEARTH_BASE_URL/metadata does not answer"
    sleep 0.1
  done
  # The server created its signing key in the data dir; a token minted there is accepted.
  HEARTH_TOKEN=$("$HEARTH_BIN" token --data-dir "$DATA" --tenant default --scope 'system/*.cruds') \
    || die "mint a token with hearth token"
  export HEARTH_TOKEN
  # The first request on a large reused data dir opens (and may checkpoint) its files.
  curl -fsS -o /dev/null --max-time 60 -H "Authorization: Bearer $HEARTH_TOKEN" "$HEARTH_BASE_URL/_history?_count=1" \
    || die "the minted token is not accepted"
}
