#!/usr/bin/env bash
# A throwaway PostgreSQL 15 on 127.0.0.1 for tests (Debian's /usr/lib/postgresql/15).
#   pg_fixture.sh start DIR   initdb under DIR (owned by postgres when run as root), start on a free
#                             port; prints the URL and writes DIR/url and DIR/pid (the postmaster).
#   pg_fixture.sh stop DIR    stops that postmaster by its pid and removes DIR.
#   pg_fixture.sh run CMD...  start in a fresh temp dir, run CMD with PARTYD_PG_URL and
#                             PARTYD_PG_PID set, stop; exits with CMD's status.
# initdb refuses to run as root, so as root everything runs as the postgres user (runuser).
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; chmod 700 "$dir"; fi
  as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' -c fsync=off -c max_connections=50" \
        start >/dev/null; then
      local pid
      pid=$(head -1 "$dir/data/postmaster.pid")
      echo "$pid" >"$dir/pid"
      echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
      cat "$dir/url"
      return 0
    fi
  done
  cat "$dir/log" >&2
  return 1
}

stop() {
  local dir=$1
  if [ -f "$dir/pid" ]; then
    local pid
    pid=$(cat "$dir/pid")
    kill -CONT "$pid" 2>/dev/null || true
    kill -INT "$pid" 2>/dev/null || true  # fast shutdown
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  run)
    shift
    dir=$(mktemp -d /tmp/partyd-pg.XXXXXX)
    trap 'stop "$dir"' EXIT
    start "$dir" >/dev/null
    PARTYD_PG_URL=$(cat "$dir/url") PARTYD_PG_PID=$(cat "$dir/pid") "$@"
    ;;
  *) echo "usage: $0 start DIR | stop DIR | run CMD..." >&2; exit 2 ;;
esac
