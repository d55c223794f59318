//! The local cache: one SQLite file per workspace on the staff member's machine.
//!
//! Opened with WAL, a busy timeout and foreign keys on; the schema is migrated on open from the
//! migrations embedded at build time. A cache written by a newer app version (with migrations this
//! build does not know) is still opened: migrations are additive, so older code can read it.
//!
//! The WAL is copied back into the database file by a background task ([`Cache::checkpoint_soon`]),
//! never inside a writer's commit: applying a batch of synced messages would otherwise pay for
//! rewriting thousands of pages before it could return.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::Serialize;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{Notify, OnceCell};
use tokio::task::JoinHandle;

/// File name of the cache inside the app's data directory.
pub const CACHE_FILE_NAME: &str = "cache.sqlite";

/// The cache's migrations, embedded from the repository's `migrations/` folder.
///
/// Migrations this build does not know (applied by a newer app) are tolerated.
pub fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// What went wrong with the local cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory that holds the cache could not be created.
    #[error("could not create the cache folder {path}: {source}")]
    CreateDir {
        /// The folder that was to hold the cache.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The SQLite file could not be opened (permissions, a full disk, a corrupt file).
    #[error("could not open the cache at {path}: {source}")]
    Open {
        /// The SQLite file that would not open.
        path: PathBuf,
        /// SQLite's error.
        source: sqlx::Error,
    },
    /// Bringing the schema up to date failed; the cache was left as it was.
    #[error("could not update the cache schema: {0}")]
    Migrate(#[from] MigrateError),
    /// A query failed.
    #[error("cache query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Convenience alias for cache results.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// How many rows the cache holds, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CacheCounts {
    /// Connected channels (WhatsApp numbers, Pages, Instagram accounts).
    pub channels: u32,
    /// Customers, one per identity on a channel (linked identities count apart).
    pub contacts: u32,
    /// Conversations, open or not.
    pub conversations: u32,
    /// Messages in both directions, replies queued on this desk included.
    pub messages: u32,
}

/// A summary of the local cache, shown in the app's status bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    /// Absolute path of the SQLite file.
    pub path: String,
    /// Number of schema migrations applied to this file.
    pub schema_version: u32,
    /// Description of the newest applied migration.
    pub latest_migration: String,
    /// Whether the file holds migrations this build does not know (written by a newer app).
    pub written_by_newer_app: bool,
    /// Row counts.
    pub counts: CacheCounts,
}

/// An open cache.
#[derive(Debug, Clone)]
pub struct Cache {
    pool: SqlitePool,
    path: PathBuf,
    checkpointer: Arc<Checkpointer>,
}

/// How often the background task checkpoints when no writer asked for it sooner.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// WAL frames (4 KiB pages) past which a writer restarts the WAL before its next batch: under a
/// steady stream of batches the background checkpoint never catches the last frames, so the WAL
/// would otherwise grow by every page written for the whole catch-up (268 MB for 50,000 messages).
const WAL_RESTART_FRAMES: i64 = 8192;

/// How long a WAL restart waits for readers before it gives up until the next batch.
const WAL_RESTART_WAIT: Duration = Duration::from_millis(200);

/// How long a statement waits for the database to be free (another writer, a checkpoint).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the WAL file is cut back to once restarted (SQLite's `journal_size_limit`, bytes).
const WAL_SIZE_LIMIT: &str = "33554432";

/// The task that checkpoints the WAL off the writers' path; stopped when the last clone of its
/// [`Cache`] goes.
#[derive(Debug)]
struct Checkpointer {
    wake: Arc<Notify>,
    /// Frames in the WAL at the last background checkpoint.
    wal_frames: Arc<AtomicI64>,
    task: JoinHandle<()>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies what the WAL holds into the database file (PASSIVE: it never waits for or blocks
/// readers and writers) whenever woken and at least every [`CHECKPOINT_INTERVAL`].
async fn checkpoint_continuously(pool: SqlitePool, wake: Arc<Notify>, wal_frames: Arc<AtomicI64>) {
    loop {
        let _ = tokio::time::timeout(CHECKPOINT_INTERVAL, wake.notified()).await;
        if pool.is_closed() {
            return;
        }
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, frames, _)) => wal_frames.store(frames, Ordering::Relaxed),
            Err(error) => tracing::debug!(%error, "background checkpoint did not run"),
        }
    }
}

