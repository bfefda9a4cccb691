#!/usr/bin/env bash
# `make bench` driver: load-tests ./bin/cartograph on 127.0.0.1 and writes a
# markdown summary to stdout and .data/bench/summary.md.
#
# Usage: .ci/bench.sh [all|tools|pgbench|cost|peer]
#   all      (default) tools, bench database, server, scenarios, peer baseline, pgbench, summary
#   tools    only build vegeta and benchtool into .data/tools
#   pgbench  only the pgbench database floor, against an existing, seeded bench database
#   cost     the listing, then the query-cost overhead pairs and the hostile-document replay
#   peer     only the PostGraphile baseline: the listing on Cartograph and on PostGraphile,
#            interleaved capacity rounds, and the Cartograph/PostGraphile ratios
#   market   only the market pairs: the listing in a non-default market (@inContext(country: DE),
#            EUR at 0.92, .99 rounding, a fixed price) vs the default market (@inContext(country: US)),
#            3 alternating capacity pairs: server CPU-ms/req of both (target: within 10 %)
#   live     subscription fan-out over TWO gateway instances (:18080, :18082):
#            BENCH_LIVE_SUBS [1000] websocket subscribers of one
#            variant, BENCH_LIVE_RATE [50] stock changes/s for BENCH_LIVE_SECONDS [20];
#            delivery latency p50/p95/p99 (ledger timestamp → subscriber), missed
#            events, RSS per idle subscription, and a 1 s polling baseline in the same
#            run (driver: benchtool live, .ci/bench/benchtool/live.go). Own database $BENCH_DB"_live" (demo seed).
#            Also what the subscriptions hold after a forced GC (live heap, stacks, goroutines per
#            connection), measured after the RSS figure and the change phase.
#   wsidle   the quick memory check: ONE instance, BENCH_LIVE_SUBS [1000] idle websocket
#            subscriptions, no changes: RSS per subscription (as live measures it), goroutines per
#            connection, allocations per subscription set-up, and the live heap and stacks they hold
#            after a GC (driver: benchtool wsidle, .ci/bench/benchtool/wsidle.go; same database as live).
#
# Environment (defaults in brackets):
#   BENCH_PRODUCTS [50000] BENCH_SHOPS [5]  seed size (products in all, shops bench-1..bench-M)
#   BENCH_RESEED=1                          drop and recreate the bench database
#   BENCH_DB [cartograph_bench]             name of the bench database
#   BENCH_CONCURRENCY [16]                  closed-loop workers (vegeta) and pgbench clients
#   BENCH_WARMUP [5s] BENCH_CAPACITY_DURATION [20s] BENCH_LATENCY_DURATION [15s]
#   BENCH_PGBENCH_SECONDS [15] BENCH_PGBENCH_MODE [prepared]
#   BENCH_MAX_WORKERS [512]                 bound on vegeta workers in the fixed-rate phases
#   BENCH_READY_TIMEOUT [60]                seconds to wait for /readyz
#   BENCH_BIN [./bin/cartograph]            server binary (built by the Makefile)
#   BENCH_READ_ONLY=1                       only the listing and product scenarios (compare builds)
#   BENCH_ATTACK_RATE [100]                 hostile documents per second in the under-attack phase
#   BENCH_PEER_ROUNDS [3] BENCH_PEER_DURATION [10s]  interleaved capacity rounds of the peer baseline
#   BENCH_PEER_PORT [18090]                 PostGraphile's port; BENCH_NO_PEER=1 skips the baseline in `all`
#   DATABASE_URL, REDIS_URL                 as for .ci/services.sh (which picks the services)
#
# Scenarios (queries in .ci/bench/*.graphql, shop header X-Shop-Handle: bench-1):
#   A listing  products(first: 24)
#   B product  product(handle: $h), h rotating over product-1..product-500
#   peer     the listing on PostGraphile 4.14.1 (npm, installed into .data/postgraphile at
#            bench time, never committed; Debian's Node 20 runs v4, v5 needs Node >= 22) over the
#            same tables as the owner (no RLS, raw columns): .ci/bench/listing.postgraphile.graphql
# Phases per scenario: warm-up; capacity (closed loop, -rate=0, C workers);
# fixed rate at 50% and 80% of capacity. For each measured phase: req/s,
# p50/p95/p99, success ratio, server and PostgreSQL CPU-ms per request
# (/proc utime+stime deltas of the server pid, and of every process whose comm
# starts with "postgres" plus their reaped children's cutime+cstime, so
# backends that exit mid-phase still count), SQL statements per request
# (/debug/sqlstats deltas).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE="${1:-all}"
case "$MODE" in
  all | tools | pgbench | cost | peer | market | live | wsidle) ;;
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench: unknown mode '$MODE' (all|tools|pgbench|cost|peer|market|live|wsidle)" >&2; exit 2 ;;
esac

BENCH_PRODUCTS="${BENCH_PRODUCTS:-50000}"
BENCH_SHOPS="${BENCH_SHOPS:-5}"
BENCH_DB="${BENCH_DB:-cartograph_bench}"
C="${BENCH_CONCURRENCY:-16}"
WARMUP="${BENCH_WARMUP:-5s}"
CAP_DUR="${BENCH_CAPACITY_DURATION:-20s}"
LAT_DUR="${BENCH_LATENCY_DURATION:-15s}"
PGB_SECONDS="${BENCH_PGBENCH_SECONDS:-15}"
PGB_MODE="${BENCH_PGBENCH_MODE:-prepared}"
MAX_WORKERS="${BENCH_MAX_WORKERS:-512}"
READY_TIMEOUT="${BENCH_READY_TIMEOUT:-60}"
BIN="${BENCH_BIN:-./bin/cartograph}"

ADDR=127.0.0.1:18080
BASE="http://$ADDR"
SHOP=bench-1
VEGETA_VERSION=v12.12.0

TOOLS="$ROOT/.data/tools"
VEGETA="$TOOLS/vegeta"
BENCHTOOL="$TOOLS/benchtool"
OUT="$ROOT/.data/bench"
RAW="$OUT/raw"
PHASES="$OUT/phases.tsv"
SUMMARY="$OUT/summary.md"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }
need() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]} (Debian: apt-get install -y postgresql-client curl; Go from the toolchain)"
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

for v in BENCH_PRODUCTS BENCH_SHOPS C PGB_SECONDS MAX_WORKERS READY_TIMEOUT; do
  if ! is_uint "${!v}" || ((${!v} == 0)); then die "$v must be a positive integer (got '${!v}')"; fi
done

# ------------------------------------------------------------------- tools

build_tools() {
  need go
  mkdir -p "$TOOLS"
  local vb="$TOOLS/vegeta-build"
  if [[ -x "$VEGETA" ]] && grep -qs "github.com/tsenart/vegeta/v12 $VEGETA_VERSION" "$vb/go.mod" &&
    "$VEGETA" -version >/dev/null 2>&1; then
    log "vegeta $VEGETA_VERSION already built ($VEGETA)"
  else
    log "building vegeta $VEGETA_VERSION in $vb"
    mkdir -p "$vb"
    (
      cd "$vb"
      export GOWORK=off GOFLAGS=-mod=mod
      [[ -f go.mod ]] || go mod init vegetabuild >&2
      go get "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
      go build -o ../vegeta github.com/tsenart/vegeta/v12 >&2
    ) || die "vegeta build failed (needs the Go module proxy)"
  fi

  local src="$ROOT/.ci/bench/benchtool"
  if [[ -x "$BENCHTOOL" && "$BENCHTOOL" -nt "$src/main.go" && "$BENCHTOOL" -nt "$src/live.go" && "$BENCHTOOL" -nt "$src/wsidle.go" && "$BENCHTOOL" -nt "$src/go.mod" ]]; then
    log "benchtool up to date"
  else
    log "building benchtool"
    (cd "$src" && GOWORK=off GOFLAGS=-mod=mod go build -o "$BENCHTOOL" .) >&2 || die "benchtool build failed"
  fi
}

