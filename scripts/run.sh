#!/usr/bin/env bash
# Installs what is missing, builds the UI and starts the Zentro Desk window.
# Extra arguments go to the app. ZENTRO_DATA_DIR moves its data (default: the platform's app-data
# directory, ~/.local/share/app.zentro.desk on Linux).
source "$(dirname "$0")/setup.sh"

ensure_apt_packages "${BUILD_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_node_modules
build_ui

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "error: there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset)." >&2
  echo "Run this from a desktop session, or under a virtual one: xvfb-run -a bash scripts/run.sh" >&2
  exit 1
fi

say "building and starting Zentro Desk"
cd "$ROOT"
exec cargo run --quiet -p zentro-desk -- "$@"
