#!/usr/bin/env bash
# Runs every test of Zentro Desk, installing what is missing first. Fails on the first failing stage.
#
#   bash scripts/test.sh                 # every stage, in this order
#   bash scripts/test.sh --stage NAME    # one stage (names below); earlier stages' outputs must exist
#   bash scripts/test.sh --list          # the stage names
#
#   fmt (cargo fmt --check) -> shape (no function outside tests over 80 lines without a written
#   reason, that check's own gate, and docs/architecture.md naming every module) -> ui-check (svelte-check, tsc) -> ui-unit (vitest) -> ui-build ->
#   ui-browser (Chromium) -> ui-gates (the gates above fail on a failing test) -> sqlx (offline
#   query data up to date) -> clippy (warnings denied) -> build -> rust (the workspace's Rust
#   tests, including the WebDriver suite that drives the real app's WebKit window on a private X
#   display) -> rust-postgres (the relay's whole suite again on a private PostgreSQL from
#   Debian's packages, started in a temporary directory and stopped afterwards) -> deb (the .deb built by the Tauri bundler and checked, docs/desktop.md) ->
#   deb-gate (the .deb check fails when its signature test does not run) -> fuzz (bounded)
#
# Every stage goes through run_stage, which fails the command when the stage's runner exits
# non-zero, whatever the runner prints, and a stage that reports no passed tests fails too.
# scripts/test-gates.sh proves it on a copy with failing tests injected (stages ui-gates, deb-gate).
# Screenshots and other artifacts go to $ZENTRO_ARTIFACTS_DIR (default target/artifacts).
source "$(dirname "$0")/setup.sh"

STAGES=(fmt shape ui-check ui-unit ui-build ui-browser ui-gates sqlx clippy build rust rust-postgres deb deb-gate fuzz)
only=""
case "${1:-}" in
  --stage)
    only="${2:?usage: scripts/test.sh --stage NAME (see --list)}"
    [[ " ${STAGES[*]} " == *" $only "* ]] || { echo "error: no stage '$only'; stages: ${STAGES[*]}" >&2; exit 2; }
    ;;
  --list) printf '%s\n' "${STAGES[@]}"; exit 0 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--stage NAME | --list]" >&2; exit 2 ;;
esac

# A whole run writes about 18 GB into the clone (the debug and release builds, the fuzzers' own
# build, the .deb). Short of space it fails late, in whichever stage fills the disk, with "No space
# left on device" (a run with 14 GB free failed in the fuzz stage after 27 minutes): say so first.
min_free_gb="${ZENTRO_TEST_MIN_FREE_GB:-16}"
if ! [[ "$min_free_gb" =~ ^[0-9]{1,6}$ ]]; then
  echo "error: ZENTRO_TEST_MIN_FREE_GB must be a whole number of GB, not '$min_free_gb'" >&2
  exit 2
