#!/usr/bin/env bash
# Benchmarks the relay's webhook ingest on this machine, on each backend, in one run (the machine
# is shared and noisy: compare within a run, quote medians):
#   sqlite    one release relay on a temporary data directory (SQLite, synchronous=FULL, group
#             commit), as a team runs it
#   postgres  two release relay instances on one PostgreSQL (Debian's server from
#             scripts/postgres.sh, reached over TCP on 127.0.0.1 as a database server would be,
#             durability settings at their defaults); the load generator sends to both in turn,
#             as a round-robin load balancer does, and device n follows instance n
# For each:
#   1. maximum throughput (closed loop, 256 connections, 15 s), three runs
#   2. latency at 5,000 webhooks/s offered (open loop, 15 s), three runs
#   3. the same with two devices following the event stream and acknowledging it, as desktops do
#      (adds each device's events received and delivery lag; on postgres one device per instance,
#      so lag includes the wake-up across instances), three runs
# Each line also has the relays' CPU time per accepted webhook and, on postgres, the database's.
# Figures go to docs/benchmarks.md by hand.
#
# With --rules both, instead of the three measurements: the maximum throughput with the
# workspace's automation off, then on, alternately (three rounds each), and the ratio of the
# medians. The relay gets a Meta app whose Graph API is the load generator's stand-in
# (`zentro-relay-load --serve-meta`, which accepts sends as Meta does and counts them) and the
# channel a sealed token; the load generator saves the rules (greeting, away, a menu of three
# teams assigning round robin among three agents it invites and keeps available) on or off before
# each round. Customers are distinct, each writes three webhooks (a first message, a menu answer,
# more text), and after each round the load generator waits until the automation has sent what
# it decided (ZENTRO_BENCH_DRAIN_SECONDS at most, default 120) so the next round starts clean.
#
#   bash scripts/bench-relay.sh [--backend sqlite|postgres|both] [--rules both]   (default both)
# ZENTRO_BENCH_BIN=DIR runs the zentro-relay and zentro-relay-load binaries in DIR instead of
# building them (to compare two builds in one session, A then B then A); ZENTRO_BENCH_SECONDS
# changes the 15 s per run; ZENTRO_BENCH_MESSAGES_PER_CUSTOMER (default 3) the webhooks each
# customer of --rules writes (3: a third of the webhooks open a conversation; 10: one in ten).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BACKEND=both
RULES=""
while [ $# -gt 0 ]; do
  case "$1" in
  --backend) BACKEND="${2:?--backend sqlite|postgres|both}"; shift 2 ;;
  --rules) RULES="${2:?--rules both}"; shift 2 ;;
  *) echo "usage: scripts/bench-relay.sh [--backend sqlite|postgres|both] [--rules both]" >&2; exit 2 ;;
  esac
done
case "$RULES" in "" | both) ;; *) echo "--rules takes both (off and on, alternately)" >&2; exit 2 ;; esac
case "$BACKEND" in sqlite | postgres | both) ;; *) echo "unknown backend $BACKEND" >&2; exit 2 ;; esac
if [ -n "${ZENTRO_BENCH_BIN:-}" ]; then
  BIN="$ZENTRO_BENCH_BIN"
else
  cargo build --release --locked --quiet -p zentro-relay
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
SECONDS_PER_RUN="${ZENTRO_BENCH_SECONDS:-15}"
MESSAGES_PER_CUSTOMER="${ZENTRO_BENCH_MESSAGES_PER_CUSTOMER:-3}"
TICKS="$(getconf CLK_TCK)"
WORK="$(mktemp -d)"
RELAYS=()
PGDIR=""
STAND_IN=""
STAND_IN_PORT=18790
cleanup() {
  for pid in "${RELAYS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$STAND_IN" ]; then kill "$STAND_IN" 2>/dev/null || true; fi
  if [ -n "$PGDIR" ]; then bash scripts/postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$PGDIR"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export ZENTRO_RELAY_META_APP_SECRET="bench-secret" ZENTRO_RELAY_META_VERIFY_TOKEN="bench-verify"
export ZENTRO_RELAY_LOAD_PASSWORD="bench password 123"

# CPU seconds (user + system) of the given processes, as ticks.
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# The PostgreSQL server's processes (the postmaster and its children).
postgres_pids() {
  [ -n "$PGDIR" ] || return 0
  local master
  master="$(head -n1 "$PGDIR/data/postmaster.pid" 2>/dev/null || true)"
  [ -n "$master" ] || return 0
  echo "$master"
  pgrep -P "$master" || true
}

# Starts a relay serving on PORT (the database from the environment); waits for /healthz.
start_relay() {
  local port="$1"
  RUST_LOG=warn "$BIN/zentro-relay" serve --listen "127.0.0.1:$port" &
  RELAYS+=("$!")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "the relay on port $port did not become healthy" >&2
  return 1
}

