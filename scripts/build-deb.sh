#!/usr/bin/env bash
# Builds Zentro Desk's Debian package with the Tauri bundler, its update signature, and an update
# manifest ready to publish (docs/updates.md):
#
#   bash scripts/build-deb.sh            # development: signed with keys/dev-updater.key
#   bash scripts/build-deb.sh --release  # a release, signed with the team's own key:
#       ZENTRO_UPDATER_PUBKEY            the release public key (built into the app)
#       TAURI_SIGNING_PRIVATE_KEY        the release private key (its content, or a path)
#       TAURI_SIGNING_PRIVATE_KEY_PASSWORD   its password
#       ZENTRO_UPDATE_BASE_URL           where the .deb will be downloaded from (optional)
#
# Output in target/release/bundle/deb/: zentro-desk_<version>_amd64.deb, its .sig, latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

release=false
[ "${1:-}" = "--release" ] && release=true

ensure_apt_packages "${BUILD_PACKAGES[@]}"
ensure_rust
ensure_node
ensure_node_modules

dev_pubkey="$(cat keys/dev-updater.key.pub)"
overrides=()
if $release; then
  : "${ZENTRO_UPDATER_PUBKEY:?set ZENTRO_UPDATER_PUBKEY to the release public key}"
  : "${TAURI_SIGNING_PRIVATE_KEY:?set TAURI_SIGNING_PRIVATE_KEY to the release private key}"
  if [ "$ZENTRO_UPDATER_PUBKEY" = "$dev_pubkey" ]; then
    echo "error: the release public key is the development key (keys/); a release must trust the team's own key." >&2
    exit 1
  fi
  overrides=(--config "{\"plugins\":{\"updater\":{\"pubkey\":\"$ZENTRO_UPDATER_PUBKEY\"}}}")
else
  TAURI_SIGNING_PRIVATE_KEY="$(cat keys/dev-updater.key)"
  TAURI_SIGNING_PRIVATE_KEY_PASSWORD=""
  export TAURI_SIGNING_PRIVATE_KEY TAURI_SIGNING_PRIVATE_KEY_PASSWORD
fi

say "building the web UI"
npm --prefix ui run build --silent >/dev/null

say "building the release binary (for size: DESK_RELEASE_PROFILE) and the .deb (about 9 minutes on a clean target/)"
TAURI_APP_PATH=src-tauri ui/node_modules/.bin/tauri build --ci --bundles deb "${overrides[@]}" -- "${DESK_RELEASE_PROFILE[@]}"

version="$(python3 -c 'import json; print(json.load(open("tauri.conf.json"))["version"])')"
out=target/release/bundle/deb
# The bundler names the file after the product ("Zentro Desk_…"); publish it without the space.
deb="$out/zentro-desk_${version}_amd64.deb"
built="$out/Zentro Desk_${version}_amd64.deb"
[ -f "$built" ] || { echo "error: the bundler wrote no $built" >&2; exit 1; }
[ -f "$built.sig" ] || { echo "error: the bundler wrote no signature next to $built" >&2; exit 1; }
mv -f "$built" "$deb"
mv -f "$built.sig" "$deb.sig"

base="${ZENTRO_UPDATE_BASE_URL:-https://updates.zentro.app/desk}"
python3 - "$deb" "$version" "$base" > "$out/latest.json" <<'PY'
import datetime, json, os, sys
deb, version, base = sys.argv[1:4]
entry = {"signature": open(deb + ".sig").read().strip(), "url": f"{base}/{os.path.basename(deb)}"}
print(json.dumps({
    "version": version,
    "notes": f"Zentro Desk {version}",
    "pub_date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    # The .deb entry is what an installation from the .deb asks for; the plain one is its fallback.
    "platforms": {"linux-x86_64-deb": entry, "linux-x86_64": entry},
}, indent=2))
PY
say "built $deb ($(du -h "$deb" | cut -f1)), $deb.sig and $out/latest.json"
