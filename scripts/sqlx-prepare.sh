#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) the offline query data of zentro-core's compile-checked
# queries (crates/core/.sqlx), without sqlx-cli: the migrations are applied to a scratch SQLite
# file, and the sqlx macros, run online against it, write one JSON file per query.
#
#   bash scripts/sqlx-prepare.sh          # after changing a query or a migration; commit the result
#   bash scripts/sqlx-prepare.sh --check  # what the test command runs: fails if the data is stale
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 - "$scratch/schema.sqlite" migrations/*.sql <<'PY'
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for path in sorted(sys.argv[2:]):
    script = open(path, encoding="utf-8").read()
    if sqlite3.sqlite_version_info < (3, 42):
        # FTS5 options newer than Debian's SQLite (the app bundles a newer one); they change no
        # schema the query macros check against.
        script = re.sub(r"INSERT INTO \w+ \(\w+, rank\) VALUES \('secure-delete', 1\);", "", script)
    db.executescript(script)
db.commit()
PY
mkdir -p "$scratch/sqlx"
# The macros only run when the crate is recompiled: touch it so they do.
touch crates/core/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL="sqlite://$scratch/schema.sqlite" SQLX_OFFLINE_DIR="$scratch/sqlx" \
    cargo check --quiet --locked -p zentro-core --lib
touch crates/core/src/lib.rs

if [[ "${1:-}" == "--check" ]]; then
    if ! diff -r "$scratch/sqlx" crates/core/.sqlx >/dev/null; then
        diff -r "$scratch/sqlx" crates/core/.sqlx | head -20 >&2 || true
        echo "crates/core/.sqlx is stale: run 'bash scripts/sqlx-prepare.sh' and commit the result." >&2
        exit 1
    fi
    echo "sqlx offline data: up to date ($(ls crates/core/.sqlx | wc -l) queries)"
else
    rm -rf crates/core/.sqlx
    cp -r "$scratch/sqlx" crates/core/.sqlx
    echo "wrote crates/core/.sqlx ($(ls crates/core/.sqlx | wc -l) queries)"
fi