# Runs the load generator against URLS and appends the relays' (and the database's) CPU time.
measure() {
  local before after db_before db_after result urls=()
  for url in "${URLS[@]}"; do urls+=(--url "$url"); done
  # shellcheck disable=SC2046
  before="$(cpu_ticks "${RELAYS[@]}")"; db_before="$(cpu_ticks $(postgres_pids))"
  result="$("$BIN/zentro-relay-load" "${urls[@]}" --phone-number-id LOAD-PHONE --json "$@")"
  # shellcheck disable=SC2046
  after="$(cpu_ticks "${RELAYS[@]}")"; db_after="$(cpu_ticks $(postgres_pids))"
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
ticks = int(sys.argv[6])
relay = (int(sys.argv[3]) - int(sys.argv[2])) / ticks
db = (int(sys.argv[5]) - int(sys.argv[4])) / ticks
n = max(d["accepted"], 1)
d["relay_cpu_seconds"] = round(relay, 2)
d["relay_cpu_us_per_webhook"] = round(relay * 1e6 / n, 1)
if db > 0:
    d["database_cpu_seconds"] = round(db, 2)
    d["database_cpu_us_per_webhook"] = round(db * 1e6 / n, 1)
print(json.dumps(d))' "$result" "$before" "$after" "$db_before" "$db_after" "$TICKS"
}

# The three measurements against URLS.
run_measurements() {
  echo "== maximum throughput (closed loop, 256 connections)"
  for _ in 1 2 3; do measure --rate 0 --concurrency 256 --duration "$SECONDS_PER_RUN"; done
  echo "== 5,000 webhooks/s offered (open loop)"
  for _ in 1 2 3; do measure --rate 5000 --concurrency 256 --duration "$SECONDS_PER_RUN"; done
  echo "== 5,000 webhooks/s offered, two devices following the stream and acknowledging"
  for _ in 1 2 3; do
    measure --rate 5000 --concurrency 256 --duration "$SECONDS_PER_RUN" --devices 2 --email bench@example.test
  done
}

# Max throughput with the workspace's rules off, then on, three rounds each, and the ratio. Every
# round runs on a fresh relay (fresh data directory, and on PostgreSQL a fresh database), so no
# round inherits another's log or backlog: an "on" round would otherwise start by learning the
# whole log of the rounds before it, and the "off" round after it would carry its sends.
run_rules_comparison() {
  local log="$WORK/rules-$RANDOM.jsonl" round rules
  echo "== maximum throughput (closed loop, 256 connections), rules never saved (once), then off and on alternately, each on a fresh relay"
  fresh_relays
  measure --rate 0 --concurrency 256 --duration "$SECONDS_PER_RUN" --messages-per-customer "$MESSAGES_PER_CUSTOMER" \
    --meta-stand-in "http://127.0.0.1:$STAND_IN_PORT" --drain-seconds 5 | tee -a "$log"
  for round in 1 2 3; do
    for rules in off on; do
      fresh_relays
      measure --rate 0 --concurrency 256 --duration "$SECONDS_PER_RUN" --messages-per-customer "$MESSAGES_PER_CUSTOMER" \
        --rules "$rules" --email bench@example.test --meta-stand-in "http://127.0.0.1:$STAND_IN_PORT" \
        --drain-seconds "${ZENTRO_BENCH_DRAIN_SECONDS:-120}" | tee -a "$log"
    done
  done
  python3 - "$log" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def median(rules, key):
    values = [r[key] for r in runs if r["automation"]["rules"] == rules]
    return statistics.median(values), values
off, off_all = median("off", "throughput")
on, on_all = median("on", "throughput")
cpu_off, _ = median("off", "relay_cpu_us_per_webhook")
cpu_on, _ = median("on", "relay_cpu_us_per_webhook")
drains = [r["automation"]["drained_seconds_after_load"] for r in runs if r["automation"]["rules"] == "on"]
print(f"rules off: {' · '.join(f'{v:,.0f}' for v in off_all)} webhooks/s, median {off:,.0f}, relay CPU {cpu_off} µs/webhook")
print(f"rules on:  {' · '.join(f'{v:,.0f}' for v in on_all)} webhooks/s, median {on:,.0f}, relay CPU {cpu_on} µs/webhook")
print(f"automation done after the load (s): {drains} (None: not within the drain limit)")
never = [r["throughput"] for r in runs if r["automation"]["rules"] is None]
print(f"rules never saved (the worker does not follow the log): {never[0]:,.0f} webhooks/s (one run, first)")
print(f"ratio on/off: {on / off:.1%} (goal: at least 80 %)")
PY
}

