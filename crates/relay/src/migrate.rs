//! `zentro-relay migrate --to postgres://…`: moves a stopped SQLite relay's data into PostgreSQL,
//! and proves it arrived (ADR 0012, section 8).
//!
//! The target is migrated (`zentro_relay_postgres::MIGRATOR`) and must hold no workspace. Then
//! every table of the SQLite schema (all but `_sqlx_migrations`) is copied in foreign-key order,
//! inside ONE PostgreSQL transaction, from ONE SQLite read transaction (a snapshot), in chunks of
//! rows paged by primary key ([`CHUNK_ROWS`] rows or about [`CHUNK_BYTES`], whichever comes first:
//! an events table of millions of rows, or large file bodies, are never in memory at once).
//! Values are kept as they are: seqs, `at`, `last_seq`, ids, `channel_id` (the tables' user
//! triggers, `events_channel` among them, are disabled for the copy, inside the transaction),
//! sealed tokens (the same key opens them). Identity sequences (`quarantine.id`, `audit_log.id`,
//! `health_probe.id`) are then set to the largest id copied. Before committing, it verifies:
//! row counts per table, and per workspace `last_seq`, `max(seq)`, the number of events and a
//! SHA-256 over `seq|dedup_key\n` in seq order, read back on both sides. Any difference rolls
//! everything back; the target is then as it was.
//!
//! **Why one generic copy rather than a statement pair per table.** The column list of each table
//! is read from both schemas (SQLite's `pragma table_info`, PostgreSQL's
//! `information_schema.columns`) and must be the same set, else the copy stops with the table and
//! the columns that differ. A hand-written `SELECT`/`INSERT` pair per table would silently drop a
//! column added later by a migration pair and forgotten here; this copy cannot, and a new table
//! is copied without any change here. The statements are therefore built at run time from those
//! names (quoted), which the rest of the relay never does (its SQL is compile-checked per
//! backend): that is the reason, and the only place.
//!
//! Values are bound by their SQLite storage type (INTEGER as `i64`, REAL as `f64`, TEXT as
//! `String`, BLOB as bytes); a NULL is bound as a null of the PostgreSQL column's type.
//!
//! The SQLite database is migrated first to this relay's schema (as starting the relay would), so
//! both schemas are of the same version. The relay must be stopped: what it would write after the
//! snapshot would not be copied. Messages name the target without its password
//! ([`redact_url`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row, TypeInfo, ValueRef};

use crate::store::{DATABASE_FILE, redact_url};

/// Most rows read from SQLite and inserted into PostgreSQL at once, by default (fewer for wide
/// tables, so one insert stays under PostgreSQL's 65,535 bound parameters); also the page size of
/// the verification's reads of each log.
pub const CHUNK_ROWS: usize = 1000;

/// Most bytes of values one chunk holds (it ends after the row that reaches this).
pub const CHUNK_BYTES: usize = 16 << 20;

/// Tables never copied: each backend keeps its own migration history.
const NOT_COPIED: &[&str] = &["_sqlx_migrations"];

/// Tables whose rows a freshly migrated target may already hold, replaced by the source's: the
/// seeded health probe row, and leases a relay started on the target may have taken.
const REPLACED: &[&str] = &["health_probe", "leases"];

/// What a migration copied and verified (printed by `zentro-relay migrate`).
#[derive(Debug, Clone)]
pub struct Report {
    /// The SQLite database copied from.
    pub source: String,
    /// The PostgreSQL database copied into, without its password.
    pub target: String,
    /// Each table copied, in the order copied, with its number of rows (equal on both sides).
    pub tables: Vec<(String, u64)>,
    /// Identity sequences set after the copy: `table.column` and the value set.
    pub sequences: Vec<(String, i64)>,
    /// Tables only PostgreSQL has (nothing to copy into them).
    pub postgres_only: Vec<String>,
    /// Per workspace, what both databases agreed on.
    pub workspaces: Vec<WorkspaceCheck>,
}

/// One workspace's event log, summarised the same way on both databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceCheck {
    /// The workspace's id.
    pub workspace_id: String,
    /// `workspaces.last_seq`: the last seq the sequencer gave out.
    pub last_seq: i64,
    /// The largest seq in its log (0 when empty).
    pub max_seq: i64,
    /// How many events its log holds.
    pub events: u64,
    /// SHA-256 (hex) over `seq|dedup_key\n` of every event, in seq order.
    pub hash: String,
}

