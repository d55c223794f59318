#!/usr/bin/env python3
"""Compares the relay's two schemas: SQLite's migrations (crates/relay-sqlite/migrations) applied to
a scratch file, and PostgreSQL's (crates/relay-postgres/migrations) applied to a database. Fails
(exit 1, one line per difference) unless both have the same tables, and per table:

- the same column names in the same order (what `SELECT *` and the row types rely on),
- the same NOT NULL columns and defaults (an identity column stands for SQLite's rowid id),
- the same primary keys and unique keys (a unique index on lower(col) stands for
  `col ... COLLATE NOCASE UNIQUE`),
- the same named indexes (name, columns, partial predicate),
- the same foreign keys (columns, target, ON DELETE),
- the same trigger names and the same rows (the seeded ones: health_probe);

and unless every migration past PostgreSQL's baseline (20261206080000) has its pair, with the same
version, on the other backend.

CHECK constraints are not compared. SQLite internals (sqlite_*, _sqlx_migrations) are ignored.

    python3 scripts/compare-relay-schemas.py                       # starts (and stops) a scratch
                                                                   # PostgreSQL with scripts/postgres.sh
    python3 scripts/compare-relay-schemas.py --postgres-url URL    # a database the PostgreSQL
                                                                   # migrations were applied to
"""
import argparse
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQLITE_MIGRATIONS = os.path.join(ROOT, "crates/relay-sqlite/migrations")
if not os.path.isdir(SQLITE_MIGRATIONS):  # before the crates were split
    SQLITE_MIGRATIONS = os.path.join(ROOT, "crates/relay/migrations")
POSTGRES_MIGRATIONS = os.path.join(ROOT, "crates/relay-postgres/migrations")


def norm_sql(text):
    """An expression or predicate with case, parentheses, casts and spacing ignored."""
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+", "", text.lower())
    text = text.replace("(", "").replace(")", "")
    return re.sub(r"\s+", " ", text).strip()


# ----- SQLite -----

def sqlite_schema(path):
    db = sqlite3.connect(path)
    for migration in sorted(glob.glob(os.path.join(SQLITE_MIGRATIONS, "*.sql"))):
        db.executescript(open(migration, encoding="utf-8").read())
    db.commit()
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name <> '_sqlx_migrations' ORDER BY name")]
    schema = {}
    for table in tables:
        t = {"columns": [], "notnull": set(), "defaults": {}, "uniques": set(), "indexes": {},
             "fks": set(), "triggers": set(), "rows": []}
        info = db.execute(f"PRAGMA table_info('{table}')").fetchall()
        pk = sorted((r[5], r[1]) for r in info if r[5])
        rowid_pk = len(pk) == 1 and any(r[1] == pk[0][1] and r[2].upper() == "INTEGER" for r in info)
        for _cid, name, _type, notnull, default, is_pk in info:
            t["columns"].append(name)
            # Primary key columns are NOT NULL in STRICT and WITHOUT ROWID tables and for rowid ids
            # (every relay table is one of these).
            if notnull or is_pk:
                t["notnull"].add(name)
            if rowid_pk and is_pk:
                t["defaults"][name] = "<generated id>"
            elif default is not None:
                t["defaults"][name] = norm_sql(default)
        if pk:
            t["uniques"].add(("PRIMARY KEY",) + tuple(name for _, name in pk))
        for _seq, index, unique, origin, partial in db.execute(f"PRAGMA index_list('{table}')"):
            keys = []
            for _seqno, _cid, name, _desc, coll, key in db.execute(f"PRAGMA index_xinfo('{index}')"):
                if key:
                    keys.append(f"lower({name})" if coll.upper() == "NOCASE" else name)
            if origin == "pk":
                continue  # the table's PRIMARY KEY, recorded above
            if unique:
                t["uniques"].add(tuple(keys))
            if origin == "c":
                sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                                 (index,)).fetchone()[0]
                where = re.search(r"\bWHERE\b(.*)$", sql, re.S | re.I) if partial else None
                t["indexes"][index] = (tuple(keys), bool(unique), norm_sql(where.group(1)) if where else None)
        fks = {}
        for fk_id, _seq, target, src, dst, _upd, on_delete, _match in db.execute(
                f"PRAGMA foreign_key_list('{table}')"):
            entry = fks.setdefault(fk_id, [target, [], [], on_delete.upper()])
            entry[1].append(src)
            entry[2].append(dst)
        for target, src, dst, on_delete in fks.values():
            t["fks"].add((tuple(src), target, tuple(dst), on_delete))
        t["triggers"] = {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))}
        rows = db.execute(f"SELECT * FROM \"{table}\"").fetchall()
        t["rows"] = sorted(tuple("" if v is None else str(v) for v in row) for row in rows)
        schema[table] = t
    return schema


