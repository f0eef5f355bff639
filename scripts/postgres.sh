#!/usr/bin/env bash
# A private, throwaway PostgreSQL for the cluster tests (and for trying the cluster pool by hand).
#
#   eval "$(scripts/postgres.sh start)"    # prints `export EFFECT_MP_TEST_POSTGRES_URL=…` and `…_DIR=…`
#   scripts/postgres.sh stop "$EFFECT_MP_TEST_POSTGRES_DIR"    # stops it and deletes its directory
#
# `start` installs Debian's `postgresql` package when the server binaries are missing (root only: one
# `apt-get update`, then `apt-get install -y postgresql`), runs `initdb` into a fresh temp directory
# (trust auth, no fsync: a test database, never data you keep), starts the server on 127.0.0.1 on a free
# port with its socket inside that directory, and creates the database. Nothing else on the machine
# changes: no service, no port other than the one printed. Progress and timings go to stderr; stdout
# carries only the `export` lines. As root, the server runs as the `postgres` user (initdb refuses root).
# Set PG_BIN to use the binaries of a particular installation, EFFECT_MP_PG_NO_INSTALL to never install,
# EFFECT_MP_PG_WATCH_PID to stop and delete the server once that process has exited, however it ended.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }
now_ms() { date +%s%3N; }

find_bin() {
  if [[ -n "${PG_BIN:-}" && -x "$PG_BIN/initdb" ]]; then echo "$PG_BIN"; return 0; fi
  # Debian keeps the server binaries out of PATH, one directory per major version: take the newest.
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

install_postgres() {
  if [[ -n "${EFFECT_MP_PG_NO_INSTALL:-}" ]]; then
    log "PostgreSQL server binaries not found (EFFECT_MP_PG_NO_INSTALL: not installing them)"
    return 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    log "PostgreSQL server binaries not found, and installing them needs root (apt-get install postgresql)"
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL server binaries not found, and this is not a Debian-like system (no apt-get)"
    return 1
  fi
  log "installing Debian's postgresql package"
  local t0; t0=$(now_ms)
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  log "installed in $(( $(now_ms) - t0 )) ms"
}

# Runs a command as the database's owner: the postgres user when we are root, else ourselves.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"
    else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

free_port() {
  # Ask the kernel for a free port when node is at hand; otherwise a random one (start retries on a clash).
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    echo $(( 20000 + RANDOM % 40000 ))
  fi
}

start() {
  local t0; t0=$(now_ms)
  local bin
  if ! bin="$(find_bin)"; then
    install_postgres
    bin="$(find_bin)" || { log "PostgreSQL installed but initdb not found"; return 1; }
  fi
  local dir; dir="$(mktemp -d "${TMPDIR:-/tmp}/effect-mp-pg.XXXXXX")"
  chmod 755 "$dir"
  if [[ "$(id -u)" == 0 ]]; then chown postgres: "$dir"; fi
  local t1; t1=$(now_ms)
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; return 1; }
  local t2; t2=$(now_ms)
  local port attempt
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      break
    fi
    log "could not start on port $port (attempt $attempt)"
    port=""
  done
  if [[ -z "$port" ]]; then cat "$dir/server.log" >&2 || true; rm -rf "$dir"; return 1; fi
  local t3; t3=$(now_ms)
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres effect_mp_test
  local t4; t4=$(now_ms)
  log "ready on 127.0.0.1:$port in $(( t4 - t0 )) ms (initdb $(( t2 - t1 )) ms, start $(( t3 - t2 )) ms, createdb $(( t4 - t3 )) ms)"
  if [[ -n "${EFFECT_MP_PG_WATCH_PID:-}" ]]; then
    # a watchdog: once that process is gone (even killed with SIGKILL, its own teardown never run),
    # stop and delete this server
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop "$3"' _ \
      "$EFFECT_MP_PG_WATCH_PID" "$(realpath "$0")" "$dir" </dev/null >/dev/null 2>&1 &
  fi
  echo "export EFFECT_MP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/effect_mp_test"
  echo "export EFFECT_MP_TEST_POSTGRES_DIR=$dir"
}

stop() {
  local dir="${1:-${EFFECT_MP_TEST_POSTGRES_DIR:-}}"
  if [[ -z "$dir" ]]; then log "stop: which directory? (the EFFECT_MP_TEST_POSTGRES_DIR that start printed)"; return 1; fi
  # Only ever delete a directory this script made.
  case "$(basename "$dir")" in effect-mp-pg.*) ;; *) log "stop: $dir is not one of ours"; return 1 ;; esac
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    local bin; bin="$(find_bin)" || true
    as_owner "${bin:+$bin/}pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || log "stop: pg_ctl stop failed"
  fi
  rm -rf "$dir"
  log "stopped and deleted $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