/// One value as SQLite stored it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    /// About how much memory the value holds.
    fn size(&self) -> usize {
        match self {
            Self::Text(v) => v.len() + 8,
            Self::Blob(v) => v.len() + 8,
            _ => 8,
        }
    }
}

/// The type of a PostgreSQL column, for binding a NULL into it.
#[derive(Debug, Clone, Copy)]
enum PgType {
    Integer,
    Real,
    Text,
    Bytes,
}

/// One table to copy: its columns (SQLite's order) and the columns that page it.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    columns: Vec<String>,
    /// PostgreSQL's type of each column, in `columns` order.
    types: Vec<PgType>,
    /// The primary key's columns, in key order; `rowid` when the table declares none.
    key: Vec<String>,
}

/// Copies the SQLite relay database in `data_dir` into the PostgreSQL database at `to` (see the
/// module's documentation), verifies the copy, commits, and reports what it did. Fails, leaving
/// the target as it was, when the source is missing, the target holds a workspace, the schemas
/// differ, or the verification finds any difference. `chunk_rows` (at least 1; normally
/// [`CHUNK_ROWS`]) bounds the rows held in memory at once.
pub async fn migrate(data_dir: &Path, to: &str, chunk_rows: usize) -> anyhow::Result<Report> {
    let chunk_rows = chunk_rows.max(1);
    let path = data_dir.join(DATABASE_FILE);
    if !path.is_file() {
        bail!(
            "there is no SQLite relay database at {}: give the stopped relay's data directory \
             with --data-dir (or ZENTRO_RELAY_DATA_DIR)",
            path.display()
        );
    }
    let target = redact_url(to);
    let mut sqlite = open_source(&path).await?;
    let mut pg = PgConnection::connect(to)
        .await
        .map_err(|e| anyhow!("could not connect to {target}: {e}"))?;
    refuse_unless_empty(&mut pg, &target).await?;
    zentro_relay_postgres::MIGRATOR
        .run(&mut pg)
        .await
        .with_context(|| format!("could not migrate the target {target}"))?;
    let mut dst = pg.begin().await?;
    refuse_unless_empty(&mut dst, &target).await?;
    let mut src = sqlite.begin().await?;
    let (tables, postgres_only) = plan(&mut src, &mut dst).await?;
    let copied = copy_all(&mut src, &mut dst, &tables, chunk_rows).await?;
    let sequences = reset_sequences(&mut dst).await?;
    verify_counts(&mut src, &mut dst, &copied).await?;
    let workspaces = verify_workspaces(&mut src, &mut dst, chunk_rows).await?;
    src.rollback().await?;
    dst.commit()
        .await
        .with_context(|| format!("could not commit the copy into {target}"))?;
    Ok(Report {
        source: path.display().to_string(),
        target,
        tables: copied,
        sequences,
        postgres_only,
        workspaces,
    })
}

/// Opens the source (never creating it) and brings its schema to this relay's version.
async fn open_source(path: &Path) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(5));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("could not open {}", path.display()))?;
    zentro_relay_sqlite::MIGRATOR
        .run(&mut conn)
        .await
        .with_context(|| {
            format!(
                "could not migrate {} to this relay's schema",
                path.display()
            )
        })?;
    Ok(conn)
}

/// Refuses a target that holds a workspace (it would mix two relays' data). Checked before the
/// target is migrated (so a refused target is left as it was; one without the relay's tables
/// passes) and again inside the copy's transaction.
async fn refuse_unless_empty(dst: &mut PgConnection, target: &str) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('workspaces') IS NOT NULL")
        .fetch_one(&mut *dst)
        .await?;
    if !exists {
        return Ok(());
    }
    let workspaces: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces")
        .fetch_one(&mut *dst)
        .await?;
    if workspaces > 0 {
        bail!(
            "the target {target} already holds {workspaces} workspace(s): migrate copies into an \
             empty relay database only and never merges two relays; nothing was changed. Give it \
             a new, empty PostgreSQL database (CREATE DATABASE …) in --to"
        );
    }
    Ok(())
}

