#!/usr/bin/env bash
# Ensure PostgreSQL and Redis are reachable and print, on stdout only:
#   DATABASE_URL=...
#   REDIS_URL=...
# so that a Makefile recipe can do `eval $(.ci/services.sh)` (then export them).
# Everything else goes to stderr.
#
# PostgreSQL, first that works:
#   1. $DATABASE_URL, if `pg_isready -d "$DATABASE_URL"` succeeds
#   2. 127.0.0.1:5432 (postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   3. a private cluster under $ROOT/.data/pg on 127.0.0.1:55432 (trust auth),
#      built with Debian's /usr/lib/postgresql/*/bin binaries
#   4. as root with apt-get: apt-get install -y postgresql, then 3.
# Redis, first that works:
#   1. $REDIS_URL, if `redis-cli -u "$REDIS_URL" ping` answers PONG
#   2. 127.0.0.1:6379 (redis://127.0.0.1:6379/0)
#   3. a private redis-server on 127.0.0.1:56379, dir $ROOT/.data/redis, no persistence
#   4. as root with apt-get: apt-get install -y redis-server, then 3.
# Otherwise it says what is missing and exits 1.
#
# Idempotent: a second run finds and reuses the private servers of the first.
# CARTOGRAPH_FORCE_PRIVATE=1 skips steps 1 and 2 for both services (to test
# the private-server path on a machine that has shared services).
# To stop the private servers:
#   runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D .data/pg/data stop   (pg_ctl directly when not root)
#   redis-cli -p 56379 shutdown nosave
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRIVATE_PG_PORT=55432
PRIVATE_REDIS_PORT=56379
FORCE_PRIVATE="${CARTOGRAPH_FORCE_PRIVATE:-0}"

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [[ "$(id -u)" == 0 ]]; }
shared_why() { # why the shared service was not used (for error messages)
  if [[ "$FORCE_PRIVATE" == 1 ]]; then
    printf 'shared services skipped (CARTOGRAPH_FORCE_PRIVATE=1),'
  else
    printf '%s unset or not answering, nothing on 127.0.0.1:%s,' "$1" "$2"
  fi
}

# emit NAME VALUE: print NAME=VALUE, single-quoting the value only when it has
# characters the shell would interpret (so `eval $(...)` and `export $(...)`
# both work for the plain URLs this script builds).
emit() {
  local name="$1" value="$2"
  if [[ "$value" =~ ^[A-Za-z0-9@%:/._?=+,~-]*$ ]]; then
    printf '%s=%s\n' "$name" "$value"
  else
    printf '%s=%q\n' "$name" "$value"
  fi
}

