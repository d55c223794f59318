#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) the offline query data of the crates with compile-checked
# queries, without sqlx-cli. Each crate is built online against its own scratch database holding
# its migrations, and the sqlx macros write one JSON file per query into its .sqlx:
#
#   zentro-core            crates/core/.sqlx            SQLite file, migrations/*.sql
#   zentro-relay-sqlite    crates/relay-sqlite/.sqlx    SQLite file, crates/relay-sqlite/migrations/*.sql
#   zentro-relay-postgres  crates/relay-postgres/.sqlx  PostgreSQL from scripts/postgres.sh,
#                                                       crates/relay-postgres/migrations/*.sql (psql -1 -f)
#
# Migrations are applied in file-name (version) order. A crate without queries has no .sqlx (git
# keeps no empty folder): a missing folder counts as empty.
#
#   bash scripts/sqlx-prepare.sh          # after changing a query or a migration; commit the result
#   bash scripts/sqlx-prepare.sh --check  # what the test command runs: fails if any crate's data is stale
#   bash scripts/sqlx-prepare.sh --dev    # as without an option, then keeps the two relay databases
#                                         # (recreated, migrated): /tmp/zentro-dev/relay.sqlite and a
#                                         # PostgreSQL in /tmp/zentro-dev/pg, and writes
#                                         # crates/relay-{sqlite,postgres}/.env (DATABASE_URL, ignored
#                                         # by git), so builds check relay queries online while editing.
#                                         # Undo: rm crates/relay-*/.env;
#                                         # bash scripts/postgres.sh stop /tmp/zentro-dev/pg
#
# Needs python3 (its sqlite3 module) and PostgreSQL's server binaries (scripts/postgres.sh says
# where it looks). The scratch databases are deleted on exit (--dev keeps the two relay ones).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=prepare
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --dev) mode=dev ;;
    *)
        echo "usage: bash scripts/sqlx-prepare.sh [--check | --dev]" >&2
        exit 2
        ;;
esac

DEV_DIR=/tmp/zentro-dev
scratch=$(mktemp -d)
pg_dir=""
cleanup() {
    if [[ -n "$pg_dir" && "$mode" != dev ]]; then
        bash scripts/postgres.sh stop "$pg_dir" 2>/dev/null || true
        rm -rf "$pg_dir"
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# sqlite_migrate FILE MIGRATION... : applies the migrations, in version order, to a new SQLite file.
sqlite_migrate() {
    python3 - "$@" <<'PY'
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
}

# postgres_migrate URL MIGRATION... : applies the migrations, in version order, each in one transaction.
postgres_migrate() {
    local url=$1 migration
    shift
    for migration in "$@"; do # the glob sorts by name, that is by version
        psql "$url" -X -q -v ON_ERROR_STOP=1 -1 -f "$migration" >/dev/null
    done
}

# prepare CRATE DIR DATABASE_URL : builds the crate online against the database; the macros write its
# query data into $scratch/<crate>.
prepare() {
    local crate=$1 dir=$2 url=$3
    mkdir -p "$scratch/$crate"
    # The macros only run when the crate is recompiled: touch it so they do.
    touch "$dir/src/lib.rs"
    SQLX_OFFLINE=false DATABASE_URL="$url" SQLX_OFFLINE_DIR="$scratch/$crate" \
        cargo check --quiet --locked -p "$crate" --lib
    touch "$dir/src/lib.rs"
}

queries() { # the number of query files in a folder; a missing one has none
    if [[ -d "$1" ]]; then find "$1" -maxdepth 1 -type f | wc -l; else echo 0; fi
}

stale=()
# finish CRATE DIR : --check compares the fresh data with DIR/.sqlx; otherwise it replaces it.
finish() {
    local crate=$1 dir=$2 fresh="$scratch/$1" committed="$2/.sqlx" empty="$scratch/empty"
    if [[ "$mode" == check ]]; then
        mkdir -p "$empty"
        [[ -d "$committed" ]] || committed=$empty
        if ! diff -r "$fresh" "$committed" >/dev/null; then
            diff -r "$fresh" "$committed" | head -20 >&2 || true
            stale+=("$dir/.sqlx")
        else
            echo "sqlx offline data: $dir/.sqlx up to date ($(queries "$committed") queries)"
        fi
    else
        rm -rf "$committed"
        if [[ "$(queries "$fresh")" -gt 0 ]]; then
            cp -r "$fresh" "$committed"
            echo "wrote $committed ($(queries "$committed") queries)"
        else
            echo "$crate has no compile-checked queries: no $committed"
        fi
    fi
}

# zentro-core
sqlite_migrate "$scratch/core.sqlite" migrations/*.sql
prepare zentro-core crates/core "sqlite://$scratch/core.sqlite"
finish zentro-core crates/core

# zentro-relay-sqlite
if [[ "$mode" == dev ]]; then
    mkdir -p "$DEV_DIR"
    relay_sqlite="$DEV_DIR/relay.sqlite"
    rm -f "$relay_sqlite" "$relay_sqlite-wal" "$relay_sqlite-shm"
else
    relay_sqlite="$scratch/relay.sqlite"
fi
sqlite_migrate "$relay_sqlite" crates/relay-sqlite/migrations/*.sql
relay_sqlite_url="sqlite://$relay_sqlite"
prepare zentro-relay-sqlite crates/relay-sqlite "$relay_sqlite_url"
finish zentro-relay-sqlite crates/relay-sqlite

# zentro-relay-postgres
if [[ "$mode" == dev ]]; then
    pg_dir="$DEV_DIR/pg"
    # A fresh server, so the schema is exactly the migrations'.
    bash scripts/postgres.sh stop "$pg_dir" 2>/dev/null || true
    rm -rf "$pg_dir"
else
    pg_dir=$(mktemp -d)
fi
relay_postgres_url=$(bash scripts/postgres.sh start "$pg_dir" 2>"$scratch/postgres.log") || {
    cat "$scratch/postgres.log" >&2
    exit 1
}
postgres_migrate "$relay_postgres_url" crates/relay-postgres/migrations/*.sql
prepare zentro-relay-postgres crates/relay-postgres "$relay_postgres_url"
finish zentro-relay-postgres crates/relay-postgres

if [[ "$mode" == check && ${#stale[@]} -gt 0 ]]; then
    echo "stale: ${stale[*]}: run 'bash scripts/sqlx-prepare.sh' and commit the result." >&2
    exit 1
fi

if [[ "$mode" == dev ]]; then
    printf "DATABASE_URL='%s'\n" "$relay_sqlite_url" >crates/relay-sqlite/.env
    printf "DATABASE_URL='%s'\n" "$relay_postgres_url" >crates/relay-postgres/.env
    cat <<EOF
kept the relay's development databases, migrated:
  SQLite:     $relay_sqlite
  PostgreSQL: $relay_postgres_url (server in $pg_dir, running)
wrote crates/relay-sqlite/.env and crates/relay-postgres/.env (DATABASE_URL; ignored by git): builds
now check relay-sqlite and relay-postgres queries online against these databases.
After a migration change run --dev again. To go back to the committed offline data:
  rm crates/relay-sqlite/.env crates/relay-postgres/.env; bash scripts/postgres.sh stop $pg_dir
EOF
fi