/// Quotes an identifier for either database.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables to copy in foreign-key order, each with its columns checked against PostgreSQL's;
/// and the tables only PostgreSQL has.
async fn plan(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
) -> anyhow::Result<(Vec<Table>, Vec<String>)> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )
    .fetch_all(&mut *src)
    .await?;
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !NOT_COPIED.contains(&n.as_str()))
        .collect();
    let pg_columns = postgres_columns(dst).await?;
    let mut tables = Vec::new();
    for name in foreign_key_order(src, names).await? {
        let Some(pg) = pg_columns.get(&name) else {
            bail!(
                "the table {name} of the SQLite database does not exist on PostgreSQL: its rows \
                 would be lost; this relay's migrations for the two backends differ (a missing \
                 migration pair), so nothing was copied"
            );
        };
        tables.push(sqlite_table(src, &name, pg).await?);
    }
    let mut postgres_only: Vec<String> = pg_columns
        .into_keys()
        .filter(|n| !NOT_COPIED.contains(&n.as_str()) && !tables.iter().any(|t| &t.name == n))
        .collect();
    postgres_only.sort();
    Ok((tables, postgres_only))
}

/// Every PostgreSQL table of the current schema, with its columns' names and types.
async fn postgres_columns(
    dst: &mut PgConnection,
) -> anyhow::Result<HashMap<String, HashMap<String, String>>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut *dst)
    .await?;
    let mut tables: HashMap<String, HashMap<String, String>> = HashMap::new();
    for (table, column, data_type) in rows {
        tables.entry(table).or_default().insert(column, data_type);
    }
    Ok(tables)
}

/// `names` ordered so that every table comes after the tables its foreign keys refer to (ties in
/// SQLite's creation order).
async fn foreign_key_order(
    src: &mut SqliteConnection,
    names: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let mut parents: HashMap<String, BTreeSet<String>> = HashMap::new();
    for name in &names {
        let referred: Vec<String> =
            sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list(?)")
                .bind(name)
                .fetch_all(&mut *src)
                .await?;
        let referred = referred
            .into_iter()
            .filter(|p| p != name && names.contains(p))
            .collect();
        parents.insert(name.clone(), referred);
    }
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < names.len() {
        let next = names.iter().find(|n| {
            !ordered.contains(*n) && parents[n.as_str()].iter().all(|p| ordered.contains(p))
        });
        match next {
            Some(n) => ordered.push(n.clone()),
            None => bail!("the SQLite tables' foreign keys form a cycle; cannot order the copy"),
        }
    }
    Ok(ordered)
}