APT_UPDATED=0
apt_install() {
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() { # pg_isready args...
  command -v pg_isready >/dev/null 2>&1 || return 1
  pg_isready -q -t 3 "$@" >/dev/null 2>&1
}

pg_bindir() { # newest Debian PostgreSQL bindir, or nothing
  local d
  # shellcheck disable=SC2012 # Debian paths: /usr/lib/postgresql/<major>/bin
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then printf '%s\n' "$d"; fi
}

# Directory for the private cluster. $ROOT/.data/pg unless, running as root, the
# postgres user cannot reach it (e.g. a clone under /root) or the socket path
# would exceed the 107-byte limit; then a per-checkout directory under /tmp.
pg_private_dir() {
  local dir="$ROOT/.data/pg"
  local sock="$dir/run/.s.PGSQL.$PRIVATE_PG_PORT"
  if (( ${#sock} > 100 )); then
    dir="/tmp/cartograph-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  elif is_root; then
    mkdir -p "$ROOT/.data"
    if ! runuser -u postgres -- test -x "$ROOT/.data" 2>/dev/null; then
      dir="/tmp/cartograph-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
    fi
  fi
  printf '%s\n' "$dir"
}

as_pg_owner() { # run a command as the cluster owner (postgres when root)
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_private_pg() {
  local bindir="$1" dir data sock logf
  if is_root && ! id -u postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres >&2 ||
      die "could not create user postgres (needed to run PostgreSQL as root)"
  fi
  dir="$(pg_private_dir)"
  data="$dir/data" sock="$dir/run" logf="$dir/postgres.log"

  mkdir -p "$dir" "$sock"
  if is_root; then chown -R postgres: "$dir"; fi

  if [[ -e "$data" && ! -r "$data" ]]; then
    die "$data exists but $(id -un) cannot read it (made by another user?): run as that user or remove $dir"
  fi
  if [[ ! -s "$data/PG_VERSION" ]]; then
    if [[ -d "$data" ]]; then
      log "removing incomplete cluster directory $data (no PG_VERSION)"
      rm -rf "$data"
    fi
    log "initdb private cluster in $data ($bindir)"
    as_pg_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >&2 ||
      as_pg_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >&2 ||
      die "initdb failed for $data"
    cat >>"$data/postgresql.conf" <<EOF

# cartograph private cluster (.ci/services.sh)
listen_addresses = '127.0.0.1'
port = $PRIVATE_PG_PORT
unix_socket_directories = '$sock'
max_connections = 200
EOF
  fi

  if as_pg_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "private PostgreSQL already running ($data)"
  else
    log "starting private PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT (log: $logf)"
    as_pg_owner "$bindir/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >&2 || {
      tail -n 30 "$logf" >&2 || true
      die "private PostgreSQL did not start (see $logf)"
    }
  fi

  for _ in $(seq 1 30); do
    pg_ready -h 127.0.0.1 -p "$PRIVATE_PG_PORT" && return 0
    sleep 1
  done
  die "private PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT does not answer pg_isready"
}

ensure_postgres() {
  local shared="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  local private="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/postgres?sslmode=disable"

  if [[ "$FORCE_PRIVATE" != 1 ]]; then
    if [[ -n "${DATABASE_URL:-}" ]]; then
      if pg_ready -d "$DATABASE_URL"; then
        log "PostgreSQL: using \$DATABASE_URL"
        PG_URL="$DATABASE_URL"; return 0
      fi
      log "PostgreSQL: \$DATABASE_URL is set but pg_isready fails on it; trying others"
    fi
    if pg_ready -h 127.0.0.1 -p 5432; then
      log "PostgreSQL: using 127.0.0.1:5432"
      PG_URL="$shared"; return 0
    fi
  else
    log "PostgreSQL: CARTOGRAPH_FORCE_PRIVATE=1, using a private cluster"
  fi

  # Already started by an earlier run (ours, possibly from another directory).
  if pg_ready -h 127.0.0.1 -p "$PRIVATE_PG_PORT"; then
    log "PostgreSQL: reusing the private server on 127.0.0.1:$PRIVATE_PG_PORT"
    PG_URL="$private"; return 0
  fi

  local bindir
  bindir="$(pg_bindir)"
  if [[ -z "$bindir" ]]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      apt_install postgresql || die "apt-get install postgresql failed"
      bindir="$(pg_bindir)"
    fi
  fi
  if [[ -z "$bindir" ]]; then
    die "no PostgreSQL: $(shared_why "\$DATABASE_URL" 5432) no /usr/lib/postgresql/*/bin/initdb, and $(is_root && echo 'no apt-get' || echo 'not root, so cannot apt-get install postgresql'). Install PostgreSQL or set DATABASE_URL."
  fi
  command -v pg_isready >/dev/null 2>&1 || export PATH="$bindir:$PATH"
  start_private_pg "$bindir"
  PG_URL="$private"
}

# --------------------------------------------------------------------- Redis

# redis_ping URL: true when the server answers PONG. Uses redis-cli when it is
# installed, else a plain RESP PING over bash's /dev/tcp (no auth, no TLS).
redis_ping() {
  local url="$1"
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 5 redis-cli -u "$url" ping 2>/dev/null || true)" == PONG ]]
    return
  fi
  local hp host port reply=""
  hp="${url#*://}"; hp="${hp#*@}"; hp="${hp%%/*}"
  host="${hp%:*}"; port="${hp##*:}"
  [[ "$host" == "$hp" ]] && port=6379
  [[ -n "$host" && "$port" =~ ^[0-9]+$ ]] || return 1
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 3 reply <&3 || exit 1
    [[ "${reply%$'\r'}" == "+PONG" ]]
  ) 2>/dev/null
}

redis_server_bin() {
  local b
  for b in "$(command -v redis-server 2>/dev/null || true)" /usr/bin/redis-server /usr/local/bin/redis-server; do
    if [[ -n "$b" && -f "$b" && -x "$b" ]]; then printf '%s\n' "$b"; return 0; fi
  done
}

start_private_redis() {
  local bin="$1" dir="$ROOT/.data/redis"
  local url="redis://127.0.0.1:$PRIVATE_REDIS_PORT/0"
  if redis_ping "$url"; then
    log "private Redis already running on 127.0.0.1:$PRIVATE_REDIS_PORT"
    return 0
  fi
  mkdir -p "$dir"
  log "starting private Redis on 127.0.0.1:$PRIVATE_REDIS_PORT (dir: $dir)"
  "$bin" --port "$PRIVATE_REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir" --save "" --appendonly no \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2 ||
    die "redis-server failed to start (see $dir/redis.log)"

  for _ in $(seq 1 50); do
    redis_ping "$url" && return 0
    sleep 0.2
  done
  tail -n 20 "$dir/redis.log" >&2 || true
  die "private Redis on 127.0.0.1:$PRIVATE_REDIS_PORT does not answer PING"
}

ensure_redis() {
  local shared="redis://127.0.0.1:6379/0"
  local private="redis://127.0.0.1:$PRIVATE_REDIS_PORT/0"

  if [[ "$FORCE_PRIVATE" != 1 ]]; then
    if [[ -n "${REDIS_URL:-}" ]]; then
      if redis_ping "$REDIS_URL"; then
        log "Redis: using \$REDIS_URL"
        RD_URL="$REDIS_URL"; return 0
      fi
      log "Redis: \$REDIS_URL is set but does not answer PING; trying others"
    fi
    if redis_ping "$shared"; then
      log "Redis: using 127.0.0.1:6379"
      RD_URL="$shared"; return 0
    fi
  else
    log "Redis: CARTOGRAPH_FORCE_PRIVATE=1, using a private server"
  fi

  local bin
  bin="$(redis_server_bin)"
  if [[ -z "$bin" ]]; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      apt_install redis-server || die "apt-get install redis-server failed"
      bin="$(redis_server_bin)"
    fi
  fi
  if [[ -z "$bin" ]]; then
    die "no Redis: $(shared_why "\$REDIS_URL" 6379) no redis-server binary, and $(is_root && echo 'no apt-get' || echo 'not root, so cannot apt-get install redis-server'). Install Redis or set REDIS_URL."
  fi
  start_private_redis "$bin"
  RD_URL="$private"
}

PG_URL="" RD_URL=""
ensure_postgres
ensure_redis
emit DATABASE_URL "$PG_URL"
emit REDIS_URL "$RD_URL"