# ----- PostgreSQL -----

SEP = "\x1f"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-X", "-At", "-F", SEP, "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split(SEP) for line in out.splitlines()]


ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def postgres_schema(url):
    schema = {}
    for (table,) in psql(url, "SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                              "AND table_name <> '_sqlx_migrations' ORDER BY 1"):
        schema[table] = {"columns": [], "notnull": set(), "defaults": {}, "uniques": set(),
                         "indexes": {}, "fks": set(), "triggers": set(), "rows": []}
    for table, name, nullable, default, identity in psql(
            url, "SELECT table_name, column_name, is_nullable, coalesce(column_default, ''), is_identity "
                 "FROM information_schema.columns WHERE table_schema = 'public' "
                 "ORDER BY table_name, ordinal_position"):
        if table not in schema:
            continue
        t = schema[table]
        t["columns"].append(name)
        if nullable == "NO":
            t["notnull"].add(name)
        if identity == "YES":
            t["defaults"][name] = "<generated id>"
        elif default:
            t["defaults"][name] = norm_sql(default)
    # Indexes: those backing a PRIMARY KEY / UNIQUE constraint, and the others.
    for table, index, unique, primary, constraint, nkeys, predicate in psql(url, """
            SELECT t.relname, i.relname, x.indisunique, x.indisprimary,
                   EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid),
                   x.indnkeyatts, coalesce(pg_get_expr(x.indpred, x.indrelid), '')
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                            JOIN pg_class t ON t.oid = x.indrelid
                            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = 'public' ORDER BY 1, 2"""):
        if table not in schema:
            continue
        keys = tuple(re.sub(r"\s+", "", r[0].lower()) for r in psql(url, f"""
            SELECT pg_get_indexdef('public."{index}"'::regclass, k, true)
            FROM generate_series(1, {int(nkeys)}) k ORDER BY k"""))
        t = schema[table]
        if primary == "t":
            t["uniques"].add(("PRIMARY KEY",) + keys)
        elif unique == "t" and (constraint == "t" or not predicate):
            # A unique constraint, or a unique index standing for one (lower(email)).
            t["uniques"].add(keys)
        else:
            t["indexes"][index] = (keys, unique == "t", norm_sql(predicate) or None)
    for table, src, target, dst, on_delete in psql(url, """
            SELECT t.relname,
                   (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
                   r.relname,
                   (SELECT string_agg(a.attname, ',' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n),
                   c.confdeltype
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
                                 JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE c.contype = 'f' AND n.nspname = 'public'"""):
        if table in schema:
            schema[table]["fks"].add((tuple(src.split(",")), target, tuple(dst.split(",")), ON_DELETE[on_delete]))
    for table, trigger in psql(url, """
            SELECT c.relname, g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT g.tgisinternal AND n.nspname = 'public'"""):
        if table in schema:
            schema[table]["triggers"].add(trigger)
    for table, t in schema.items():
        # Booleans never occur (SQLite has none); NULL and '' both print as '' on both sides.
        t["rows"] = sorted(tuple(row) for row in psql(url, f'SELECT * FROM "{table}"'))
    return schema


# ----- the comparison -----

def compare(lite, pg):
    problems = []
    for table in sorted(set(lite) - set(pg)):
        problems.append(f"table {table}: only on SQLite")
    for table in sorted(set(pg) - set(lite)):
        problems.append(f"table {table}: only on PostgreSQL")
    for table in sorted(set(lite) & set(pg)):
        a, b = lite[table], pg[table]
        if a["columns"] != b["columns"]:
            problems.append(f"table {table}: columns differ\n    SQLite:     {', '.join(a['columns'])}"
                            f"\n    PostgreSQL: {', '.join(b['columns'])}")
            continue
        for what in ("notnull", "defaults", "uniques", "fks", "triggers"):
            if a[what] != b[what]:
                problems.append(f"table {table}: {what} differ\n    SQLite:     {sorted(a[what], key=str) if not isinstance(a[what], dict) else a[what]}"
                                f"\n    PostgreSQL: {sorted(b[what], key=str) if not isinstance(b[what], dict) else b[what]}")
        for index in sorted(set(a["indexes"]) | set(b["indexes"])):
            if a["indexes"].get(index) != b["indexes"].get(index):
                problems.append(f"table {table}: index {index} differs\n    SQLite:     {a['indexes'].get(index)}"
                                f"\n    PostgreSQL: {b['indexes'].get(index)}")
        if a["rows"] != b["rows"]:
            problems.append(f"table {table}: rows differ\n    SQLite:     {a['rows']}\n    PostgreSQL: {b['rows']}")
    return problems


BASELINE = "20261206080000"


def migration_pairs():
    """After PostgreSQL's baseline (SQLite's schema up to its version), every schema change is a
    pair of files with one version: the versions past the baseline must be the same on both."""
    def versions(folder):
        return [os.path.basename(p).split("_", 1)[0] for p in sorted(glob.glob(os.path.join(folder, "*.sql")))]
    lite, pg = versions(SQLITE_MIGRATIONS), versions(POSTGRES_MIGRATIONS)
    problems = []
    if not pg or pg[0] != BASELINE:
        problems.append(f"PostgreSQL's first migration is not the baseline {BASELINE}")
    if BASELINE not in lite:
        problems.append(f"SQLite has no migration {BASELINE} (the baseline's version)")
    later_lite = [v for v in lite if v > BASELINE]
    later_pg = [v for v in pg if v > BASELINE]
    for v in sorted(set(later_lite) - set(later_pg)):
        problems.append(f"migration {v}: only on SQLite (a schema change is a pair of files)")
    for v in sorted(set(later_pg) - set(later_lite)):
        problems.append(f"migration {v}: only on PostgreSQL (a schema change is a pair of files)")
    return problems


def scratch_postgres():
    """Starts a PostgreSQL in a new temporary folder with scripts/postgres.sh (a folder of its own:
    the server may run as another account, which must reach it) and applies the migrations."""
    pg_dir = tempfile.mkdtemp()
    url = subprocess.run(["bash", os.path.join(ROOT, "scripts/postgres.sh"), "start", pg_dir],
                         check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    for migration in sorted(glob.glob(os.path.join(POSTGRES_MIGRATIONS, "*.sql"))):
        subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", migration],
                       check=True, stdout=subprocess.DEVNULL)
    return pg_dir, url


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", help="a database the PostgreSQL migrations were applied to")
    args = parser.parse_args()
    work = tempfile.mkdtemp()
    pg_dir = None
    try:
        url = args.postgres_url
        if not url:
            pg_dir, url = scratch_postgres()
        lite = sqlite_schema(os.path.join(work, "relay.sqlite"))
        pg = postgres_schema(url)
    finally:
        if pg_dir:
            subprocess.run(["bash", os.path.join(ROOT, "scripts/postgres.sh"), "stop", pg_dir], check=False)
            shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    problems = migration_pairs() + compare(lite, pg)
    for problem in problems:
        print(problem)
    if problems:
        print(f"relay schemas differ: {len(problems)} difference(s)", file=sys.stderr)
        return 1
    print(f"relay schemas match: {len(lite)} tables "
          f"({sum(len(t['columns']) for t in lite.values())} columns, "
          f"{sum(len(t['indexes']) for t in lite.values())} named indexes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