/// A SQLite table's columns and key, checked against PostgreSQL's columns `pg` of the same table.
async fn sqlite_table(
    src: &mut SqliteConnection,
    name: &str,
    pg: &HashMap<String, String>,
) -> anyhow::Result<Table> {
    let info: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid")
            .bind(name)
            .fetch_all(&mut *src)
            .await?;
    let columns: Vec<String> = info.iter().map(|(c, _)| c.clone()).collect();
    let only_sqlite: Vec<&String> = columns.iter().filter(|c| !pg.contains_key(*c)).collect();
    let mut only_pg: Vec<&String> = pg.keys().filter(|c| !columns.contains(*c)).collect();
    only_pg.sort();
    if !only_sqlite.is_empty() || !only_pg.is_empty() {
        bail!(
            "the table {name} has different columns on the two databases (only on SQLite: \
             {only_sqlite:?}; only on PostgreSQL: {only_pg:?}): copying it would lose data, so \
             nothing was copied; the two backends' migrations must be brought to the same schema"
        );
    }
    let types = columns
        .iter()
        .map(|c| pg_type(name, c, &pg[c]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut keyed: Vec<&(String, i64)> = info.iter().filter(|(_, pk)| *pk > 0).collect();
    keyed.sort_by_key(|(_, pk)| *pk);
    let mut key: Vec<String> = keyed.into_iter().map(|(c, _)| c.clone()).collect();
    if key.is_empty() {
        key.push("rowid".into());
    }
    Ok(Table {
        name: name.to_string(),
        columns,
        types,
        key,
    })
}

/// The binding type of a PostgreSQL column of type `data_type`.
fn pg_type(table: &str, column: &str, data_type: &str) -> anyhow::Result<PgType> {
    Ok(match data_type {
        "bigint" | "integer" | "smallint" => PgType::Integer,
        "double precision" | "real" => PgType::Real,
        "text" | "character varying" | "character" => PgType::Text,
        "bytea" => PgType::Bytes,
        other => bail!(
            "{table}.{column} is of type {other} on PostgreSQL, which migrate cannot copy into"
        ),
    })
}

/// Copies every table in order, with their user triggers disabled; returns each one's rows.
async fn copy_all(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    tables: &[Table],
    chunk_rows: usize,
) -> anyhow::Result<Vec<(String, u64)>> {
    for table in tables {
        prepare_target(dst, &table.name).await?;
    }
    let mut copied = Vec::new();
    for table in tables {
        let rows = copy_table(src, dst, table, chunk_rows)
            .await
            .with_context(|| format!("copying the table {}", table.name))?;
        copied.push((table.name.clone(), rows));
    }
    for table in tables {
        let enable = format!("ALTER TABLE {} ENABLE TRIGGER USER", quoted(&table.name));
        sqlx::query(&enable).execute(&mut *dst).await?;
    }
    Ok(copied)
}

/// Empties a [`REPLACED`] table, refuses any other that holds rows, and disables the table's user
/// triggers (`events_channel`: the copy keeps `channel_id` as it was) until the end of the copy.
async fn prepare_target(dst: &mut PgConnection, table: &str) -> anyhow::Result<()> {
    let name = quoted(table);
    if REPLACED.contains(&table) {
        sqlx::query(&format!("DELETE FROM {name}"))
            .execute(&mut *dst)
            .await?;
    } else {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {name})");
        let held: bool = sqlx::query_scalar(&sql).fetch_one(&mut *dst).await?;
        if held {
            bail!(
                "the target's table {table} already holds rows: migrate copies into an empty relay \
                 database only; nothing was changed. Give it a new, empty PostgreSQL database"
            );
        }
    }
    let disable = format!("ALTER TABLE {name} DISABLE TRIGGER USER");
    sqlx::query(&disable).execute(&mut *dst).await?;
    Ok(())
}

/// Copies one table chunk by chunk, paging SQLite by the table's key; returns the rows copied.
async fn copy_table(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    table: &Table,
    chunk_rows: usize,
) -> anyhow::Result<u64> {
    let chunk = chunk_rows.min(60_000 / table.columns.len().max(1)).max(1);
    let mut after: Option<Vec<Value>> = None;
    let mut copied = 0;
    loop {
        let rows = read_chunk(src, table, after.as_deref(), chunk).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last[table.columns.len()..].to_vec());
        insert_chunk(dst, table, &rows).await?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// Up to `limit` rows of `table` after the key `after`, in key order: the columns, then the key.
/// Stops early, after at least one row, once the rows hold [`CHUNK_BYTES`] (shared files' bodies
/// are large); empty only at the end of the table.
async fn read_chunk(
    src: &mut SqliteConnection,
    table: &Table,
    after: Option<&[Value]>,
    limit: usize,
) -> anyhow::Result<Vec<Vec<Value>>> {
    let select: Vec<String> = table
        .columns
        .iter()
        .chain(&table.key)
        .map(|c| quoted(c))
        .collect();
    let key: Vec<String> = table.key.iter().map(|c| quoted(c)).collect();
    let key = key.join(", ");
    let filter = match after {
        Some(values) => format!("WHERE ({key}) > ({})", vec!["?"; values.len()].join(", ")),
        None => String::new(),
    };
    let sql = format!(
        "SELECT {} FROM {} {filter} ORDER BY {key} LIMIT {limit}",
        select.join(", "),
        quoted(&table.name)
    );
    let mut query = sqlx::query(&sql);
    for value in after.unwrap_or_default() {
        query = match value.clone() {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(v) => query.bind(v),
            Value::Real(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Blob(v) => query.bind(v),
        };
    }
    let mut stream = query.fetch(&mut *src);
    let (mut rows, mut bytes) = (Vec::new(), 0);
    while bytes < CHUNK_BYTES
        && let Some(row) = stream.try_next().await?
    {
        let values = (0..select.len())
            .map(|i| read_value(&row, i))
            .collect::<anyhow::Result<Vec<Value>>>()?;
        bytes += values.iter().map(Value::size).sum::<usize>();
        rows.push(values);
    }
    Ok(rows)
}

/// The value in column `i` of a SQLite row, by its storage type.
fn read_value(row: &SqliteRow, i: usize) -> anyhow::Result<Value> {
    let storage = {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        raw.type_info().name().to_string()
    };
    Ok(match storage.as_str() {
        "INTEGER" => Value::Integer(row.try_get_unchecked(i)?),
        "REAL" => Value::Real(row.try_get_unchecked(i)?),
        "TEXT" => Value::Text(row.try_get_unchecked(i)?),
        "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
        other => bail!("a value of SQLite storage type {other}, which migrate cannot copy"),
    })
}

/// Inserts rows (as [`read_chunk`] returns them: the key's values at the end are left out) in
/// one statement.
async fn insert_chunk(
    dst: &mut PgConnection,
    table: &Table,
    rows: &[Vec<Value>],
) -> anyhow::Result<()> {
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "INSERT INTO {} ({}) ",
        quoted(&table.name),
        columns.join(", ")
    ));
    insert.push_values(rows, |mut tuple, row| {
        for (value, pg) in row.iter().zip(&table.types) {
            bind_value(&mut tuple, value, *pg);
        }
    });
    insert.build().execute(&mut *dst).await?;
    Ok(())
}

/// Binds one value by its SQLite storage type (a NULL: of the PostgreSQL column's type).
fn bind_value(
    tuple: &mut sqlx::query_builder::Separated<'_, '_, Postgres, &'static str>,
    value: &Value,
    pg: PgType,
) {
    match (value, pg) {
        (Value::Null, PgType::Integer) => tuple.push_bind(None::<i64>),
        (Value::Null, PgType::Real) => tuple.push_bind(None::<f64>),
        (Value::Null, PgType::Text) => tuple.push_bind(None::<String>),
        (Value::Null, PgType::Bytes) => tuple.push_bind(None::<Vec<u8>>),
        (Value::Integer(v), _) => tuple.push_bind(*v),
        (Value::Real(v), _) => tuple.push_bind(*v),
        (Value::Text(v), _) => tuple.push_bind(v.clone()),
        (Value::Blob(v), _) => tuple.push_bind(v.clone()),
    };
}

/// Sets every identity (or serial) sequence of the target to the largest id of its column (or
/// back to its start when the table is empty); returns `table.column` and the value set.
async fn reset_sequences(dst: &mut PgConnection) -> anyhow::Result<Vec<(String, i64)>> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema()
           AND pg_get_serial_sequence(quote_ident(table_name::text), column_name::text) IS NOT NULL
         ORDER BY table_name, column_name",
    )
    .fetch_all(&mut *dst)
    .await?;
    let mut set = Vec::new();
    for (table, column) in columns {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max({c}), 1), max({c}) IS NOT NULL)
             FROM {t}",
            c = quoted(&column),
            t = quoted(&table)
        );
        let value: i64 = sqlx::query_scalar(&sql)
            .bind(quoted(&table))
            .bind(&column)
            .fetch_one(&mut *dst)
            .await?;
        set.push((format!("{table}.{column}"), value));
    }
    Ok(set)
}

