#!/usr/bin/env bash
# Runs every test of Zentro Desk, installing what is missing first. Fails on the first failing step.
#
#   formatting (cargo fmt --check) -> the UI's type check and unit tests (vitest) -> UI build ->
#   UI browser tests (Chromium) -> sqlx offline query data up to date -> clippy with warnings
#   denied -> the workspace's Rust tests, including the WebDriver suite that
#   drives the real app's WebKit window on a private X display -> the .deb built by the Tauri
#   bundler and checked (docs/desktop.md) -> bounded fuzzing
#
# Screenshots and other artifacts go to $ZENTRO_ARTIFACTS_DIR (default target/artifacts).
source "$(dirname "$0")/setup.sh"

ensure_apt_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_node_modules
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

record() { # suite passed
  SUMMARY+=("$(printf '%-34s %5s passed' "$1" "$2")")
  TOTAL_PASSED=$((TOTAL_PASSED + $2))
}

say "cargo fmt --check"
cargo fmt --all --check

say "UI: type check (svelte-check)"
(cd ui && npm run --silent check) 2>&1 | tail -n 3

say "UI: unit tests (vitest)"
(cd ui && npx vitest run --reporter=default) 2>&1 | tee "$LOGS/vitest.log" | grep -E "✓|✗|×|FAIL|Tests|Test Files" || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "vitest failed; see $LOGS/vitest.log" >&2; exit 1; }
record "UI unit tests (vitest)" "$(sed -E 's/\x1b\[[0-9;]*m//g' "$LOGS/vitest.log" | grep -E '^ +Tests ' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')"

build_ui

say "UI: browser tests (Debian's Chromium over a fake backend)"
(cd ui && npx vitest run --config vitest.browser.config.ts --reporter=default) 2>&1 | tee "$LOGS/browser.log" | grep -E "✓|✗|×|FAIL|Tests|Test Files" || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "browser tests failed; see $LOGS/browser.log" >&2; exit 1; }
record "UI browser tests (Chromium)" "$(sed -E 's/\x1b\[[0-9;]*m//g' "$LOGS/browser.log" | grep -E '^ +Tests ' | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')"

say "sqlx offline query data (crates/core/.sqlx) matches the queries and migrations"
bash scripts/sqlx-prepare.sh --check

say "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

say "building the app and the Rust tests"
cargo build --locked --quiet -p zentro-desk --bin zentro-desk
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-run --cargo-quiet
else
  cargo test --workspace --locked --no-run --quiet
fi

# The Rust tests run inside a private D-Bus session with an unlocked gnome-keyring (a real Secret
# Service for the keychain tests); the WebDriver suite starts its own Xvfb display.
KEYRING_HOME="$(mktemp -d)"
trap 'rm -rf "$KEYRING_HOME"' EXIT
run_rust_tests() {
  dbus-run-session -- bash -c '
    set -euo pipefail
    eval "$(printf "zentro-test" | XDG_DATA_HOME="$1" gnome-keyring-daemon --unlock --components=secrets --daemonize 2>/dev/null)"
    export GNOME_KEYRING_CONTROL
    shift
    exec "$@"
  ' bash "$KEYRING_HOME" "$@"
}

say "Rust tests (unit, integration, end-to-end, WebDriver)"
unset DISPLAY
if cargo nextest --version >/dev/null 2>&1; then
  run_rust_tests timeout 40m cargo nextest run --workspace --locked --cargo-quiet --no-fail-fast 2>&1 | tee "$LOGS/rust.log"
  status="${PIPESTATUS[0]}"
  [ "$status" -eq 0 ] || { echo "Rust tests failed; see $LOGS/rust.log" >&2; exit "$status"; }
  # One line per test binary (crate::binary), e.g. zentro-core::it, zentro-tests::webdriver.
  while read -r count binary; do
    record "Rust: $binary" "$count"
  done < <(sed -nE 's/^ *PASS \[[^]]*\] +(\([0-9/ ]+\) +)?([^ ]+) .*/\2/p' "$LOGS/rust.log" | sort | uniq -c)
else
  run_rust_tests timeout 40m cargo test --workspace --locked --quiet --no-fail-fast 2>&1 | tee "$LOGS/rust.log"
  status="${PIPESTATUS[0]}"
  [ "$status" -eq 0 ] || { echo "Rust tests failed; see $LOGS/rust.log" >&2; exit "$status"; }
  record "Rust tests (cargo test)" "$(grep -oE 'test result: ok\. [0-9]+ passed' "$LOGS/rust.log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')"
fi

say "Debian package: release build with the Tauri bundler (about 9 minutes on a clean target/), then checked"
bash scripts/build-deb.sh >"$LOGS/deb.log" 2>&1 \
  || { tail -n 40 "$LOGS/deb.log" >&2; echo "the .deb build failed; see $LOGS/deb.log" >&2; exit 1; }
bash scripts/check-deb.sh
record "Debian package (built, checked)" 1

# Bounded fuzzing of the webhook parser and both signature formats (longer runs by hand: see
# crates/meta/fuzz/README.md). RUSTC_BOOTSTRAP lets stable rustc take the sanitizer flags.
FUZZ_SECONDS="${ZENTRO_FUZZ_SECONDS:-15}"
say "fuzzing zentro-meta (${FUZZ_SECONDS}s per target)"
(
  cd crates/meta
  mkdir -p fuzz/corpus/webhook_parse
  cp tests/corpus/*.json fuzz/corpus/webhook_parse/
  export RUSTC_BOOTSTRAP=1
  cargo fuzz build -O >"$LOGS/fuzz-build.log" 2>&1 || { cat "$LOGS/fuzz-build.log" >&2; exit 1; }
  for target in webhook_parse webhook_signature signed_request; do
    cargo fuzz run -O "$target" -- -max_total_time="$FUZZ_SECONDS" >"$LOGS/fuzz-$target.log" 2>&1 \
      || { tail -n 40 "$LOGS/fuzz-$target.log" >&2; echo "fuzz target $target found a failure" >&2; exit 1; }
    SUMMARY_LINE="$(grep -oE 'Done [0-9]+ runs' "$LOGS/fuzz-$target.log" | tail -n1)"
    echo "  fuzz $target: ${SUMMARY_LINE:-done}, no failure"
  done
) | tee "$LOGS/fuzz.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
while read -r line; do SUMMARY+=("$line"); done < <(grep -E '^  fuzz ' "$LOGS/fuzz.log" | sed 's/^  //')

echo
say "all suites passed"
printf '  %s\n' "${SUMMARY[@]}"
echo "  screenshots: $ZENTRO_ARTIFACTS_DIR/screenshots"
echo
echo "total: $TOTAL_PASSED passed, 0 failed"