/// Environment variable overriding each connection's page cache, in KiB (benchmarks compare
/// sizes with it; the default is [`PAGE_CACHE_KIB`]).
pub const PAGE_CACHE_ENV: &str = "ZENTRO_CACHE_PAGE_CACHE_KIB";

/// Each connection's SQLite page cache, in KiB: 8 MiB. Over a million-message cache the four
/// connections filled 32 MiB each within seconds of start (~95 MiB more of the app's memory idle,
/// ~107 MiB more of the desk's after a simulated day); pages beyond come from the operating
/// system's file cache, which is shared and not the app's (ADR 0017, docs/benchmarks.md
/// "Footprint", run 4).
pub const PAGE_CACHE_KIB: u32 = 8 * 1024;

/// The `cache_size` pragma's value: negative, so SQLite reads it as KiB.
fn page_cache_size() -> String {
    let kib = std::env::var(PAGE_CACHE_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&kib| kib >= 256)
        .unwrap_or(PAGE_CACHE_KIB);
    format!("-{kib}")
}

impl Cache {
    /// Opens (creating it if needed) the cache file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| CacheError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Page cache per connection (PAGE_CACHE_KIB, or the benchmark's override).
            .pragma("cache_size", page_cache_size())
            // Statement journals (kept for every multi-row statement that could fail half-way) in
            // memory rather than in temporary files.
            .pragma("temp_store", "memory")
            // Checkpoints are the background task's job, not a committing writer's.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", WAL_SIZE_LIMIT)
            // Deleted content is overwritten with zeros, so an erased customer leaves no bytes behind.
            .pragma("secure_delete", "on");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| CacheError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        migrator().run(&pool).await?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        tracing::info!(path = %path.display(), "cache opened");
        let wake = Arc::new(Notify::new());
        let wal_frames = Arc::new(AtomicI64::new(0));
        let task = tokio::spawn(checkpoint_continuously(
            pool.clone(),
            wake.clone(),
            wal_frames.clone(),
        ));
        Ok(Self {
            pool,
            path,
            checkpointer: Arc::new(Checkpointer {
                wake,
                wal_frames,
                task,
            }),
        })
    }

    /// Opens the cache kept in the app data directory `data_dir`.
    pub async fn open_in(data_dir: &Path) -> Result<Self> {
        Self::open(&data_dir.join(CACHE_FILE_NAME)).await
    }

    /// The connection pool, for the modules that read and write the cache.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Before a large write: if the WAL has grown past [`WAL_RESTART_FRAMES`], checkpoints what
    /// the background task has not yet copied and restarts the WAL, so the next writes reuse its
    /// start instead of growing the file. It waits at most [`WAL_RESTART_WAIT`] for readers still
    /// using the WAL (a long export, say); a restart that cannot happen is left to the next time.
    pub async fn restart_wal_if_large(&self) {
        if self.checkpointer.wal_frames.load(Ordering::Relaxed) < WAL_RESTART_FRAMES {
            return;
        }
        self.checkpointer.wal_frames.store(0, Ordering::Relaxed);
        let restarted = async {
            let mut connection = self.pool.acquire().await?;
            let wait = format!("PRAGMA busy_timeout = {}", WAL_RESTART_WAIT.as_millis());
            sqlx::query(&wait).execute(&mut *connection).await?;
            let result = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                .execute(&mut *connection)
                .await;
            let back = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
            sqlx::query(&back).execute(&mut *connection).await?;
            result.map(|_| ())
        };
        if let Err(error) = restarted.await {
            tracing::debug!(%error, "restarting the WAL did not happen");
        }
    }

    /// Asks the background task to checkpoint now (after a large write, such as a synced batch),
    /// rather than at its next interval.
    pub fn checkpoint_soon(&self) {
        self.checkpointer.wake.notify_one();
    }

    /// Gives back the page cache of every connection no one is using (`PRAGMA shrink_memory`):
    /// over a large cache each of the four fills its [`PAGE_CACHE_KIB`] within seconds, and keeps
    /// it while the desk sits idle (docs/benchmarks.md "Footprint", run 5). A connection in use is
    /// left alone; the next read of a released one comes from the operating system's file cache.
    /// Returns how many connections were released.
    pub async fn release_memory(&self) -> usize {
        // Every idle connection at once (held, so the pool cannot hand the same one back twice);
        // `try_acquire` opens none and waits for none.
        let mut idle = Vec::new();
        while let Some(connection) = self.pool.try_acquire() {
            idle.push(connection);
        }
        let mut released = 0;
        // Each goes back to the pool as soon as it shrank, for a query waiting for one.
        for mut connection in idle {
            match sqlx::query("PRAGMA shrink_memory")
                .execute(&mut *connection)
                .await
            {
                Ok(_) => released += 1,
                Err(error) => tracing::debug!(%error, "a cache connection kept its page cache"),
            }
        }
        released
    }

    /// Where the cache file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Summarises the cache: file, schema version and row counts.
    pub async fn status(&self) -> Result<CacheStatus> {
        // sqlx's own bookkeeping table is not part of our schema, so this one query is unchecked.
        let applied: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        let known: Vec<i64> = migrator().iter().map(|m| m.version).collect();
        let written_by_newer_app = applied.iter().any(|(v, _)| !known.contains(v));
        let counts = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM channels) AS "channels!: i64", (SELECT count(*) FROM contacts) AS "contacts!: i64",
                      (SELECT count(*) FROM conversations) AS "conversations!: i64", (SELECT count(*) FROM messages) AS "messages!: i64""#
        )
        .fetch_one(&self.pool)
        .await?;
        let (channels, contacts, conversations, messages) = (
            counts.channels,
            counts.contacts,
            counts.conversations,
            counts.messages,
        );
        Ok(CacheStatus {
            path: self.path.display().to_string(),
            schema_version: saturating_u32(applied.len() as i64),
            latest_migration: applied.last().map(|(_, d)| d.clone()).unwrap_or_default(),
            written_by_newer_app,
            counts: CacheCounts {
                channels: saturating_u32(channels),
                contacts: saturating_u32(contacts),
                conversations: saturating_u32(conversations),
                messages: saturating_u32(messages),
            },
        })
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(self) {
        self.checkpointer.task.abort();
        self.pool.close().await;
    }
}

fn saturating_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A cache that is opened on first use, so a failure to open it (a full disk, a locked file) is
/// reported to whoever asked, and the next request tries again.
#[derive(Debug)]
pub struct LazyCache {
    path: PathBuf,
    cell: OnceCell<Cache>,
}

impl LazyCache {
    /// A cache to be opened at `data_dir`/[`CACHE_FILE_NAME`].
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(CACHE_FILE_NAME),
            cell: OnceCell::new(),
        }
    }

    /// The open cache, opening it now if this is the first use or the last attempt failed.
    pub async fn get(&self) -> Result<&Cache> {
        self.cell.get_or_try_init(|| Cache::open(&self.path)).await
    }

    /// The cache, if it has been opened.
    pub fn opened(&self) -> Option<&Cache> {
        self.cell.get()
    }

    /// Closes the cache if it was opened (before its files are deleted).
    pub async fn close(&self) {
        if let Some(cache) = self.cell.get() {
            cache.checkpointer.task.abort();
            cache.pool.close().await;
        }
    }
}