/// Checks that every copied table holds as many rows on PostgreSQL as on SQLite.
async fn verify_counts(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    copied: &[(String, u64)],
) -> anyhow::Result<()> {
    let mut differences = Vec::new();
    for (table, rows) in copied {
        let sql = format!("SELECT count(*) FROM {}", quoted(table));
        let on_sqlite: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *src).await?;
        let on_pg: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *dst).await?;
        if on_sqlite != on_pg || on_pg as u64 != *rows {
            differences.push(format!(
                "{table}: {on_sqlite} rows on SQLite, {on_pg} on PostgreSQL, {rows} copied"
            ));
        }
    }
    if !differences.is_empty() {
        bail!(
            "verification failed, nothing was committed: {}",
            differences.join("; ")
        );
    }
    Ok(())
}

/// Checks each workspace's log on both databases (see [`WorkspaceCheck`]); returns them.
async fn verify_workspaces(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    chunk_rows: usize,
) -> anyhow::Result<Vec<WorkspaceCheck>> {
    let sql = "SELECT id, last_seq FROM workspaces ORDER BY id";
    let on_sqlite: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut *src).await?;
    let on_pg: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(&mut *dst).await?;
    if on_sqlite != on_pg {
        bail!(
            "verification failed, nothing was committed: the workspaces or their last_seq differ"
        );
    }
    let mut checks = Vec::new();
    for (id, last_seq) in on_sqlite {
        let (max_seq, events, hash) = sqlite_log_digest(src, &id, chunk_rows).await?;
        let expected = WorkspaceCheck {
            workspace_id: id.clone(),
            last_seq,
            max_seq,
            events,
            hash,
        };
        let (max_seq, events, hash) = postgres_log_digest(dst, &id, chunk_rows).await?;
        let found = WorkspaceCheck {
            max_seq,
            events,
            hash,
            ..expected.clone()
        };
        if found != expected {
            bail!(
                "verification failed, nothing was committed: the log of workspace {id} differs \
                 (SQLite: {expected:?}; PostgreSQL: {found:?})"
            );
        }
        checks.push(expected);
    }
    Ok(checks)
}