# ---------------------------------------------------------------- services

services() {
  local out
  out="$("$ROOT/.ci/services.sh")" || die ".ci/services.sh failed"
  eval "$out"
  export DATABASE_URL REDIS_URL
  [[ "$DATABASE_URL" == postgres://* || "$DATABASE_URL" == postgresql://* ]] ||
    die "DATABASE_URL must be a postgres:// URL to derive the bench database from (got '$DATABASE_URL')"
  # Same server and credentials, database $BENCH_DB, query string kept.
  local base="${DATABASE_URL%%\?*}" query="" scheme rest
  [[ "$DATABASE_URL" == *\?* ]] && query="?${DATABASE_URL#*\?}"
  scheme="${base%%://*}://" rest="${base#*://}"
  BENCH_URL="$scheme${rest%%/*}/$BENCH_DB$query"
  ADMIN_URL="$DATABASE_URL"
  log "bench database: $BENCH_DB on ${rest%%/*}"
}

psql_admin() { psql "$ADMIN_URL" -X -v ON_ERROR_STOP=1 -Atq "$@"; }
psql_bench() { psql "$BENCH_URL" -X -v ON_ERROR_STOP=1 -Atq "$@"; }

db_exists() { [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" == 1 ]]; }

# The database comment records a completed seed, so an interrupted seed or a
# different size is never benchmarked.
seed_marker() { printf 'cartograph-bench seeded products=%s shops=%s' "$BENCH_PRODUCTS" "$BENCH_SHOPS"; }

prepare_db() {
  [[ "$BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case identifier"
  local recreate=0 reason=""
  if [[ "${BENCH_RESEED:-0}" == 1 ]]; then
    recreate=1 reason="BENCH_RESEED=1"
  elif ! db_exists; then
    recreate=1 reason="it does not exist"
  else
    local have
    have="$(psql_admin -c "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '$BENCH_DB'")"
    if [[ "$have" != "$(seed_marker)" ]]; then
      recreate=1 reason="it is not marked as seeded with products=$BENCH_PRODUCTS shops=$BENCH_SHOPS (comment: '${have:-none}')"
    fi
  fi

  if ((recreate)); then
    log "recreating database $BENCH_DB: $reason"
    psql_admin -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $BENCH_DB"
  else
    log "reusing seeded database $BENCH_DB (BENCH_RESEED=1 to rebuild)"
  fi

  log "migrate up"
  DATABASE_URL="$BENCH_URL" "$BIN" migrate up >&2 || die "'$BIN migrate up' failed"

  if ((recreate)); then
    log "seeding $BENCH_PRODUCTS products across $BENCH_SHOPS shops"
    local t0=$SECONDS
    DATABASE_URL="$BENCH_URL" "$BIN" seed --products "$BENCH_PRODUCTS" --shops "$BENCH_SHOPS" >&2 ||
      die "'$BIN seed --products $BENCH_PRODUCTS --shops $BENCH_SHOPS' failed"
    log "seeded in $((SECONDS - t0)) s; VACUUM ANALYZE"
    psql_bench -c "VACUUM ANALYZE"
    psql_admin -c "COMMENT ON DATABASE $BENCH_DB IS '$(seed_marker)'"
  fi
}

shop_uuid() {
  local id
  id="$(psql_bench -c "SELECT id FROM shops WHERE handle = '$SHOP'")" ||
    die "cannot query shops in $BENCH_DB (migrated?)"
  [[ -n "$id" ]] || die "shop '$SHOP' not found in $BENCH_DB (seeded? try BENCH_RESEED=1)"
  printf '%s\n' "$id"
}

# ------------------------------------------------------------------ server

SERVER_PID=""
PEER_PID=""
SERVER2_PID="" # live mode's second gateway instance
cleanup() {
  local rc=$?
  if [[ -n "$SERVER2_PID" ]] && kill -0 "$SERVER2_PID" 2>/dev/null; then
    kill -TERM "$SERVER2_PID" 2>/dev/null || true
    wait "$SERVER2_PID" 2>/dev/null || true
  fi
  if [[ -n "$PEER_PID" ]] && kill -0 "$PEER_PID" 2>/dev/null; then
    kill -TERM "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
  fi
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_server() {
  local rc=0 norls="${1:-}"
  curl -s -o /dev/null --max-time 2 "$BASE/" || rc=$?
  ((rc == 7)) || die "something already listens on $ADDR (curl exit $rc); stop it first"

  log "starting $BIN serve on $ADDR (log: $OUT/${SERVER_LOG:-server.log})"
  # The gateway connects as cartograph_app (row-level security). Rate limits
  # stay on (one Redis round trip per request) at a ceiling load cannot hit.
  # norls=1 is the baseline for the RLS overhead figure: owner connection
  # (superuser: policies bypassed) and no per-statement shop setting.
  LISTEN_ADDR="$ADDR" DATABASE_URL="$BENCH_URL" REDIS_URL="$REDIS_URL" CARTOGRAPH_DEBUG_STATS=1 \
    RATE_LIMIT_ANON=50000000 CARTOGRAPH_BENCH_NO_RLS="$norls" CARTOGRAPH_BENCH_NO_COST="${NOCOST:-}" \
    WS_MAX_CONNS_PER_PRINCIPAL="${WS_CONNS:-20}" RATE_LIMIT_STAFF="${STAFF_RATE:-1200}" \
    COST_BUCKET_MAX=1000000000 COST_RESTORE_RATE=100000000 SHOP_COST_BUCKET_MAX=1000000000 SHOP_COST_RESTORE_RATE=100000000 \
    STRIPE_SECRET_KEY="${STRIPE_KEY:-}" STRIPE_API_BASE="${STRIPE_BASE:-}" PUBLIC_CACHE_TTL="${CACHE_TTL:-0}" \
    "$BIN" serve >"$OUT/${SERVER_LOG:-server.log}" 2>&1 &
  SERVER_PID=$!

  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fs -o /dev/null --max-time 2 "$BASE/readyz"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      tail -n 40 "$OUT/server.log" >&2 || true
      die "server exited before /readyz answered 200 (log above)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$OUT/server.log" >&2 || true
      die "/readyz did not answer 200 within ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "server ready (pid $SERVER_PID)"
  if ! "$BENCHTOOL" sqlstats "$BASE/debug/sqlstats" >/dev/null 2>&1; then
    log "WARNING: $BASE/debug/sqlstats unavailable: SQL statements/request will be n/a"
  fi
}

# ------------------------------------------------------------------- load

CLK_TCK="$(getconf CLK_TCK)"

# PHASE_PID: measure another server process (the peer baseline) instead.
server_ticks() { "$BENCHTOOL" ticks pid "${PHASE_PID:-$SERVER_PID}"; }
pg_ticks() { "$BENCHTOOL" ticks comm postgres; }
sqlstats() {
  if [[ -n "${PHASE_PID:-}" ]]; then echo "- -"; return; fi
  "$BENCHTOOL" sqlstats "$BASE/debug/sqlstats" 2>/dev/null || echo "- -"
}
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/${2:-$SERVER_PID}/status" 2>/dev/null || echo 0; }

# per_req DELTA REQUESTS SCALE: DELTA*SCALE/REQUESTS with 3 decimals, or n/a
per_req() { awk -v d="$1" -v n="$2" -v s="$3" 'BEGIN { if (d == "" || d ~ /[^0-9.]/ || n + 0 <= 0) print "n/a"; else printf "%.3f", d * s / n }'; }

# attack NAME TARGETS ARGS... -> runs vegeta (bounded by -duration and -timeout)
attack() {
  local name="$1" targets="$2"
  shift 2
  "$VEGETA" attack -format=json -targets="$targets" -timeout=10s -max-body=0 -output="$RAW/$name.bin" "$@" ||
    die "vegeta attack $name failed"
  if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 40 "$OUT/server.log" >&2 || true
    die "server died during $name (log above)"
  fi
  "$VEGETA" report -type=json "$RAW/$name.bin" >"$RAW/$name.json"
  "$VEGETA" report -type=text "$RAW/$name.bin" >"$RAW/$name.txt"
}

# phase SCENARIO PHASE TARGETS VEGETA-ARGS...: a measured load phase; appends a row to $PHASES
phase() {
  local scenario="$1" ph="$2" targets="$3"
  shift 3
  local s0 p0 q0 s1 p1 q1
  s0="$(server_ticks)" p0="$(pg_ticks)" q0="$(sqlstats)"
  attack "$scenario-$ph" "$targets" "$@"
  s1="$(server_ticks)" p1="$(pg_ticks)" q1="$(sqlstats)"

  # shellcheck disable=SC2034 # all set by vreport; some only kept for symmetry
  local V_REQUESTS V_RATE V_THROUGHPUT V_SUCCESS V_DURATION_S V_MEAN_MS V_P50_MS V_P90_MS V_P95_MS V_P99_MS V_MAX_MS V_CODES V_FIRST_ERROR
  eval "$("$BENCHTOOL" vreport "$RAW/$scenario-$ph.json")"

  local ms_per_tick srv_ms pg_ms sql r0 st0 r1 st1
  ms_per_tick="$(awk -v t="$CLK_TCK" 'BEGIN { printf "%.6f", 1000 / t }')"
  srv_ms="$(per_req "$((s1 - s0))" "$V_REQUESTS" "$ms_per_tick")"
  pg_ms="$(per_req "$((p1 - p0))" "$V_REQUESTS" "$ms_per_tick")"
  read -r r0 st0 <<<"$q0"
  read -r r1 st1 <<<"$q1"
  sql=n/a
  if [[ "$r0" != - && "$r1" != - ]]; then
    sql="$(per_req "$((st1 - st0))" "$((r1 - r0))" 1)"
    if ((r1 - r0 != V_REQUESTS)); then
      log "note: server counted $((r1 - r0)) requests, vegeta sent $V_REQUESTS ($scenario $ph)"
    fi
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$scenario" "$ph" "$V_REQUESTS" "$V_RATE" "$V_THROUGHPUT" "$V_SUCCESS" \
    "$V_P50_MS" "$V_P95_MS" "$V_P99_MS" "$srv_ms" "$pg_ms" "$sql" "$V_CODES" >>"$PHASES"
  log "$scenario $ph: $V_REQUESTS req, $V_THROUGHPUT ok/s, success $V_SUCCESS, p50/p95/p99 $V_P50_MS/$V_P95_MS/$V_P99_MS ms, server $srv_ms CPU-ms/req, PG $pg_ms CPU-ms/req, SQL $sql/req, codes $V_CODES"
  if [[ -n "$V_FIRST_ERROR" ]]; then log "  first error: $V_FIRST_ERROR"; fi
  PHASE_THROUGHPUT="$V_THROUGHPUT"
}

# scenario NAME QUERY-FILE BENCHTOOL-REQUEST-ARGS...
scenario() {
  local name="$1" query="$2"
  shift 2
  local targets="$RAW/$name.targets.json"
  # Each vegeta attack reads the targets from the top. Targets with unique
  # values (-uniq: idempotency keys) are regenerated before every attack,
  # or later phases would only measure replays of stored results.
  local args=("$@") fresh=0
  [[ " $* " == *" -uniq "* ]] && fresh=1
  regen() { "$BENCHTOOL" targets -url "$BASE/graphql" -shop "$SHOP" -query "$query" -out "$targets" "${args[@]}"; }
  regen
  "$BENCHTOOL" check -url "$BASE/graphql" -shop "$SHOP" -query "$query" "$@" ||
    die "scenario $name: the server does not answer the query correctly (see above); not benchmarking errors"

  log "$name: warm-up $WARMUP"
  attack "$name-warmup" "$targets" -rate=0 -workers="$C" -max-workers="$C" -duration="$WARMUP"

  ((fresh)) && regen
  log "$name: capacity, closed loop, $C workers, $CAP_DUR"
  phase "$name" capacity "$targets" -rate=0 -workers="$C" -max-workers="$C" -duration="$CAP_DUR"
  local cap="$PHASE_THROUGHPUT"
  CAPACITY[$name]="$cap"
  # RATE_BASE_FROM=<scenario>: use that scenario's capacity for the fixed
  # rates, so two runs are compared at the same offered load.
  if [[ -n "${RATE_BASE_FROM:-}" && -n "${CAPACITY[$RATE_BASE_FROM]:-}" ]]; then
    cap="${CAPACITY[$RATE_BASE_FROM]}"
    log "$name: fixed rates taken from $RATE_BASE_FROM's capacity ($cap req/s)"
  fi
  # RATE_CAP=<req/s>: fixed rates are 50 % and 80 % of this instead. For
  # scenarios so cheap that vegeta, on the same 2 cores, saturates long
  # before the server: latency must not be quoted from a saturated client.
  if [[ -n "${RATE_CAP:-}" ]]; then
    cap="$RATE_CAP"
    log "$name: fixed rates from RATE_CAP=$cap req/s (the load generator, not the server, limits capacity here)"
  fi

  local pct rate
  for pct in 50 80; do
    rate="$(awk -v c="$cap" -v p="$pct" 'BEGIN { r = int(c * p / 100); print (r < 1 ? 1 : r) }')"
    log "$name: fixed rate $rate req/s ($pct% of $cap) for $LAT_DUR"
    ((fresh)) && regen
    phase "$name" "rate$pct" "$targets" -rate="$rate/1s" -workers="$C" -max-workers="$MAX_WORKERS" -duration="$LAT_DUR"
  done
  HWM_MB[$name]="$(awk -v k="$(status_kb VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
}

# -------------------------------------------------------- peer baseline

PEER_VERSION=4.14.1
PEER_DIR="$ROOT/.data/postgraphile"
PEER_PORT="${BENCH_PEER_PORT:-18090}"
PEER_BASE="http://127.0.0.1:$PEER_PORT"

install_peer() {
  need node npm
  if grep -qs "\"version\": \"$PEER_VERSION\"" "$PEER_DIR/node_modules/postgraphile/package.json"; then
    log "postgraphile $PEER_VERSION already installed ($PEER_DIR)"
    return
  fi
  log "installing postgraphile@$PEER_VERSION from npm into ${PEER_DIR#"$ROOT"/} (node $(node --version))"
  mkdir -p "$PEER_DIR"
  [[ -f "$PEER_DIR/package.json" ]] || printf '{"name":"cartograph-bench-peer","private":true}\n' >"$PEER_DIR/package.json"
  (cd "$PEER_DIR" && npm install --no-audit --no-fund --loglevel=error "postgraphile@$PEER_VERSION") >&2 ||
    die "npm install postgraphile@$PEER_VERSION failed"
}

start_peer() {
  local rc=0
  curl -s -o /dev/null --max-time 2 "$PEER_BASE/" || rc=$?
  ((rc == 7)) || die "something already listens on 127.0.0.1:$PEER_PORT (curl exit $rc); set BENCH_PEER_PORT"
  log "starting postgraphile $PEER_VERSION on 127.0.0.1:$PEER_PORT (log: $OUT/postgraphile.log)"
  # As the database owner: PostGraphile sees every shop (no RLS) and
  # filters by the shop id condition; no query log, no GraphiQL.
  NODE_ENV=production node "$PEER_DIR/node_modules/postgraphile/cli.js" -c "$BENCH_URL" -s public \
    --host 127.0.0.1 --port "$PEER_PORT" --disable-query-log --disable-graphiql >"$OUT/postgraphile.log" 2>&1 &
  PEER_PID=$!
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fs -o /dev/null --max-time 2 -H 'Content-Type: application/json' -d '{"query":"{__typename}"}' "$PEER_BASE/graphql"; do
    if ! kill -0 "$PEER_PID" 2>/dev/null; then
      tail -n 40 "$OUT/postgraphile.log" >&2 || true
      die "postgraphile exited before answering (log above)"
    fi
    ((SECONDS < deadline)) || die "postgraphile did not answer within ${READY_TIMEOUT}s"
    sleep 0.3
  done
  log "postgraphile ready (pid $PEER_PID)"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# market_pairs: the listing in a non-default market against the same
# listing in the default market, in alternating capacity pairs on one
# server (same process, same data). The bench shop gets markets (idempotent
# SQL; the rate and price list are the product's, not the bench's): primary
# "us" (USD, US) and "europe" (EUR at 0.92, END_99 rounding, DE), with a
# fixed price for one variant of the page so the price-list lookup runs.
market_pairs() {
  psql "$BENCH_URL" -X -v ON_ERROR_STOP=1 -Atq -v shop="$SHOP" <<'SQL' >/dev/null
WITH s AS (SELECT id FROM shops WHERE handle = :'shop'),
  r AS (INSERT INTO exchange_rates (shop_id, currency_code, rate_e10, set_by)
        SELECT id, 'EUR', 9200000000, 'bench' FROM s WHERE NOT EXISTS (SELECT 1 FROM exchange_rates x, s WHERE x.shop_id = s.id) RETURNING 1),
  us AS (INSERT INTO markets (shop_id, handle, name, currency_code, is_primary) SELECT id, 'us', 'United States', 'USD', true FROM s
         ON CONFLICT DO NOTHING RETURNING shop_id, id),
  eu AS (INSERT INTO markets (shop_id, handle, name, currency_code, rounding) SELECT id, 'europe', 'Europe', 'EUR', 'END_99' FROM s
         ON CONFLICT DO NOTHING RETURNING shop_id, id),
  c AS (INSERT INTO market_countries (shop_id, market_id, country, position)
        SELECT shop_id, id, 'US', 1 FROM us UNION ALL SELECT shop_id, id, 'DE', 1 FROM eu RETURNING 1)
INSERT INTO market_prices (shop_id, market_id, variant_id, amount)
SELECT eu.shop_id, eu.id, v.id, 1234 FROM eu, LATERAL (SELECT v.id FROM variants v JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id
  WHERE v.shop_id = eu.shop_id AND p.status = 'active' ORDER BY p.created_at, p.id LIMIT 1) v;
SQL
  local de="$RAW/market-de.targets.json" us="$RAW/market-us.targets.json" c
  # The listing's own document with @inContext(country:) on the operation.
  for c in DE US; do
    sed "s/^query Listing(\(.*\)) {/query Listing(\1) @inContext(country: $c) {/" "$ROOT/.ci/bench/listing.graphql" >"$RAW/listing-$c.graphql"
    grep -q "@inContext(country: $c)" "$RAW/listing-$c.graphql" || die "could not add @inContext to the listing document"
  done
  "$BENCHTOOL" targets -url "$BASE/graphql" -shop "$SHOP" -query "$RAW/listing-DE.graphql" -vars '{"first":24}' -out "$de"
  "$BENCHTOOL" targets -url "$BASE/graphql" -shop "$SHOP" -query "$RAW/listing-US.graphql" -vars '{"first":24}' -out "$us"
  "$BENCHTOOL" check -url "$BASE/graphql" -shop "$SHOP" -query "$RAW/listing-DE.graphql" -vars '{"first":24}' ||
    die "the listing in DE fails (see above)"
  # The server caches a shop's markets for a few seconds: restart so the
  # rows just written are read.
  stop_server
  start_server
  local eur
  eur="$(curl -fsS "$BASE/graphql" -H 'Content-Type: application/json' -H "X-Shop-Handle: $SHOP" \
    --data '{"query":"query @inContext(country: DE) { products(first: 1) { nodes { priceRange { minVariantPrice { currencyCode } } } } }"}')"
  [[ "$eur" == *'"EUR"'* ]] || die "the listing in DE is not priced in EUR: $eur"
  for round in 1 2 3; do
    for m in us de; do
      local tg="$us"
      [[ "$m" == de ]] && tg="$de"
      attack "market-$m-warm$round" "$tg" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
      phase "market-$m" "cap$round" "$tg" -rate=0 -workers="$C" -max-workers="$C" -duration=10s
    done
  done
}

# peer_baseline: the same 24-product listing on Cartograph and on
# PostGraphile, in alternating capacity rounds (both servers up, only one
# loaded at a time) so drift and noise hit both alike.
PEER_HWM_CARTO=n/a PEER_HWM_PEER=n/a
peer_baseline() {
  install_peer
  start_peer
  local shop rounds="${BENCH_PEER_ROUNDS:-3}" dur="${BENCH_PEER_DURATION:-10s}" round
  is_uint "$rounds" && ((rounds > 0)) || die "BENCH_PEER_ROUNDS must be a positive integer"
  shop="$(shop_uuid)"
  local ct="$RAW/peer-cartograph.targets.json" pt="$RAW/peer-postgraphile.targets.json"
  "$BENCHTOOL" targets -url "$BASE/graphql" -shop "$SHOP" -query "$ROOT/.ci/bench/listing.graphql" -vars '{"first":24}' -out "$ct"
  "$BENCHTOOL" targets -url "$PEER_BASE/graphql" -shop "$SHOP" -query "$ROOT/.ci/bench/listing.postgraphile.graphql" \
    -vars "{\"first\":24,\"shop\":\"$shop\"}" -out "$pt"
  "$BENCHTOOL" check -url "$PEER_BASE/graphql" -shop "$SHOP" -query "$ROOT/.ci/bench/listing.postgraphile.graphql" \
    -vars "{\"first\":24,\"shop\":\"$shop\"}" || die "postgraphile does not answer the listing (see above)"
  attack "peer-postgraphile-warm" "$pt" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
  attack "peer-cartograph-warm" "$ct" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
  for ((round = 1; round <= rounds; round++)); do
    log "peer baseline round $round/$rounds: $dur capacity each"
    phase peer-cartograph "cap$round" "$ct" -rate=0 -workers="$C" -max-workers="$C" -duration="$dur"
    PHASE_PID="$PEER_PID" phase peer-postgraphile "cap$round" "$pt" -rate=0 -workers="$C" -max-workers="$C" -duration="$dur"
  done
  PEER_HWM_CARTO="$(awk -v k="$(status_kb VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
  PEER_HWM_PEER="$(awk -v k="$(status_kb VmHWM "$PEER_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
  kill -TERM "$PEER_PID" 2>/dev/null || true
  wait "$PEER_PID" 2>/dev/null || true
  PEER_PID=""
}

# ----------------------------------------------------------------- pgbench

PGB_TPS=n/a PGB_LAT=n/a
run_pgbench() {
  local uuid script="$ROOT/.ci/bench/listing.pgbench" j=2
  [[ -f "$script" ]] || die "$script missing"
  uuid="$(shop_uuid)"
  local ids
  ids="$(psql -X -qAt "$BENCH_URL" -c "SELECT array_agg(id ORDER BY created_at, id)::text FROM (SELECT id, created_at FROM products WHERE shop_id = '$uuid' AND status = 'active' ORDER BY created_at, id LIMIT 24) s")"
  ((C < j)) && j="$C"
  log "pgbench floor: -M $PGB_MODE -c $C -j $j -T $PGB_SECONDS -f .ci/bench/listing.pgbench -D shop=$uuid -D ids=<24 product ids>"
  if grep -q '^-- FILL:' "$script"; then
    log "NOTE: listing.pgbench still holds placeholder statements (-- FILL)"
  fi
  pgbench -n -M "$PGB_MODE" -c "$C" -j "$j" -T "$PGB_SECONDS" -f "$script" -D "shop=$uuid" -D "ids=$ids" "$BENCH_URL" \
    >"$OUT/pgbench.txt" 2>"$OUT/pgbench.err" || {
    cat "$OUT/pgbench.err" "$OUT/pgbench.txt" >&2
    die "pgbench failed"
  }
  PGB_TPS="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench.txt" | tail -n 1)"
  PGB_LAT="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$OUT/pgbench.txt" | tail -n 1)"
  [[ -n "$PGB_TPS" ]] || { cat "$OUT/pgbench.txt" >&2; die "could not read tps from pgbench output"; }
  PGB_TPS="$(awk -v t="$PGB_TPS" 'BEGIN { printf "%.1f", t }')" PGB_LAT="${PGB_LAT:-n/a}"
  local failed
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/pgbench.txt")"
  if [[ -n "$failed" && "$failed" != 0 ]]; then log "WARNING: pgbench had $failed failed transactions"; fi
  log "pgbench: $PGB_TPS tps, average latency $PGB_LAT ms"
}

# ----------------------------------------------------------------- summary

declare -A CAPACITY=() HWM_MB=()

write_summary() {
  local rev ratio
  rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)"
  ratio="$(awk -v a="${CAPACITY[listing]:-}" -v b="$PGB_TPS" 'BEGIN { if (a == "" || b !~ /^[0-9.]+$/ || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }')"
  {
    printf '## Cartograph bench\n\n'
    printf '%s, commit %s, %s products / %s shops, shop %s, C=%s, %s cores, 127.0.0.1 (vegeta on the same machine)\n\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$rev" "$BENCH_PRODUCTS" "$BENCH_SHOPS" "$SHOP" "$C" "$(nproc)"
    printf '| scenario | capacity req/s | p50/p95/p99 ms @50%% | p50/p95/p99 ms @80%% | success @50%%/@80%% | server CPU-ms/req | PG CPU-ms/req | SQL stmts/req | server RSS peak MiB |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    awk -F'\t' -v hwm_listing="${HWM_MB[listing]:-n/a}" -v hwm_product="${HWM_MB[product]:-n/a}" -v hwm_checkout="${HWM_MB[checkout]:-n/a}" '
      $1 ~ /^(rls|cost|peer)-/ || $1 == "under-attack" { next }
      { key = $1 SUBSEP $2; for (i = 1; i <= NF; i++) v[key, i] = $i; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
      END {
        for (k = 1; k <= n; k++) {
          s = order[k]; c = s SUBSEP "capacity"; r5 = s SUBSEP "rate50"; r8 = s SUBSEP "rate80"
          hwm = (s == "listing") ? hwm_listing : (s == "product") ? hwm_product : (s == "checkout") ? hwm_checkout : "n/a"
          printf "| %s | %s | %s / %s / %s | %s / %s / %s | %s / %s | %s | %s | %s | %s |\n", s, v[c, 5],
            v[r5, 7], v[r5, 8], v[r5, 9], v[r8, 7], v[r8, 8], v[r8, 9], v[r5, 6], v[r8, 6],
            v[c, 10], v[c, 11], v[c, 12], hwm
        }
      }' "$PHASES"
    printf '\nCPU-ms and SQL statements per request are from the capacity phase; RSS peak is VmHWM after the scenario (cumulative).\n\n'
    printf '| baseline | pgbench tps | avg latency ms | listing req/s ÷ pgbench tps |\n|---|---:|---:|---:|\n'
    printf '| listing.pgbench (-M %s -c %s, %ss)%s | %s | %s | %s |\n\n' "$PGB_MODE" "$C" "$PGB_SECONDS" \
      "$(grep -q '^-- FILL:' "$ROOT/.ci/bench/listing.pgbench" && echo ' PLACEHOLDER SQL')" "$PGB_TPS" "$PGB_LAT" "$ratio"
    awk -F'\t' -v hc="$PEER_HWM_CARTO" -v hp="$PEER_HWM_PEER" -v rounds="${BENCH_PEER_ROUNDS:-3}" -v dur="${BENCH_PEER_DURATION:-10s}" '
      $1 ~ /^peer-/ && $10 ~ /^[0-9.]+$/ { cap[$1] += $5; srv[$1] += $10; pg[$1] += $11; p95[$1] += $8; n[$1]++ }
      END {
        a = "peer-cartograph"; b = "peer-postgraphile"
        if (n[a] && n[b]) {
          printf "Peer baseline: the 24-product listing, %d interleaved capacity rounds of %s each (closed loop), same database and tables.\n\n", rounds, dur
          printf "| server | capacity req/s | p95 ms @capacity | server CPU-ms/req | PG CPU-ms/req | RSS peak MiB |\n|---|---:|---:|---:|---:|---:|\n"
          printf "| Cartograph (RLS, app role) | %.0f | %.2f | %.3f | %.3f | %s |\n", cap[a] / n[a], p95[a] / n[a], srv[a] / n[a], pg[a] / n[a], hc
          printf "| PostGraphile 4.14.1 (owner, no RLS) | %.0f | %.2f | %.3f | %.3f | %s |\n\n", cap[b] / n[b], p95[b] / n[b], srv[b] / n[b], pg[b] / n[b], hp
          printf "Cartograph/PostGraphile: capacity %.2fx (target >= 2x), server CPU per request %.2fx (target <= 0.5x).\n\n", (cap[a] / n[a]) / (cap[b] / n[b]), (srv[a] / n[a]) / (srv[b] / n[b])
        }
      }' "$PHASES"
    awk -F'\t' '
      $1 ~ /^rls-/ && $2 ~ /^cap/ { cap[$1] += $5; cpu[$1] += $10 + $11; nc[$1]++ }
      $1 ~ /^rls-/ && $2 ~ /^fixed/ { p95[$1] += $8; nf[$1]++ }
      END {
        if (nc["rls-on"] && nc["rls-off"] && nf["rls-on"] && nf["rls-off"]) {
          a = p95["rls-on"] / nf["rls-on"]; b = p95["rls-off"] / nf["rls-off"]
          c = cpu["rls-on"] / nc["rls-on"]; d = cpu["rls-off"] / nc["rls-off"]
          e = cap["rls-on"] / nc["rls-on"]; f = cap["rls-off"] / nc["rls-off"]
          printf "RLS overhead (listing, 3 alternating pairs): p95 at 400 req/s %.2f ms with RLS vs %.2f ms without (%+.1f%%); server+PG CPU-ms/req %.3f vs %.3f (%+.1f%%); capacity %.0f vs %.0f req/s (%+.1f%%).\n\n", a, b, (a / b - 1) * 100, c, d, (c / d - 1) * 100, e, f, (e / f - 1) * 100
        }
      }' "$PHASES"
    awk -F'\t' '
      $1 ~ /^cost-/ && $2 ~ /^cap/ { cap[$1] += $5; srv[$1] += $10; nc[$1]++ }
      $1 ~ /^cost-/ && $2 ~ /^fixed/ { p95[$1] += $8; nf[$1]++ }
      $1 == "under-attack" { ap95[$2] = $8; ap99[$2] = $9; aok[$2] = $6 }
      END {
        if (nc["cost-on"] && nc["cost-off"] && nf["cost-on"] && nf["cost-off"]) {
          a = p95["cost-on"] / nf["cost-on"]; b = p95["cost-off"] / nf["cost-off"]
          c = srv["cost-on"] / nc["cost-on"]; d = srv["cost-off"] / nc["cost-off"]
          e = cap["cost-on"] / nc["cost-on"]; f = cap["cost-off"] / nc["cost-off"]
          printf "Query-cost overhead (listing, document limits + cost analysis + Redis bucket, 2 alternating pairs): p95 at a fixed half-capacity rate %.2f ms with vs %.2f ms without (%+.2f ms); server CPU-ms/req %.3f vs %.3f (%+.1f%%); capacity %.0f vs %.0f req/s (%+.1f%%).\n\n", a, b, a - b, c, d, (c / d - 1) * 100, e, f, (e / f - 1) * 100
        }
        if ("baseline" in ap95 && "attacked" in ap95)
          printf "Listing at a fixed half-capacity rate while hostile documents are replayed: p95 %s ms / p99 %s ms (success %s) vs %s / %s ms (success %s) without the attack.\n\n", ap95["attacked"], ap99["attacked"], aok["attacked"], ap95["baseline"], ap99["baseline"], aok["baseline"]
      }' "$PHASES"
    awk -F'\t' '
      $1 ~ /^market-/ && $2 ~ /^cap/ { cap[$1] += $5; srv[$1] += $10; n[$1]++ }
      END {
        if (n["market-us"] && n["market-de"]) {
          a = srv["market-de"] / n["market-de"]; b = srv["market-us"] / n["market-us"]
          printf "Markets (listing, 3 alternating capacity pairs): in a non-default market (DE: EUR at 0.92, .99 rounding, a fixed price) %.3f server CPU-ms/req vs %.3f in the default market (US) (%+.1f%%, target within 10 %%); capacity %.0f vs %.0f req/s.\n\n", a, b, (a / b - 1) * 100, cap["market-de"] / n["market-de"], cap["market-us"] / n["market-us"]
        }
      }' "$PHASES"
    printf '<details><summary>all phases</summary>\n\n'
    printf '| scenario | phase | requests | rate req/s | ok req/s | success | p50 ms | p95 ms | p99 ms | server CPU-ms/req | PG CPU-ms/req | SQL/req | status codes |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
    awk -F'\t' '{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$PHASES"
    printf '\n</details>\n'
  } >"$SUMMARY"
  cat "$SUMMARY"
  log "summary written to ${SUMMARY#"$ROOT"/}; raw vegeta results in ${RAW#"$ROOT"/}"
}

# -------------------------------------------------------------------- main

mkdir -p "$OUT" "$RAW"
build_tools
[[ "$MODE" == tools ]] && exit 0

need psql pgbench pg_isready curl getconf awk
services

if [[ "$MODE" == pgbench ]]; then
  db_exists || die "database $BENCH_DB does not exist (run .ci/bench.sh first)"
  run_pgbench
  printf 'pgbench %s: %s tps, average latency %s ms\n' "$BENCH_DB" "$PGB_TPS" "$PGB_LAT"
  exit 0
fi

[[ -x "$BIN" ]] || die "$BIN not found or not executable (build it first: make build)"

if [[ "$MODE" == live || "$MODE" == wsidle ]]; then
  LIVE_SUBS="${BENCH_LIVE_SUBS:-1000}" LIVE_RATE="${BENCH_LIVE_RATE:-50}" LIVE_SECONDS="${BENCH_LIVE_SECONDS:-20}"
  is_uint "$LIVE_SUBS" && is_uint "$LIVE_RATE" && is_uint "$LIVE_SECONDS" || die "BENCH_LIVE_* must be integers"
  LIVE_DB="${BENCH_DB}_live"
  psql_admin -c "DROP DATABASE IF EXISTS $LIVE_DB WITH (FORCE)"
  psql_admin -c "CREATE DATABASE $LIVE_DB"
  BENCH_URL="${BENCH_URL/\/$BENCH_DB/\/$LIVE_DB}"
  DATABASE_URL="$BENCH_URL" "$BIN" migrate up >&2 || die "'$BIN migrate up' failed"
  DATABASE_URL="$BENCH_URL" "$BIN" seed >&2 || die "'$BIN seed' failed"
  # One signing key for both instances (a staff token from one is valid on
  # the other, as behind a load balancer).
  JWT_KEYS="bench:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export JWT_KEYS
  if [[ "$MODE" == wsidle ]]; then
    WS_CONNS=$((LIVE_SUBS + 10)) STAFF_RATE=50000000 start_server
    log "wsidle: $LIVE_SUBS idle subscribers on one instance"
    result="$(BASE="$BASE" SHOP=apparel EMAIL=owner@apparel.example PASSWORD=cartograph-demo SUBS="$LIVE_SUBS" SERVER_PID="$SERVER_PID" \
      "$BENCHTOOL" wsidle)" || die "wsidle driver failed"
    printf '%s\n' "$result" | tee "$OUT/wsidle.json"
    exit 0
  fi
  # Two gateway instances over the same PostgreSQL and Redis: subscribers
  # alternate between them, and so do the stock changes, so every event
  # crosses instances through the outbox relay and the Redis stream.
  WS_CONNS=$((LIVE_SUBS + 10)) STAFF_RATE=50000000 start_server
  PID1=$SERVER_PID BASE1=$BASE ADDR1=$ADDR
  ADDR=127.0.0.1:18082 BASE=http://127.0.0.1:18082
  WS_CONNS=$((LIVE_SUBS + 10)) STAFF_RATE=50000000 SERVER_LOG=server2.log start_server
  SERVER2_PID=$SERVER_PID SERVER_PID=$PID1
  BASE2=$BASE ADDR=$ADDR1 BASE=$BASE1
  log "live: $LIVE_SUBS subscribers over two instances, $LIVE_RATE changes/s for ${LIVE_SECONDS}s"
  result="$(BASES="$BASE1,$BASE2" SHOP=apparel EMAIL=owner@apparel.example PASSWORD=cartograph-demo SUBS="$LIVE_SUBS" RATE="$LIVE_RATE" \
    SECONDS="$LIVE_SECONDS" SERVER_PIDS="$PID1,$SERVER2_PID" "$BENCHTOOL" live)" ||
    die "live driver failed"
  printf '%s\n' "$result" >"$OUT/live.json"
  node -e '
    const r = JSON.parse(process.argv[1]);
    console.log("## Live inventory fan-out (two instances)\n");
    console.log("| subscribers (per instance) | changes (/s) | delivered / expected | missed | p50 ms | p95 ms | p99 ms | max ms | RSS KB per idle subscription | 1 s polling: changes seen, staleness p50/p95 ms |");
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    const b = r.pollingBaseline;
    console.log(`| ${r.subscribers} (${r.perInstance.join(" + ")}) | ${r.changes} (${r.changesPerSec}) | ${r.delivered} / ${r.expected} | ${r.missed} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.rssIdleKBPerSub} | ${b.observed} of ${b.of}, ${b.p50}/${b.p95} |`);
    console.log(`\nLatency: ledger timestamp (committing transaction) to receipt by the subscriber; same-instance ${r.sameInstance.p50}/${r.sameInstance.p99} ms, cross-instance ${r.crossInstance.p50}/${r.crossInstance.p99} ms (p50/p99). Connect: ${r.connectSeconds} s. RSS per instance before/after connecting (KB): ${r.rss.join(", ")}.`);
    if (r.retainedAfterGC) console.log(`Held by the open subscriptions after a forced GC: ${r.retainedAfterGC.heapKBPerSub} KB heap + ${r.retainedAfterGC.stackKBPerSub} KB goroutine stacks per subscription, ${r.retainedAfterGC.goroutinesPerConn} goroutines per connection (the RSS figure also holds the garbage of setting them up, not yet collected).`);
  ' "$result" | tee "$OUT/live.md"
  exit 0
fi

prepare_db

handles=$((BENCH_PRODUCTS / BENCH_SHOPS))
((handles > 500)) && handles=500
((handles >= 1)) || die "BENCH_PRODUCTS/BENCH_SHOPS must be at least 1"

start_server
: >"$PHASES"
if [[ "$MODE" == market ]]; then
  market_pairs
  PGB_TPS=n/a PGB_LAT=n/a
  write_summary
  exit 0
fi
if [[ "$MODE" == peer ]]; then
  peer_baseline
  PGB_TPS=n/a PGB_LAT=n/a
  write_summary
  exit 0
fi
if [[ "${BENCH_SKIP_READ:-}" != 1 ]]; then # BENCH_SKIP_READ=1: only the write path
scenario listing "$ROOT/.ci/bench/listing.graphql" -vars '{"first":24}'
[[ "$MODE" == cost ]] || scenario product "$ROOT/.ci/bench/product.graphql" -rotate h -prefix product- -n "$handles"
[[ "$MODE" == cost || "${BENCH_NO_PEER:-}" == 1 ]] || peer_baseline
fi
if [[ "${BENCH_READ_ONLY:-}" == 1 ]]; then # BENCH_READ_ONLY=1: listing and product only (e.g. BENCH_BIN=an older build)
  PGB_TPS=n/a PGB_LAT=n/a
  write_summary
  exit 0
fi

# RLS overhead: the same listing with row-level security (app role, shop
# setting pipelined per statement) and without (owner, no settings), in
# three alternating pairs so drift and noise hit both sides alike: capacity
# 10 s (CPU-ms/req) and a fixed 400 req/s for 10 s (p95) each.
if [[ "${BENCH_SKIP_READ:-}" != 1 ]]; then
rls_targets="$RAW/rls.targets.json"
"$BENCHTOOL" targets -url "$BASE/graphql" -shop "$SHOP" -query "$ROOT/.ci/bench/listing.graphql" -vars '{"first":24}' -out "$rls_targets"
for round in 1 2 3; do
  [[ "$MODE" == cost ]] && break
  for mode in on off; do
    stop_server
    if [[ "$mode" == off ]]; then start_server 1; else start_server; fi
    attack "rls-$mode-warm$round" "$rls_targets" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
    phase "rls-$mode" "cap$round" "$rls_targets" -rate=0 -workers="$C" -max-workers="$C" -duration=10s
    phase "rls-$mode" "fixed$round" "$rls_targets" -rate=400/1s -workers="$C" -max-workers="$MAX_WORKERS" -duration=10s
  done
done

# Query-cost overhead: the same listing with document limits and cost
# analysis (and the Redis bucket round trip) and without them
# (CARTOGRAPH_BENCH_NO_COST=1), in alternating pairs like the RLS figure.
# Latency at half the listing's capacity (below saturation, GUIDE §5).
FIXED="${BENCH_FIXED_RATE:-$(awk -v c="${CAPACITY[listing]:-400}" 'BEGIN { r = int(c / 2); print (r < 1 ? 1 : r) }')}"
for round in 1 2; do
  for mode in on off; do
    stop_server
    if [[ "$mode" == off ]]; then NOCOST=1 start_server; else start_server; fi
    attack "cost-$mode-warm$round" "$rls_targets" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
    phase "cost-$mode" "cap$round" "$rls_targets" -rate=0 -workers="$C" -max-workers="$C" -duration=10s
    phase "cost-$mode" "fixed$round" "$rls_targets" -rate="$FIXED/1s" -workers="$C" -max-workers="$MAX_WORKERS" -duration=10s
  done
done

# Hostile documents replayed at a steady rate while the listing is measured
# at a fixed rate: the listing's latency with and without the attack.
stop_server
start_server
hostile_targets="$RAW/hostile.targets.json"
python3 - "$BASE/graphql" "$SHOP" >"$hostile_targets" <<'PY'
import base64, json, sys
url, shop = sys.argv[1], sys.argv[2]
def body(q): return base64.b64encode(json.dumps({"query": q}).encode()).decode()
rep = lambda s, n: s * n
docs = [
  "{ products(first: 250) { nodes { " + rep("variants(first: 250) { nodes { product { ", 3) + "id" + rep(" } } }", 3) + " } } }",
  "{ " + " ".join("a%d: products(first: 250) { nodes { id } }" % i for i in range(10000)) + " }",
  "{ " + rep("__typename ", 50000) + "}",
  "{ " + " ".join("s%d: __schema { types { fields { name } } }" % i for i in range(2000)) + " }",
  "{ products(first: 1) { nodes { ...F0 } } }\n" + "".join("fragment F%d on Product { ...F%d ...F%d ...F%d }\n" % (i, i+1, i+1, i+1) for i in range(30)) + "fragment F30 on Product { id }",
  "{ products(first: 1) { nodes { " + rep("variants(first: 1) { nodes { product { ", 160) + "id" + rep(" } } }", 160) + " } } }",
]
for d in docs:
  print(json.dumps({"method": "POST", "url": url, "body": body(d), "header": {"Content-Type": ["application/json"], "X-Shop-Handle": [shop]}}))
PY
attack "attack-warm" "$rls_targets" -rate=0 -workers="$C" -max-workers="$C" -duration=3s
phase "under-attack" "baseline" "$rls_targets" -rate="$FIXED/1s" -workers="$C" -max-workers="$MAX_WORKERS" -duration=10s
"$VEGETA" attack -format=json -targets="$hostile_targets" -rate="${BENCH_ATTACK_RATE:-100}/1s" -duration=12s -timeout=10s -max-body=0 \
  -output="$RAW/hostile.bin" &
ATTACK_PID=$!
sleep 1
phase "under-attack" "attacked" "$rls_targets" -rate="$FIXED/1s" -workers="$C" -max-workers="$MAX_WORKERS" -duration=10s
wait "$ATTACK_PID" || true
"$VEGETA" report -type=text "$RAW/hostile.bin" >"$RAW/hostile.txt"
log "hostile documents: $(grep -E '^(Requests|Latencies|Status Codes)' "$RAW/hostile.txt" | tr -s ' ' | tr '\n' ';')"
if [[ "$MODE" == cost ]]; then
  PGB_TPS=n/a PGB_LAT=n/a
  write_summary
  exit 0
fi

# A non-default market's listing against the default market's.
stop_server
start_server
market_pairs

# The same reads with the public response cache on (PUBLIC_CACHE_TTL, the
# production default): repeated catalog queries are answered from memory
# until a stock movement invalidates the shop.
stop_server
CACHE_TTL=5s start_server
RATE_CAP=2000 scenario listing-cached "$ROOT/.ci/bench/listing.graphql" -vars '{"first":24}'
RATE_CAP=2000 scenario product-cached "$ROOT/.ci/bench/product.graphql" -rotate h -prefix product- -n "$handles"
fi

# ------------------------------------------------------------- write path
# Carts and checkout with stripe-mock (pinned) as the payment provider.
stop_server
STRIPE_MOCK_BIN="$TOOLS/stripe-mock"
if [[ ! -x "$STRIPE_MOCK_BIN" ]]; then
  log "installing stripe-mock v0.203.0"
  GOBIN="$TOOLS" go install github.com/stripe/stripe-mock@v0.203.0 >&2 || die "stripe-mock install failed"
fi
"$STRIPE_MOCK_BIN" -http-addr 127.0.0.1:18111 >"$OUT/stripe-mock.log" 2>&1 &
STRIPE_PID=$!
trap 'kill "$STRIPE_PID" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18111/ && break; sleep 0.1; done
STRIPE_KEY=sk_test_bench STRIPE_BASE=http://127.0.0.1:18111 start_server

SHOP_ID="$(shop_uuid)"
# Plenty of stock: the figure is checkout cost, not sold-out answers.
psql -X -q "$BENCH_URL" -c "UPDATE inventory_levels SET on_hand = 100000000, reserved = 0 WHERE shop_id = '$SHOP_ID'" >&2
PK="$(DATABASE_URL="$BENCH_URL" "$BIN" keys create --shop "$SHOP" --kind public --rate-limit 1000000 --name bench | tail -n 1)" || die "keys create failed"
psql -X -qAt "$BENCH_URL" -c "SELECT 'gid://cartograph/ProductVariant/' || id FROM variants WHERE shop_id = '$SHOP_ID' ORDER BY id LIMIT 400" >"$RAW/variants.txt"
# Checkout prices a discount code, a delivery option and tax: a GB zone with
# a flat rate, 20 % VAT included (also on shipping) and an unlimited 10 %
# code (no usage limit: no hot-row lock, as for a popular promotion).
psql -X -q "$BENCH_URL" -v ON_ERROR_STOP=1 >&2 <<SQL
BEGIN;
SELECT set_config('app.shop_id', '$SHOP_ID', true);
DELETE FROM shipping_zones WHERE shop_id = '$SHOP_ID';
DELETE FROM tax_rates WHERE shop_id = '$SHOP_ID';
DELETE FROM discounts WHERE shop_id = '$SHOP_ID' AND code = 'BENCH10';
WITH z AS (INSERT INTO shipping_zones (shop_id, name, areas) VALUES ('$SHOP_ID', 'UK', '{GB}') RETURNING id)
INSERT INTO shipping_rates (shop_id, zone_id, handle, title, amount, currency_code)
  SELECT '$SHOP_ID', z.id, 'standard', 'Standard', 499, s.currency_code FROM z, shops s WHERE s.id = '$SHOP_ID';
INSERT INTO tax_rates (shop_id, country, region, title, rate, included, shipping) VALUES ('$SHOP_ID', 'GB', '', 'VAT', 200000, true, true);
INSERT INTO discounts (shop_id, code, title, kind, scope, value, currency_code)
  SELECT '$SHOP_ID', 'BENCH10', '10% off', 'PERCENTAGE', 'ORDER', 1000, currency_code FROM shops WHERE id = '$SHOP_ID';
COMMIT;
SQL
log "creating 500 carts"
: >"$RAW/carts.txt"
i=0
while read -r v; do
  i=$((i + 1))
  ((i > 500)) && break
  curl -s "$BASE/graphql" -H 'Content-Type: application/json' -H "X-Shopify-Storefront-Access-Token: $PK" \
    -d "{\"query\":\"mutation(\$v: ID!) { cartCreate(input: {lines: [{merchandiseId: \$v, quantity: 1}], discountCodes: [\\\"BENCH10\\\"], buyerIdentity: {countryCode: \\\"GB\\\"}}) { cart { id } } }\",\"variables\":{\"v\":\"$v\"}}" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p' >>"$RAW/carts.txt"
  echo >>"$RAW/carts.txt"
done <"$RAW/variants.txt"
[[ "$(grep -c Cart "$RAW/carts.txt")" -ge 100 ]] || die "could not create carts (see $OUT/server.log)"
AUTH=(-header "X-Shopify-Storefront-Access-Token:$PK")
scenario cart-read "$ROOT/.ci/bench/cart-read.graphql" "${AUTH[@]}" -list "c=$RAW/carts.txt" -n 500
scenario cart-add "$ROOT/.ci/bench/cart-add.graphql" "${AUTH[@]}" -list "c=$RAW/carts.txt" -list "v=$RAW/variants.txt" -n 4000
scenario checkout "$ROOT/.ci/bench/checkout.graphql" "${AUTH[@]}" -list "c=$RAW/carts.txt" -uniq k -n "${BENCH_CHECKOUT_TARGETS:-20000}"

# The server is no longer needed; stop it so it does not compete with pgbench.
stop_server
kill "$STRIPE_PID" 2>/dev/null || true

run_pgbench
write_summary
