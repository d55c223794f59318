#!/usr/bin/env bash
# Checks the Debian package scripts/build-deb.sh built, as a user's system would see it: control
# fields and dependencies, the binary, the desktop entry (with the zentro:// scheme), icons at
# every size, and the update signature (against the key the app trusts, naming its version).
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(python3 -c 'import json; print(json.load(open("tauri.conf.json"))["version"])')"
deb="target/release/bundle/deb/zentro-desk_${version}_amd64.deb"
fail() { echo "check-deb: $*" >&2; exit 1; }
[ -f "$deb" ] || fail "no $deb: run scripts/build-deb.sh first"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "zentro-desk" ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', not $version"
[ "$(field Architecture)" = "amd64" ] || fail "Architecture is '$(field Architecture)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends="$(field Depends)"
for needed in libwebkit2gtk-4.1-0 libgtk-3-0; do
  grep -q "$needed" <<<"$depends" || fail "Depends lacks $needed: $depends"
done
grep -q "gnome-keyring" <<<"$(field Recommends)" || fail "Recommends lacks a Secret Service"

grep -q "libayatana-appindicator3-1" <<<"$depends" || fail "Depends lacks the tray's library: $depends"

contents="$(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./||')"
grep -qx 'usr/bin/zentro-desk' <<<"$contents" || fail "no /usr/bin/zentro-desk"
# Built for size (DESK_RELEASE_PROFILE in scripts/setup.sh): the binary's pages are most of the
# app process's memory (ADR 0017, run 6). ~29 MB so built; ~53 MB with the relay's speed profile.
binary_bytes="$(dpkg-deb --fsys-tarfile "$deb" | tar -tv | awk '$6 ~ /(^|\/)usr\/bin\/zentro-desk$/ {print $3; exit}')"
[ -n "$binary_bytes" ] && [ "$binary_bytes" -le $((36 * 1000 * 1000)) ] \
  || fail "usr/bin/zentro-desk is ${binary_bytes:-?} bytes, over 36 MB: not built for size (DESK_RELEASE_PROFILE, scripts/setup.sh)"
for size in 16x16 24x24 32x32 48x48 64x64 128x128 256x256 256x256@2 512x512; do
  grep -qx "usr/share/icons/hicolor/$size/apps/zentro-desk.png" <<<"$contents" \
    || fail "no $size icon"
done

desktop_path="$(grep -E '^usr/share/applications/.*\.desktop$' <<<"$contents" | head -n1)"
[ -n "$desktop_path" ] || fail "no desktop entry"
desktop="$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "*$desktop_path")"
# `%u`: the clicked link reaches the app as its argument.
for line in 'Name=Zentro Desk' 'Exec=zentro-desk %u' 'Icon=zentro-desk' 'Type=Application'; do
  grep -q "^$line" <<<"$desktop" || fail "the desktop entry lacks '$line':"$'\n'"$desktop"
done
grep -q '^MimeType=.*x-scheme-handler/zentro' <<<"$desktop" \
  || fail "the desktop entry does not register zentro:// links:"$'\n'"$desktop"

# The signature is checked by an ignored Rust test that reads $ZENTRO_DEB. It must run and pass,
# exactly once: a renamed or filtered-out test runs nothing and exits 0, so the count is checked.
# ZENTRO_DEB_SIGNATURE_TEST names another test only for scripts/test-gates.sh, which proves this.
signature_test="${ZENTRO_DEB_SIGNATURE_TEST:-updates::the_built_package_is_signed_for_its_version_with_the_key_the_app_trusts}"
if ! output="$(ZENTRO_DEB="$PWD/$deb" cargo test --locked --quiet -p zentro-desk --test it -- \
  --ignored --exact "$signature_test" 2>&1)"; then
  fail "the update signature does not verify ($signature_test):"$'\n'"$(tail -n 30 <<<"$output")"
fi
grep -qE '^test result: ok\. 1 passed' <<<"$output" \
  || fail "the signature test '$signature_test' did not run (renamed or not found?):"$'\n'"$(tail -n 5 <<<"$output")"

echo "check-deb: $deb ($(du -h "$deb" | cut -f1)) — control, files, desktop entry, icons, signature: ok"