# The workspace and its channel, through the CLI (on whichever database the environment names);
# with --rules, the channel's token sealed too.
create_workspace() {
  local ws channel
  ws="$(printf '%s' "$ZENTRO_RELAY_LOAD_PASSWORD" | "$BIN/zentro-relay" workspace create --name Bench --owner-email bench@example.test 2>/dev/null)"
  channel="$("$BIN/zentro-relay" channel add --workspace "$ws" --kind whatsapp --external-id LOAD-PHONE 2>/dev/null)"
  if [ -n "$RULES" ]; then
    printf 'EAABbenchstandintoken%s\n' "$RANDOM$RANDOM" | "$BIN/zentro-relay" channel set-token --channel "$channel" >/dev/null 2>&1
  fi
}

# With --rules: a token key, a Meta app whose Graph API is the stand-in, sign-ins enough for
# every round, and the stand-in running.
prepare_rules() {
  [ -n "$RULES" ] || return 0
  ZENTRO_RELAY_TOKEN_KEY="$("$BIN/zentro-relay" key generate 2>/dev/null)"
  export ZENTRO_RELAY_TOKEN_KEY ZENTRO_RELAY_META_APP_ID=1517776481860111 ZENTRO_RELAY_META_SIGNUP_CONFIG_ID=1
  export ZENTRO_RELAY_META_GRAPH_URL="http://127.0.0.1:$STAND_IN_PORT"
  export ZENTRO_RELAY_SIGN_IN_PER_ACCOUNT=1000 ZENTRO_RELAY_SIGN_IN_PER_ADDRESS=1000
  if [ -z "$STAND_IN" ]; then
    "$BIN/zentro-relay-load" --serve-meta "127.0.0.1:$STAND_IN_PORT" &
    STAND_IN="$!"
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$STAND_IN_PORT/bench/sends" >/dev/null && return 0; sleep 0.1; done
    echo "the Graph API stand-in did not start" >&2
    return 1
  fi
}

# The measurements this run makes against URLS.
run_selected() {
  if [ -n "$RULES" ]; then run_rules_comparison; else run_measurements; fi
}

stop_relays() {
  for pid in "${RELAYS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  RELAYS=()
}

# With --rules, before each round: the relays stopped, and started again on an empty store (a new
# data directory; on PostgreSQL a new database on the same server) with the workspace created.
FRESH=0
fresh_relays() {
  stop_relays
  FRESH=$((FRESH + 1))
  export ZENTRO_RELAY_DATA_DIR="$WORK/$BACKEND_NOW-$FRESH"
  if [ "$BACKEND_NOW" = postgres ]; then
    psql "$PG_SERVER_URL" -qc "CREATE DATABASE round_$FRESH" >/dev/null
    ZENTRO_RELAY_DATABASE_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/round_" + sys.argv[2])))' "$PG_SERVER_URL" "$FRESH")"
  fi
  create_workspace
  for port in "${PORTS[@]}"; do start_relay "$port"; done
}

bench_sqlite() {
  echo "######## SQLite: one relay"
  BACKEND_NOW=sqlite
  PORTS=(18787)
  export ZENTRO_RELAY_DATA_DIR="$WORK/sqlite"
  unset ZENTRO_RELAY_DATABASE_URL
  prepare_rules
  if [ -z "$RULES" ]; then
    create_workspace
    start_relay 18787
  fi
  URLS=("http://127.0.0.1:18787/webhooks/meta")
  run_selected
  stop_relays
  echo "== database"
  ls -la "$ZENTRO_RELAY_DATA_DIR"
}

bench_postgres() {
  echo "######## PostgreSQL: two relay instances on one database"
  # Its own folder: the server runs as an unprivileged account when this runs as root, and
  # $WORK is closed to it.
  PGDIR="$(mktemp -d)"
  export ZENTRO_RELAY_DATABASE_URL
  ZENTRO_RELAY_DATABASE_URL="$(ZENTRO_POSTGRES_TCP=1 bash scripts/postgres.sh start "$PGDIR")"
  PG_SERVER_URL="$ZENTRO_RELAY_DATABASE_URL"
  BACKEND_NOW=postgres
  PORTS=(18788 18789)
  export ZENTRO_RELAY_DATA_DIR="$WORK/pg-relay-files"
  prepare_rules
  if [ -z "$RULES" ]; then
    create_workspace
    start_relay 18788
    start_relay 18789
  fi
  URLS=("http://127.0.0.1:18788/webhooks/meta" "http://127.0.0.1:18789/webhooks/meta")
  run_selected
  stop_relays
  echo "== database"
  psql "$ZENTRO_RELAY_DATABASE_URL" -Atc "SELECT 'events: ' || count(*) || ', size: ' || pg_size_pretty(pg_database_size(current_database())) FROM events"
  bash scripts/postgres.sh stop "$PGDIR" >/dev/null
  rm -rf "$PGDIR"
  PGDIR=""
  unset ZENTRO_RELAY_DATABASE_URL
}

case "$BACKEND" in
sqlite) bench_sqlite ;;
postgres) bench_postgres ;;
both) bench_sqlite; bench_postgres ;;
esac