fi
if [ -z "$only" ]; then
  if ! free_kb=$(df -Pk "$ROOT" | awk 'NR == 2 { print $4 }') || ! [[ "$free_kb" =~ ^[0-9]+$ ]]; then
    echo "error: could not tell how much disk is free where the tests build ($ROOT): df failed" >&2
    exit 1
  fi
  if [ "$free_kb" -lt $((10#$min_free_gb * 1024 * 1024)) ]; then
    echo "error: $((free_kb / 1024 / 1024)) GB free where the tests build ($ROOT); a whole run writes about 18 GB." >&2
    echo "Free some space (old target/ folders, /tmp), or set ZENTRO_TEST_MIN_FREE_GB to run anyway." >&2
    exit 1
  fi
fi

ensure_apt_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_node_modules
ensure_cargo_tool cargo-nextest cargo-nextest
ensure_cargo_tool tauri-driver tauri-driver
ensure_cargo_tool cargo-fuzz cargo-fuzz

cd "$ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Compile-checked queries build from the committed offline data (crates/core/.sqlx), never a live DB.
export SQLX_OFFLINE=true
unset DATABASE_URL
export ZENTRO_ARTIFACTS_DIR="${ZENTRO_ARTIFACTS_DIR:-$ROOT/target/artifacts}"
LOGS="$ROOT/target/test-logs"
mkdir -p "$LOGS" "$ZENTRO_ARTIFACTS_DIR"
declare -a SUMMARY=()
TOTAL_PASSED=0

# run_stage TITLE LOG PATTERN COMMAND...: runs COMMAND with its output in LOG, showing the lines
# that match PATTERN ('.' for all), and fails the whole command with the stage's name when COMMAND
# exits non-zero. The filter can never hide the runner's status: with pipefail the pipeline's
# status is the runner's (tee does not fail, and the filter is made to succeed on no match).
run_stage() {
  local title="$1" log="$2" pattern="$3"
  shift 3
  say "$title"
  if ! "$@" 2>&1 | tee "$log" | { grep -E --line-buffered -- "$pattern" || true; }; then
    tail -n 40 "$log" >&2
    echo "error: stage '$title' failed; its whole output: $log" >&2
    exit 1
  fi
}

# record SUITE COUNT: a suite's passed tests for the summary; a suite that passed nothing fails.
record() {
  if ! [[ "${2:-}" =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
    echo "error: $1 reported no passed tests (runner output changed, or nothing ran)" >&2
    exit 1
  fi
  SUMMARY+=("$(printf '%-34s %5s passed' "$1" "$2")")
  TOTAL_PASSED=$((TOTAL_PASSED + $2))
}

# The "Tests  N passed" count of a vitest log.
vitest_passed() {
  sed -E 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^ +Tests ' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true
}

VITEST_LINES='✓|✗|×|FAIL|Tests|Test Files|Error'

stage_fmt() { run_stage "cargo fmt --check" "$LOGS/fmt.log" . cargo fmt --all --check; }

stage_shape() {
  run_stage "the shape check fails on a long function (scripts/test-gates.sh shape)" \
    "$LOGS/gates-shape.log" '^(gate|error)' bash scripts/test-gates.sh shape
  record "test-command gates (shape)" "$(grep -c '^gate ok' "$LOGS/gates-shape.log" || true)"
  run_stage "no function outside tests longer than 80 lines without a reason" \
    "$LOGS/shape.log" . python3 scripts/long-functions.py
  run_stage "docs/architecture.md names every module" \
    "$LOGS/architecture.log" . python3 scripts/check-architecture.py
}

stage_ui_check() {
  run_stage "UI: type check (svelte-check)" "$LOGS/ui-check.log" . \
    bash -c 'cd ui && npm run --silent check'
}

stage_ui_unit() {
  run_stage "UI: unit tests (vitest)" "$LOGS/vitest.log" "$VITEST_LINES" \
    bash -c 'cd ui && npx vitest run --reporter=default'
  record "UI unit tests (vitest)" "$(vitest_passed "$LOGS/vitest.log")"
}

stage_ui_build() { run_stage "building the UI (ui/dist)" "$LOGS/ui-build.log" . build_ui; }

stage_ui_browser() {
  [ -f ui/dist/index.html ] || { echo "error: no ui/dist: run the ui-build stage first" >&2; exit 1; }
  run_stage "UI: browser tests (Debian's Chromium over a fake backend)" "$LOGS/browser.log" "$VITEST_LINES" \
    bash -c 'cd ui && npx vitest run --config vitest.browser.config.ts --reporter=default'
  record "UI browser tests (Chromium)" "$(vitest_passed "$LOGS/browser.log")"
}

stage_ui_gates() {
  run_stage "the test command fails on a failing UI unit or browser test (scripts/test-gates.sh ui)" \
    "$LOGS/gates-ui.log" '^(gate|error)' bash scripts/test-gates.sh ui
  record "test-command gates (UI)" "$(grep -c '^gate ok' "$LOGS/gates-ui.log" || true)"
}

stage_sqlx() {
  run_stage "sqlx offline query data (core, relay-sqlite, relay-postgres) matches the queries and migrations" \
    "$LOGS/sqlx.log" . bash scripts/sqlx-prepare.sh --check
}

stage_clippy() {
  run_stage "cargo clippy (warnings denied)" "$LOGS/clippy.log" . \
    cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
}

build_app_and_tests() {
  cargo build --locked --quiet -p zentro-desk --bin zentro-desk &&
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --workspace --locked --no-run --cargo-quiet
    else
      cargo test --workspace --locked --no-run --quiet
    fi
}
stage_build() { run_stage "building the app and the Rust tests" "$LOGS/build.log" . build_app_and_tests; }

# The Rust tests run inside a private D-Bus session with an unlocked gnome-keyring (a real Secret
# Service for the keychain tests); the WebDriver suite starts its own Xvfb display.
run_rust_tests() {
  local keyring_home
  keyring_home="$(mktemp -d)"
  local status=0
  dbus-run-session -- bash -c '
    set -euo pipefail
    eval "$(printf "zentro-test" | XDG_DATA_HOME="$1" gnome-keyring-daemon --unlock --components=secrets --daemonize 2>/dev/null)"
    export GNOME_KEYRING_CONTROL
    shift
    exec "$@"
  ' bash "$keyring_home" "$@" || status=$?
  rm -rf "$keyring_home"
  return "$status"
}

stage_rust() {
  unset DISPLAY
  if cargo nextest --version >/dev/null 2>&1; then
    run_stage "Rust tests (unit, integration, end-to-end, WebDriver)" "$LOGS/rust.log" . \
      run_rust_tests timeout 40m cargo nextest run --workspace --locked --cargo-quiet --no-fail-fast
    # One line per test binary (crate::binary), e.g. zentro-core::it, zentro-tests::webdriver; a
    # test that passed but left a process behind is reported LEAK, and passed all the same.
    local count binary
    while read -r count binary; do
      record "Rust: $binary" "$count"
    done < <(sed -nE 's/^ *(PASS|LEAK) \[[^]]*\] +(\([0-9/ ]+\) +)?([^ ]+) .*/\3/p' "$LOGS/rust.log" | sort | uniq -c)
    grep -qE '^ *(PASS|LEAK) ' "$LOGS/rust.log" || record "Rust tests (nextest)" 0
  else
    run_stage "Rust tests (unit, integration, end-to-end, WebDriver)" "$LOGS/rust.log" . \
      run_rust_tests timeout 40m cargo test --workspace --locked --quiet --no-fail-fast
    record "Rust tests (cargo test)" "$(grep -oE 'test result: ok\. [0-9]+ passed' "$LOGS/rust.log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')"
  fi
}

# The relay's suite on PostgreSQL: the same tests as in the rust stage (built there, with the
# workspace's features), each relay on a fresh database of a private server (scripts/postgres.sh:
# Debian's binaries, a Unix socket in a temporary directory, durability settings at their defaults).
# Tests that inspect SQLite itself say so ("SKIPPED ON POSTGRES") and are listed.
run_relay_tests_on_postgres() {
  local pgdir url status=0
  pgdir="$(mktemp -d)"
  # shellcheck source=scripts/postgres.sh
  source scripts/postgres.sh
  # The two schemas (both backends' migrations) must be the same, table by table.
  python3 scripts/compare-relay-schemas.py || { rm -rf "$pgdir"; return 1; }
  url="$(postgres_start "$pgdir")" || { rm -rf "$pgdir"; return 1; }
  ZENTRO_RELAY_TEST_DATABASE=postgres ZENTRO_RELAY_TEST_POSTGRES_URL="$url" \
    timeout 20m cargo nextest run --workspace --locked --cargo-quiet --no-fail-fast \
    --success-output final -E 'package(zentro-relay)' || status=$?
  postgres_stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$pgdir"
  return "$status"
}

stage_rust_postgres() {
  run_stage "Relay tests on PostgreSQL (a private server from Debian's packages)" \
    "$LOGS/rust-postgres.log" '^ *(PASS|FAIL|SIGSEGV|TIMEOUT|LEAK) |SKIPPED ON POSTGRES|Summary' \
    run_relay_tests_on_postgres
  local count binary
  while read -r count binary; do
    record "Rust on PostgreSQL: $binary" "$count"
  # --success-output final repeats each passed test's line before its output: count tests once.
  done < <(sed -nE 's/^ *(PASS|LEAK) \[[^]]*\] +(\([0-9/ ]+\) +)?([^ ]+) ([^ ]+).*/\3 \4/p' "$LOGS/rust-postgres.log" |
    sort -u | cut -d' ' -f1 | uniq -c)
  grep -qE '^ *(PASS|LEAK) ' "$LOGS/rust-postgres.log" || record "Rust on PostgreSQL" 0
  local skipped
  skipped="$(grep -oE 'SKIPPED ON POSTGRES: [a-z0-9_]+' "$LOGS/rust-postgres.log" | sort -u | sed 's/SKIPPED ON POSTGRES: //' | paste -sd, - || true)"
  [ -z "$skipped" ] || SUMMARY+=("$(printf '%-34s %s' "  SQLite-only, skipped:" "$skipped")")
}

stage_deb() {
  run_stage "Debian package: release build with the Tauri bundler (about 9 minutes on a clean target/)" \
    "$LOGS/deb.log" '^(error|warning: .*failed)' bash scripts/build-deb.sh
  run_stage "Debian package: checked" "$LOGS/deb-check.log" . bash scripts/check-deb.sh
  record "Debian package (built, checked)" "$(grep -c ': ok$' "$LOGS/deb-check.log" || true)"
}

stage_deb_gate() {
  run_stage "the .deb check fails when its signature test does not run (scripts/test-gates.sh deb)" \
    "$LOGS/gates-deb.log" '^(gate|error)' bash scripts/test-gates.sh deb
  record "test-command gates (.deb)" "$(grep -c '^gate ok' "$LOGS/gates-deb.log" || true)"
}

# Bounded fuzzing of the webhook parser and both signature formats (longer runs by hand: see
# crates/meta/fuzz/README.md). RUSTC_BOOTSTRAP lets stable rustc take the sanitizer flags.
fuzz_targets() {
  local seconds="$1" target
  cd crates/meta
  mkdir -p fuzz/corpus/webhook_parse
  cp tests/corpus/*.json fuzz/corpus/webhook_parse/
  export RUSTC_BOOTSTRAP=1
  cargo fuzz build -O || return 1
  for target in webhook_parse webhook_signature signed_request; do
    cargo fuzz run -O "$target" -- -max_total_time="$seconds" >"$LOGS/fuzz-$target.log" 2>&1 \
      || { tail -n 40 "$LOGS/fuzz-$target.log"; echo "fuzz target $target found a failure"; return 1; }
    grep -qE 'Done [0-9]+ runs' "$LOGS/fuzz-$target.log" \
      || { tail -n 20 "$LOGS/fuzz-$target.log"; echo "fuzz target $target did not run"; return 1; }
    echo "fuzz $target: $(grep -oE 'Done [0-9]+ runs' "$LOGS/fuzz-$target.log" | tail -n1), no failure"
  done
}
stage_fuzz() {
  local seconds="${ZENTRO_FUZZ_SECONDS:-15}"
  run_stage "fuzzing zentro-meta (${seconds}s per target)" "$LOGS/fuzz.log" '^fuzz ' \
    fuzz_targets "$seconds"
  local line
  while read -r line; do SUMMARY+=("$line"); done < <(grep -E '^fuzz ' "$LOGS/fuzz.log")
}

# Each stage's wall-clock time goes to the summary, so a slow stage is seen before the whole
# command outgrows CI's budget (90 minutes at most, kept under 45).
declare -a TIMES=()
for stage in "${STAGES[@]}"; do
  if [ -z "$only" ] || [ "$only" = "$stage" ]; then
    started=$SECONDS
    "stage_${stage//-/_}"
    TIMES+=("$(printf '%-14s %5d s' "$stage" $((SECONDS - started)))")
  fi
done

echo
if [ -n "$only" ]; then
  say "stage $only passed"
else
  say "all suites passed"
fi
[ "${#SUMMARY[@]}" -eq 0 ] || printf '  %s\n' "${SUMMARY[@]}"
[ -n "$only" ] || echo "  screenshots: $ZENTRO_ARTIFACTS_DIR/screenshots"
echo "  time per stage (the whole command, installs included: $SECONDS s):"
printf '    %s\n' "${TIMES[@]}"
echo
echo "total: $TOTAL_PASSED passed, 0 failed"
