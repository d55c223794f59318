# shellcheck shell=bash
# Installs what a fresh Debian 12 / Ubuntu machine lacks to build, run and test Zentro Desk.
# Sourced by scripts/run.sh and scripts/test.sh. Idempotent, and quiet when there is nothing to do.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages to build the app (WebKitGTK, GTK, libsoup, D-Bus for the keychain).
BUILD_PACKAGES=(build-essential pkg-config file libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev
  libdbus-1-dev)
# ... and to test it: a virtual display, WebKit's WebDriver, a private D-Bus session with a real
# Secret Service (gnome-keyring), the kernel keyring tools.
TEST_PACKAGES=(python3 chromium xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools keyutils postgresql)

# How the desk's release binary is built (scripts/build-deb.sh, scripts/bench-footprint.sh): for
# size, with link-time optimisation across every crate (29 MB instead of 53 MB; its pages are most
# of the app process's memory: docs/adr/0017-desk-footprint.md, run 6). SQLite's C code stays
# optimised for speed: the desk's searches run in it. The relay and the CLI keep the workspace's
# release profile (speed).
DESK_RELEASE_PROFILE=(--config 'profile.release.opt-level="s"' --config 'profile.release.lto="fat"'
  --config 'profile.release.codegen-units=1' --config 'profile.release.package.libsqlite3-sys.opt-level=3')

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "error: '$*' needs root and sudo is not installed; run it as root." >&2
    exit 1
  fi
}

ensure_apt_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
  local component
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      say "adding the Rust component $component"
      rustup component add "$component" >/dev/null
    fi
  done
}

ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm from Debian"
    ensure_apt_packages nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "error: Node.js 20 or newer is needed for the UI build (found $(node --version))." >&2
    exit 1
  fi
}

# npm packages of the UI; re-installed when package.json or the lockfile changed.
ensure_node_modules() {
  local stamp="$ROOT/ui/node_modules/.zentro-installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/ui/package.json" ] && [ "$stamp" -nt "$ROOT/ui/package-lock.json" ]; then
    return 0
  fi
  say "installing the UI's npm packages"
  (cd "$ROOT/ui" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$stamp"
}

ensure_cargo_tool() {
  local binary="$1" crate="$2"
  if command -v "$binary" >/dev/null 2>&1 || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$binary" ]; then
    return 0
  fi
  say "installing $crate from crates.io (about a minute, once)"
  cargo install "$crate" --locked --quiet
}

build_ui() {
  say "building the UI (ui/dist)"
  (cd "$ROOT/ui" && npm run --silent build -- --logLevel warn)
}

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export npm_config_update_notifier=false
