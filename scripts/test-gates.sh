#!/usr/bin/env bash
# The test command's own test: each gate of scripts/test.sh fails when what it runs fails.
#
#   bash scripts/test-gates.sh ui    # in a temporary copy of ui/ and scripts/: the ui-unit and
#                                    # ui-browser stages pass as they are, then fail, naming the
#                                    # stage, once a failing test is added (needs ui/dist built)
#   bash scripts/test-gates.sh deb   # scripts/check-deb.sh fails when its signature test does not
#                                    # run (a renamed test); needs the .deb built
#   bash scripts/test-gates.sh shape # scripts/long-functions.py fails on an 81-line function, naming
#                                    # it, and passes one that says why or lives in tests
#
# Each check prints "gate ok: ..." or "gate FAILED: ..." and the script exits non-zero on any
# failure. Run by scripts/test.sh (stages ui-gates, deb-gate and shape).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOGS="$ROOT/target/test-logs/gates"
mkdir -p "$LOGS"
failures=0

ok() { echo "gate ok: $*"; }
bad() { echo "gate FAILED: $*"; failures=$((failures + 1)); }

# expect_exit WANT(pass|fail) LOG DESCRIPTION COMMAND...: runs COMMAND and checks its exit status.
expect_exit() {
  local want="$1" log="$2" what="$3" status=0
  shift 3
  "$@" >"$log" 2>&1 || status=$?
  if [ "$want" = pass ] && [ "$status" -eq 0 ]; then ok "$what passes (exit 0)"; return 0; fi
  if [ "$want" = fail ] && [ "$status" -ne 0 ]; then ok "$what fails (exit $status)"; return 0; fi
  bad "$what: expected to $want, exited $status; see $log"
  tail -n 20 "$log" | sed 's/^/    /'
  return 1
}

# A copy of the parts the UI stages read: scripts/ and ui/ (sources, config, the built dist), with
# the installed node_modules linked rather than copied.
ui_copy() {
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/zentro-gates.XXXXXX")"
  mkdir -p "$dir/ui" "$dir/target"
  cp -a "$ROOT/scripts" "$dir/"
  (cd "$ROOT/ui" && tar --exclude=./node_modules -cf - .) | (cd "$dir/ui" && tar -xf -)
  ln -s "$ROOT/ui/node_modules" "$dir/ui/node_modules"
  echo "$dir"
}

gate_ui() {
  [ -f "$ROOT/ui/dist/index.html" ] || { echo "error: build the UI first (npm --prefix ui run build)"; exit 1; }
  copy="$(ui_copy)"
  trap 'rm -rf "$copy"' EXIT

  # Unchanged, both stages pass in the copy: a failure below is the injected test's doing.
  expect_exit pass "$LOGS/ui-unit-clean.log" "the ui-unit stage on the copy as it is" \
    bash "$copy/scripts/test.sh" --stage ui-unit || true
  expect_exit pass "$LOGS/ui-browser-clean.log" "the ui-browser stage on the copy as it is" \
    bash "$copy/scripts/test.sh" --stage ui-browser || true

  cat >"$copy/ui/src/gate-canary.test.ts" <<'EOF'
import { expect, it } from 'vitest';

it('gate canary: a failing unit test', () => {
  expect(1 + 1).toBe(3);
});
EOF
  if expect_exit fail "$LOGS/ui-unit-failing.log" "the ui-unit stage with a failing unit test" \
    bash "$copy/scripts/test.sh" --stage ui-unit; then
    grep -q "gate canary" "$LOGS/ui-unit-failing.log" && grep -q "stage 'UI: unit tests (vitest)' failed" "$LOGS/ui-unit-failing.log" \
      && ok "the failure names the failing test and the stage" \
      || bad "the ui-unit failure does not name the canary test and the stage; see $LOGS/ui-unit-failing.log"
  fi
  rm "$copy/ui/src/gate-canary.test.ts"

  cat >"$copy/ui/browser/gate-canary.browser.test.ts" <<'EOF'
import { expect, it } from 'vitest';

it('gate canary: a failing browser test', () => {
  expect('light').toBe('dark');
});
EOF
  if expect_exit fail "$LOGS/ui-browser-failing.log" "the ui-browser stage with a failing browser test" \
    bash "$copy/scripts/test.sh" --stage ui-browser; then
    grep -q "gate canary" "$LOGS/ui-browser-failing.log" && grep -q "stage 'UI: browser tests" "$LOGS/ui-browser-failing.log" \
      && ok "the failure names the failing test and the stage" \
      || bad "the ui-browser failure does not name the canary test and the stage; see $LOGS/ui-browser-failing.log"
  fi

  # A runner that passes but runs nothing is a failure too (an emptied include pattern, say).
  rm "$copy/ui/browser/gate-canary.browser.test.ts"
  sed -i "s|include: \['browser/\*\*/\*.browser.test.ts'\]|include: ['browser/**/*.nothing.test.ts'], passWithNoTests: true|" \
    "$copy/ui/vitest.browser.config.ts"
  grep -q 'nothing.test.ts' "$copy/ui/vitest.browser.config.ts" || bad "could not empty the browser tests' include pattern"
  expect_exit fail "$LOGS/ui-browser-empty.log" "the ui-browser stage when no browser test runs" \
    bash "$copy/scripts/test.sh" --stage ui-browser || true
}