/// Adds a chunk of `(seq, dedup_key)` to a digest; returns the last seq, if any.
fn digest_chunk(hash: &mut Sha256, rows: &[(i64, String)]) -> Option<i64> {
    for (seq, dedup_key) in rows {
        hash.update(format!("{seq}|{dedup_key}\n").as_bytes());
    }
    rows.last().map(|(seq, _)| *seq)
}

/// A workspace's log on SQLite: max(seq), its number of events and their digest.
async fn sqlite_log_digest(
    src: &mut SqliteConnection,
    workspace: &str,
    chunk_rows: usize,
) -> anyhow::Result<(i64, u64, String)> {
    let (mut hash, mut after, mut events) = (Sha256::new(), 0, 0);
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, dedup_key FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(workspace)
        .bind(after)
        .bind(chunk_rows as i64)
        .fetch_all(&mut *src)
        .await?;
        events += rows.len() as u64;
        match digest_chunk(&mut hash, &rows) {
            Some(last) => after = last,
            None => break,
        }
    }
    Ok((after, events, hex::encode(hash.finalize())))
}

/// A workspace's log on PostgreSQL: max(seq), its number of events and their digest.
async fn postgres_log_digest(
    dst: &mut PgConnection,
    workspace: &str,
    chunk_rows: usize,
) -> anyhow::Result<(i64, u64, String)> {
    let (mut hash, mut after, mut events) = (Sha256::new(), 0, 0);
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, dedup_key FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(workspace)
        .bind(after)
        .bind(chunk_rows as i64)
        .fetch_all(&mut *dst)
        .await?;
        events += rows.len() as u64;
        match digest_chunk(&mut hash, &rows) {
            Some(last) => after = last,
            None => break,
        }
    }
    Ok((after, events, hex::encode(hash.finalize())))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Copied {} into {} (one transaction, committed).",
            self.source, self.target
        )?;
        writeln!(f)?;
        writeln!(f, "{:<24} {:>12}", "table", "rows")?;
        for (table, rows) in &self.tables {
            writeln!(f, "{table:<24} {rows:>12}")?;
        }
        let total: u64 = self.tables.iter().map(|(_, rows)| rows).sum();
        writeln!(f, "{:<24} {total:>12}", "total")?;
        if !self.postgres_only.is_empty() {
            writeln!(
                f,
                "(only on PostgreSQL, nothing to copy: {})",
                self.postgres_only.join(", ")
            )?;
        }
        for (column, value) in &self.sequences {
            writeln!(f, "identity {column} set to {value}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Verified before committing: row counts equal in all {} tables;",
            self.tables.len()
        )?;
        writeln!(f, "per workspace, equal on SQLite and PostgreSQL:")?;
        writeln!(
            f,
            "{:<34} {:>10} {:>10} {:>10}  sha256(seq|dedup_key)",
            "workspace", "last_seq", "max(seq)", "events"
        )?;
        for w in &self.workspaces {
            writeln!(
                f,
                "{:<34} {:>10} {:>10} {:>10}  {}",
                w.workspace_id, w.last_seq, w.max_seq, w.events, w.hash
            )?;
        }
        Ok(())
    }
}
