#!/usr/bin/env bash
# Benchmarks the relay's webhook ingest on this machine: a release relay on a temporary data
# directory (SQLite, synchronous=FULL, group commit) and the load generator on the same box.
#   1. maximum throughput (closed loop, 256 connections, 15 s), three runs
#   2. latency at 5,000 webhooks/s offered (open loop, 15 s), three runs
#   3. the same with two devices following the event stream and acknowledging it, as desktops do
#      (adds each device's events received and delivery lag), three runs
# Figures go to docs/benchmarks.md by hand (quote medians; the machine is shared and noisy).
# ZENTRO_BENCH_BIN=DIR runs the zentro-relay and zentro-relay-load binaries in DIR instead of
# building them (to compare two builds in one session, A then B then A).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -n "${ZENTRO_BENCH_BIN:-}" ]; then
  BIN="$ZENTRO_BENCH_BIN"
else
  cargo build --release --locked --quiet -p zentro-relay
  BIN="$ROOT/target/release"
fi
DATA="$(mktemp -d)"
trap 'kill "$RELAY" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export ZENTRO_RELAY_DATA_DIR="$DATA" ZENTRO_RELAY_META_APP_SECRET="bench-secret" ZENTRO_RELAY_META_VERIFY_TOKEN="bench-verify"
export ZENTRO_RELAY_LOAD_PASSWORD="bench password 123"
WS="$(printf '%s' "$ZENTRO_RELAY_LOAD_PASSWORD" | "$BIN/zentro-relay" workspace create --name Bench --owner-email bench@example.test 2>/dev/null)"
"$BIN/zentro-relay" channel add --workspace "$WS" --kind whatsapp --external-id LOAD-PHONE >/dev/null 2>&1
PORT="${ZENTRO_BENCH_PORT:-18787}"
RUST_LOG=warn "$BIN/zentro-relay" serve --listen "127.0.0.1:$PORT" &
RELAY=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/webhooks/meta"
TICKS="$(getconf CLK_TCK)"
# Runs the load generator and appends the relay's own CPU time per accepted webhook.
measure() {
  local before after result
  before="$(awk '{print $14 + $15}' "/proc/$RELAY/stat")"
  result="$("$BIN/zentro-relay-load" --url "$URL" --phone-number-id LOAD-PHONE --json "$@")"
  after="$(awk '{print $14 + $15}' "/proc/$RELAY/stat")"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); cpu=(int(sys.argv[3])-int(sys.argv[2]))/int(sys.argv[4]); d["relay_cpu_seconds"]=round(cpu,2); d["relay_cpu_us_per_webhook"]=round(cpu*1e6/max(d["accepted"],1),1); print(json.dumps(d))' "$result" "$before" "$after" "$TICKS"
}
echo "== maximum throughput (closed loop, 256 connections)"
for run in 1 2 3; do measure --rate 0 --concurrency 256 --duration "${ZENTRO_BENCH_SECONDS:-15}"; done
echo "== 5,000 webhooks/s offered (open loop)"
for run in 1 2 3; do measure --rate 5000 --concurrency 256 --duration "${ZENTRO_BENCH_SECONDS:-15}"; done
echo "== 5,000 webhooks/s offered, two devices following the stream and acknowledging"
for run in 1 2 3; do measure --rate 5000 --concurrency 256 --duration "${ZENTRO_BENCH_SECONDS:-15}" --devices 2 --email bench@example.test; done
echo "== database"
ls -la "$DATA"