gate_deb() {
  cd "$ROOT"
  expect_exit fail "$LOGS/deb-renamed.log" "scripts/check-deb.sh when its signature test is renamed" \
    env ZENTRO_DEB_SIGNATURE_TEST=updates::a_test_that_was_renamed bash scripts/check-deb.sh || return 0
  grep -q "did not run" "$LOGS/deb-renamed.log" \
    && ok "the failure says the signature test did not run" \
    || bad "the check-deb failure does not say the test did not run; see $LOGS/deb-renamed.log"
}

# A tree of one crate whose lib.rs holds BODY (a function of LINES lines) for the shape check.
shape_tree() {
  local dir="$1" lines="$2" prefix="$3"
  rm -rf "$dir/crates"
  mkdir -p "$dir/crates/demo/src" "$dir/scripts"
  cp "$ROOT/scripts/long-functions.py" "$dir/scripts/"
  {
    printf '%b' "$prefix"
    echo "pub fn grown(x: u32) -> u32 {"
    echo "    let mut total = x;"
    for _ in $(seq 3 "$((lines - 1))"); do echo "    total += 1;"; done
    echo "}"
  } >"$dir/crates/demo/src/lib.rs"
}

gate_shape() {
  dir="$(mktemp -d "${TMPDIR:-/tmp}/zentro-shape.XXXXXX")"
  trap 'rm -rf "$dir"' EXIT
  shape_tree "$dir" 80 ""
  expect_exit pass "$LOGS/shape-80.log" "the shape check with an 80-line function" \
    python3 "$dir/scripts/long-functions.py" || true
  shape_tree "$dir" 81 ""
  expect_exit fail "$LOGS/shape-81.log" "the shape check with an 81-line function" \
    python3 "$dir/scripts/long-functions.py" &&
    { grep -q "crates/demo/src/lib.rs:1  grown" "$LOGS/shape-81.log" \
      && ok "the failure names the function and its place" \
      || bad "the shape failure does not name crates/demo/src/lib.rs:1 grown; see $LOGS/shape-81.log"; }
  shape_tree "$dir" 120 "// Long: one table a reader wants to see whole.\n"
  expect_exit pass "$LOGS/shape-reason.log" "the shape check with a long function that says why" \
    python3 "$dir/scripts/long-functions.py" || true
  shape_tree "$dir" 120 "#[cfg(test)]\nmod tests {\n"
  echo "}" >>"$dir/crates/demo/src/lib.rs"
  expect_exit pass "$LOGS/shape-test.log" "the shape check with a long test function" \
    python3 "$dir/scripts/long-functions.py" || true
}

case "${1:-}" in
  ui) gate_ui ;;
  deb) gate_deb ;;
  shape) gate_shape ;;
  *) echo "usage: scripts/test-gates.sh ui|deb|shape" >&2; exit 2 ;;
esac
[ "$failures" -eq 0 ] || { echo "error: $failures gate check(s) failed"; exit 1; }
