//! The relay's storage, on SQLite (one file in the data directory, WAL, `synchronous=FULL`; the
//! default) or PostgreSQL (several relay instances on one database): ADR 0012.
//!
//! Handlers and the sequencer reach the database only through [`Store`] and the writer's
//! [`WriteTx`]; neither says which backend it runs on. The SQL lives twice, once per backend, in
//! `zentro-relay-sqlite` and `zentro-relay-postgres` (compile-checked, with committed offline
//! data): one function per statement, of the same name and signature in both, which this module
//! calls through [`sql!`](crate::sql) and composes (transactions, audit entries, routing).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};
use zentro_events::clock::{now_ms, random_id};

mod access;
mod assist;
mod automation;
mod campaigns;
mod channels;
mod connections;
mod consent;
mod gaps;
mod leases;
mod rate_limits;
mod shared_files;
mod signup_pages;
mod team;
mod templates;

pub use access::{ReadablePage, RotationAdvice};
pub use assist::{AssistRow, AssistUse};
pub use automation::{
    AutomatedMessage, MessageStateChange, PRESENCE_WINDOW, PresenceRow, SaveOutcome, SavedSetup,
    Savepoint,
};
// The automation worker composes these into its own transactions.
pub(crate) use automation::{
    erase_automation_of_in, finish_automated_messages_in, queue_automated_messages_in,
    save_automation_conversations_in, save_automation_progress_in, savepoint_in,
    set_automated_messages_state_in,
};
// The consent worker composes these into its own transactions; erasures remove consent.
pub(crate) use campaigns::{
    erase_recipients_of_in, mark_replied_in, recipient_in, save_campaign_cursor_in,
    see_statuses_in, update_recipient_in,
};
pub use channels::{ChannelView, SealedToken};
pub use connections::{ChannelHealth, Signup, SignupRefusal, SignupState};
pub(crate) use consent::{erase_consent_of_in, save_consent_cursor_in, save_consents_in};
pub use gaps::{ErasureReceipt, Gap, LAST_USE_RESOLUTION, SessionUse};
pub use leases::Lease;
pub use shared_files::{SharedFile, SharedUsage};
pub use signup_pages::SignupPage;
pub use team::{AuditEntry, Device, NewAuditEntry};
pub use templates::TemplateRow;
pub use zentro_relay_store::campaigns::{CampaignRow, ReceivedRow, RecipientRow};
pub use zentro_relay_store::consent::{ConsentRow, NewConsent};
pub use zentro_relay_store::{
    Channel, ChannelKind, Credentials, Member, MemberSummary, NewEvent, QuarantineEntry,
    SessionContext, StoredEvent, Workspace,
};

/// Runs one backend function on a [`Connection`]: `sql!(conn, module::function(args…))` calls
/// `zentro_relay_sqlite::module::function(c, args…)` or its PostgreSQL twin, and awaits it.
#[macro_export]
#[doc(hidden)]
macro_rules! sql {
    ($conn:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {
        match $conn {
            $crate::store::Connection::Sqlite(c) => {
                zentro_relay_sqlite::$module::$function(c, $($arg),*).await
            }
            $crate::store::Connection::Postgres(c) => {
                zentro_relay_postgres::$module::$function(c, $($arg),*).await
            }
        }
    };
}

/// Runs one backend function on a connection from the store's pool (a read, or a write that needs
/// no transaction): `read!(self, module::function(args…))`.
#[macro_export]
#[doc(hidden)]
macro_rules! read {
    ($store:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {{
        let mut pooled = $store.acquire().await?;
        $crate::sql!(pooled.conn(), $module::$function($($arg),*))
    }};
}

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "relay.sqlite";

/// Most events one pruning transaction deletes: about 20 ms of writer lock here, fsync included.
pub const PRUNE_CHUNK: i64 = 500;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The PostgreSQL server would not keep acknowledged commits through a crash.
    #[error("{0}")]
    NotDurable(String),
    /// The database could not be opened or migrated.
    #[error("could not open the relay database at {path}: {source}")]
    Open {
        /// The database the relay tried to open: a file's path, or a URL without its password.
        path: String,
        /// SQLite's or the pool's error, as sqlx reported it.
        source: sqlx::Error,
    },
    /// Migrating failed.
    #[error("could not migrate the relay database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A unique value (email, channel) is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// Something referred to does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change would leave the workspace without an active owner.
    #[error("a workspace keeps at least one active owner: make someone else owner first")]
    LastOwner,
    /// The invitation code is unknown or was used.
    #[error(
        "this invitation code is not valid (it may have been used already); ask an admin for a new one"
    )]
    InvitationInvalid,
    /// The invitation code expired.
    #[error("this invitation has expired; ask an admin to invite you again")]
    InvitationExpired,
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the relay keeps its data: `relay.sqlite` in a data directory, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// SQLite, in [`DATABASE_FILE`] inside this directory (created if missing).
    Directory(PathBuf),
    /// PostgreSQL at this `postgres://` URL (which may hold a password: never shown).
    Postgres(String),
}

impl DatabaseLocation {
    /// The location for a data directory and an optional `postgres://` URL (which wins).
    pub fn new(data_dir: &Path, database_url: Option<&str>) -> Self {
        match database_url {
            Some(url) => Self::Postgres(url.to_string()),
            None => Self::Directory(data_dir.to_path_buf()),
        }
    }

    /// How messages name it: the file's path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Directory(dir) => dir.join(DATABASE_FILE).display().to_string(),
            Self::Postgres(url) => redact_url(url),
        }
    }
}

/// A `postgres://` URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.query_pairs().any(|(k, _)| k == "password").then(|| {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            });
            parsed.to_string()
        }
        Err(_) => "(an unreadable database URL)".to_string(),
    }
}

/// Whether an idle connection may be handed out: one still counted inside a transaction is closed
/// instead. This happens when SQLite rolled a failed write back by itself (`SQLITE_FULL`,
/// `SQLITE_IOERR`), so sqlx's own `ROLLBACK` failed and its count never went down; reused, the
/// connection would refuse every later `begin` ("non-zero transaction depth"). On PostgreSQL the
/// same guard drops a connection whose transaction state was lost with its server. Checked when a
/// connection is acquired, after the pool's ping (so a rollback a dropped transaction queued has
/// run), not when it is released: a check on release kept the sequencer's connection out of the
/// pool for a moment after every commit, so the next batch took another, colder one (-15 % of
/// webhooks/s, docs/benchmarks.md).
async fn discard_if_still_in_a_transaction<C: sqlx::Connection>(
    conn: &mut C,
) -> std::result::Result<bool, sqlx::Error> {
    let keep = !conn.is_in_transaction();
    if !keep {
        tracing::warn!("a database connection left inside a failed transaction is closed");
    }
    Ok(keep)
}

/// The database behind a [`Store`].
#[derive(Debug, Clone)]
enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One connection of either backend, borrowed for one backend function (see [`sql!`](crate::sql)).
pub enum Connection<'c> {
    /// SQLite.
    Sqlite(&'c mut SqliteConnection),
    /// PostgreSQL.
    Postgres(&'c mut PgConnection),
}

/// A connection taken from the pool for a few reads; back in the pool when dropped.
pub(crate) enum PooledConnection {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl PooledConnection {
    /// The connection, for [`sql!`](crate::sql).
    pub(crate) fn conn(&mut self) -> Connection<'_> {
        match self {
            Self::Sqlite(c) => Connection::Sqlite(c),
            Self::Postgres(c) => Connection::Postgres(c),
        }
    }
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite (writers queue), `READ COMMITTED` on
/// PostgreSQL. Dropped without [`commit`](Self::commit), it rolls back.
pub enum WriteTx {
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

impl WriteTx {
    /// The transaction's connection, for [`sql!`](crate::sql).
    pub fn conn(&mut self) -> Connection<'_> {
        match self {
            Self::Sqlite(tx) => Connection::Sqlite(tx),
            Self::Postgres(tx) => Connection::Postgres(tx),
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        match self {
            Self::Sqlite(tx) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Whether this is PostgreSQL (several instances may write at once).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Rewrites the health probe's row (see `/healthz`), inside the sequencer's batch.
pub(crate) async fn probe_in(tx: &mut WriteTx, now: i64) -> Result<()> {
    Ok(sql!(tx.conn(), log::probe(now))?)
}

/// The relay's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    /// How long since a member's last live session was seen before they count as offline (ms).
    presence_window_ms: i64,
}

impl Store {
    /// Opens (creating) the database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        Self::open_at(&DatabaseLocation::Directory(data_dir.to_path_buf())).await
    }

    /// Opens the database at `location` (creating a SQLite file if missing) and migrates it.
    pub async fn open_at(location: &DatabaseLocation) -> Result<Self> {
        let db = match location {
            DatabaseLocation::Directory(dir) => Database::Sqlite(open_sqlite(dir).await?),
            DatabaseLocation::Postgres(url) => Database::Postgres(open_postgres(url).await?),
        };
        let store = Self {
            db,
            presence_window_ms: i64::try_from(PRESENCE_WINDOW.as_millis()).unwrap_or(90_000),
        };
        match &store.db {
            Database::Sqlite(pool) => zentro_relay_sqlite::MIGRATOR.run(pool).await?,
            Database::Postgres(pool) => zentro_relay_postgres::MIGRATOR.run(pool).await?,
        }
        Ok(store)
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Whether this is PostgreSQL, which several relay instances may share (state that one
    /// process keeps in memory on SQLite lives in the database there).
    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Database::Postgres(_))
    }

    /// The PostgreSQL pool, when on PostgreSQL (for the listener that wakes streams).
    pub(crate) fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.db {
            Database::Postgres(pool) => Some(pool),
            Database::Sqlite(_) => None,
        }
    }

    /// A connection from the pool, for [`read!`](crate::read).
    pub(crate) async fn acquire(&self) -> Result<PooledConnection> {
        Ok(match &self.db {
            Database::Sqlite(pool) => PooledConnection::Sqlite(pool.acquire().await?),
            Database::Postgres(pool) => PooledConnection::Postgres(pool.acquire().await?),
        })
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite, so writers queue instead of
    /// failing).
    ///
    /// A transaction SQLite ended by itself (a full disk, an I/O error: it rolls back on its own)
    /// leaves its connection counting itself inside a transaction; such a connection is closed
    /// before it is handed out again (`discard_if_still_in_a_transaction`), so the next
    /// `begin` gets a working one and the relay recovers once the cause is gone.
    pub async fn begin(&self) -> Result<WriteTx> {
        Ok(match &self.db {
            Database::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(pool) => WriteTx::Postgres(pool.begin().await?),
        })
    }

    /// Tells every relay instance on this database that sessions were revoked (PostgreSQL; a
    /// no-op on SQLite, where one process owns the database).
    pub async fn announce_revocation(&self) -> Result<()> {
        Ok(read!(self, wakeups::notify_revocation())?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.db {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }

    // ----- workspaces and members -----

    /// Creates a workspace with its owner (who signs in with `password_hash`).
    pub async fn create_workspace(
        &self,
        name: &str,
        owner_email: &str,
        owner_name: &str,
        password_hash: &str,
    ) -> Result<Workspace> {
        let mut tx = self.begin().await?;
        let id = random_id();
        let now = now_ms();
        sql!(tx.conn(), log::insert_workspace(&id, name, now))?;
        let inserted = sql!(
            tx.conn(),
            log::insert_owner(
                &random_id(),
                &id,
                owner_email,
                owner_name,
                password_hash,
                now
            )
        );
        if let Err(sqlx::Error::Database(e)) = &inserted
            && e.is_unique_violation()
        {
            return Err(StoreError::Conflict(format!(
                "a member with the email {owner_email}"
            )));
        }
        inserted?;
        tx.commit().await?;
        Ok(Workspace {
            id,
            name: name.to_string(),
        })
    }

    /// Whether a workspace exists.
    pub async fn workspace_exists(&self, id: &str) -> Result<bool> {
        Ok(read!(self, log::workspace_exists(id))?)
    }

    /// Looks a member up by email (ignoring case), for sign-in.
    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        Ok(read!(self, log::credentials(email))?)
    }

    // ----- sessions -----

    /// Records a new device session.
    pub async fn create_session(
        &self,
        member_id: &str,
        workspace_id: &str,
        token_hash: &[u8],
        device_name: &str,
    ) -> Result<String> {
        let id = random_id();
        let now = now_ms();
        let mut tx = self.begin().await?;
        sql!(
            tx.conn(),
            log::insert_session(&id, member_id, workspace_id, token_hash, device_name, now)
        )?;
        sql!(tx.conn(), log::record_sign_in(member_id, now))?;
        tx.commit().await?;
        Ok(id)
    }

    /// The live session behind a token hash (not revoked, member active).
    pub async fn session(&self, token_hash: &[u8]) -> Result<Option<SessionContext>> {
        Ok(read!(self, log::session(token_hash))?)
    }

    /// Whether a session is still live.
    pub async fn session_is_live(&self, session_id: &str) -> Result<bool> {
        Ok(read!(self, log::session_is_live(session_id))?)
    }

    /// Revokes a session.
    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        Ok(read!(self, log::revoke_session(session_id, now_ms()))?)
    }

    // ----- channels -----

    /// Adds a channel to a workspace and moves quarantined webhooks that name it into the
    /// workspace's log (late routing). Returns the channel and how many webhooks were released.
    pub async fn add_channel(
        &self,
        workspace_id: &str,
        kind: ChannelKind,
        external_id: &str,
        account_id: Option<&str>,
        display_name: &str,
    ) -> Result<(Channel, usize)> {
        let mut tx = self.begin().await?;
        if !sql!(tx.conn(), log::workspace_exists(workspace_id))? {
            return Err(StoreError::NotFound(format!("workspace {workspace_id}")));
        }
        let id = random_id();
        let released = insert_channel_in(
            &mut tx,
            &id,
            workspace_id,
            kind,
            external_id,
            account_id,
            display_name,
        )
        .await?;
        tx.commit().await?;
        let channel = Channel {
            id,
            workspace_id: workspace_id.to_string(),
            kind: kind.as_str().to_string(),
            external_id: external_id.to_string(),
            account_id: account_id.map(str::to_string),
            display_name: display_name.to_string(),
            health: "unknown".into(),
            health_reason: None,
            health_checked_at: None,
            phone_number: None,
            quality_rating: None,
        };
        Ok((channel, released))
    }

    /// Every channel, or a workspace's.
    pub async fn channels(&self, workspace_id: Option<&str>) -> Result<Vec<Channel>> {
        Ok(read!(self, log::channels(workspace_id))?)
    }

    // ----- events -----

    /// The members of a workspace (no secrets), by name.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<MemberSummary>> {
        Ok(read!(self, log::members(workspace_id))?)
    }

    /// The seq of a workspace's newest event (0 when it has none).
    pub async fn head(&self, workspace_id: &str) -> Result<i64> {
        Ok(read!(self, log::head(workspace_id))?)
    }

    /// Events of a workspace after `after`, in order, at most `limit`.
    pub async fn events_after(
        &self,
        workspace_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        Ok(read!(self, log::events_after(workspace_id, after, limit))?)
    }

    /// The last seq given out in a workspace.
    pub async fn last_seq(&self, workspace_id: &str) -> Result<i64> {
        Ok(read!(self, log::last_seq(workspace_id))?.unwrap_or(0))
    }

    /// Age in ms of the oldest event not yet acknowledged by every active device, per workspace.
    pub async fn oldest_unacknowledged(&self, now: i64) -> Result<Vec<(String, i64)>> {
        Ok(read!(self, log::oldest_unacknowledged())?
            .into_iter()
            .map(|(workspace, at)| (workspace, now - at))
            .collect())
    }

    /// Drops events every active device acknowledged more than `grace` ago, and any event older
    /// than `retention` (or the workspace's own, shorter retention). Returns how many were
    /// deleted.
    ///
    /// Works per workspace in transactions of at most [`PRUNE_CHUNK`] events, each an index range,
    /// so a large backlog never holds the writer lock long enough to delay webhook commits.
    pub async fn prune(&self, now: i64, grace: Duration, retention: Duration) -> Result<u64> {
        let grace_cut = now - grace.as_millis() as i64;
        let retention_cut = now - retention.as_millis() as i64;
        let workspaces = read!(self, log::retention_inputs())?;
        let mut deleted = 0;
        for (workspace, own_days, acknowledged) in workspaces {
            // On every active device, and past the grace period.
            if let Some(acknowledged) = acknowledged {
                deleted += self
                    .delete_events_chunked(&workspace, Some(acknowledged), grace_cut)
                    .await?;
            }
            // Past the retention period (privacy promise P12 for a workspace's own), delivered or not.
            let expiry = own_days.map_or(retention_cut, |days| {
                retention_cut.max(now - days * 86_400_000)
            });
            deleted += self.delete_events_chunked(&workspace, None, expiry).await?;
        }
        read!(
            self,
            log::delete_terminated_sessions(now - 90 * 24 * 3_600_000)
        )?;
        Ok(deleted)
    }

    /// Deletes a workspace's events appended before `before` (and, with `acknowledged`, only those
    /// at or below that seq, lowest first) in transactions of [`PRUNE_CHUNK`] until one deletes
    /// fewer than a chunk, pausing between chunks so the sequencer's commits get the writer lock
    /// in between.
    async fn delete_events_chunked(
        &self,
        workspace: &str,
        acknowledged: Option<i64>,
        before: i64,
    ) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let mut tx = self.begin().await?;
            let n = match acknowledged {
                Some(seq) => sql!(
                    tx.conn(),
                    log::delete_acknowledged_events(workspace, seq, before, PRUNE_CHUNK)
                )?,
                None => sql!(
                    tx.conn(),
                    log::delete_expired_events(workspace, before, PRUNE_CHUNK)
                )?,
            };
            tx.commit().await?;
            deleted += n;
            if n < PRUNE_CHUNK as u64 {
                return Ok(deleted);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ----- quarantine -----

    /// Drops quarantined webhooks received before `now - retention`, then the oldest past
    /// `max_items`; returns how many went.
    pub async fn trim_quarantine(
        &self,
        now: i64,
        retention: Duration,
        max_items: u64,
    ) -> Result<u64> {
        let cutoff = now - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let keep = i64::try_from(max_items).unwrap_or(i64::MAX);
        let mut tx = self.begin().await?;
        let mut dropped = sql!(tx.conn(), log::delete_quarantined_before(cutoff))?;
        dropped += sql!(tx.conn(), log::delete_quarantined_beyond(keep))?;
        tx.commit().await?;
        Ok(dropped)
    }

    /// The workspace whose channel has the account (a WhatsApp Business Account), if any.
    pub async fn workspace_of_account(
        &self,
        kind: ChannelKind,
        account_id: &str,
    ) -> Result<Option<String>> {
        Ok(read!(
            self,
            log::workspace_of_account(kind.as_str(), account_id)
        )?)
    }

    /// Quarantined webhooks, oldest first.
    pub async fn quarantine(&self) -> Result<Vec<QuarantineEntry>> {
        Ok(read!(self, log::quarantined())?)
    }
}

/// Appends an event inside a transaction, giving it the workspace's next seq. Returns `None` when
/// an event with the same `dedup_key` already exists (a redelivery), or `Some(seq)`.
///
/// Locks the workspace's counter row first (a no-op on SQLite), so the dedup check sees every
/// batch committed before and the seq commits in order across instances (ADR 0012 §2, §3).
pub(crate) async fn append_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    kind: &str,
    dedup_key: &str,
    author: Option<&str>,
    payload: &serde_json::Value,
) -> Result<Option<i64>> {
    lock_workspaces(tx, &[workspace_id]).await?;
    if seq_of(tx, workspace_id, dedup_key).await?.is_some() {
        return Ok(None);
    }
    let seq = allocate_seqs(tx, workspace_id, 1).await?;
    let payload = payload.to_string();
    let row = NewEvent {
        seq,
        kind,
        at: now_ms(),
        dedup_key,
        author,
        payload: &payload,
        channel_id: None,
    };
    insert_events(tx, workspace_id, std::slice::from_ref(&row)).await?;
    Ok(Some(seq))
}

/// An event to append with [`append_many_in`].
pub(crate) struct NewAppend<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// What makes a replay recognisable (unique per workspace).
    pub dedup_key: &'a str,
    /// Who wrote it.
    pub author: Option<&'a str>,
    /// Its JSON.
    pub payload: String,
}

/// Appends events to a workspace's log inside `tx`, in order, with one lock, one look-up of the
/// keys and one seq allocation for all of them: each one's seq, `None` for a key the log
/// already has (appended before: a replay), and the time they were appended at.
///
/// `channels` names, for each event (or for none: empty), the channel of the conversation it
/// concerns, `(kind, external id)`: its id is looked up once per channel in `tx` and written
/// with the event, as the `events_channel` trigger would have written it (the same look-up),
/// so the trigger does not run for it — no JSON read back from the payload, no `UPDATE` of the
/// row just inserted. A channel the workspace does not have is left to the trigger (which
/// finds none either).
pub(crate) async fn append_many_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    events: &[NewAppend<'_>],
    channels: &[(&str, &str)],
) -> Result<(Vec<Option<i64>>, i64)> {
    let at = now_ms();
    if events.is_empty() {
        return Ok((Vec::new(), at));
    }
    let mut channel_ids: HashMap<(&str, &str), Option<String>> = HashMap::new();
    for &(kind, external_id) in channels {
        if let Entry::Vacant(entry) = channel_ids.entry((kind, external_id)) {
            let id = sql!(
                tx.conn(),
                access::channel_id_of(workspace_id, kind, external_id)
            )?;
            entry.insert(id);
        }
    }
    let channel_of = |i: usize| -> Option<&str> {
        let route = channels.get(i)?;
        channel_ids.get(route)?.as_deref()
    };
    lock_workspaces(tx, &[workspace_id]).await?;
    let keys: Vec<&str> = events.iter().map(|e| e.dedup_key).collect();
    let known = existing_keys(tx, workspace_id, &keys).await?;
    let mut seen = HashSet::new();
    let fresh: Vec<bool> = events
        .iter()
        .map(|e| !known.contains(e.dedup_key) && seen.insert(e.dedup_key))
        .collect();
    let count = fresh.iter().filter(|f| **f).count() as i64;
    if count == 0 {
        return Ok((vec![None; events.len()], at));
    }
    let first = allocate_seqs(tx, workspace_id, count).await?;
    let mut seqs = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(count as usize);
    let mut next = first;
    for (i, (event, fresh)) in events.iter().zip(fresh).enumerate() {
        if !fresh {
            seqs.push(None);
            continue;
        }
        seqs.push(Some(next));
        rows.push(NewEvent {
            seq: next,
            kind: event.kind,
            at,
            dedup_key: event.dedup_key,
            author: event.author,
            payload: &event.payload,
            channel_id: channel_of(i),
        });
        next += 1;
    }
    insert_events(tx, workspace_id, &rows).await?;
    Ok((seqs, at))
}

/// Locks the counter rows of the workspaces a batch appends to, until commit (on PostgreSQL, in
/// id order; on SQLite a no-op: `BEGIN IMMEDIATE` admits one writer). This keeps each
/// workspace's seqs committing in order across instances (ADR 0012 §2). Call it before
/// [`existing_keys`]/[`seq_of`] and [`allocate_seqs`].
pub(crate) async fn lock_workspaces(tx: &mut WriteTx, workspace_ids: &[&str]) -> Result<()> {
    Ok(sql!(tx.conn(), log::lock_workspaces(workspace_ids))?)
}

/// Locks a route until commit (PostgreSQL; SQLite admits one writer anyway): taken by a batch
/// before it quarantines webhooks of a route nobody has, and by whoever adds a channel before it
/// inserts it, so the quarantined webhooks are always released to the channel.
pub(crate) async fn lock_route(tx: &mut WriteTx, route_kind: &str, route_id: &str) -> Result<()> {
    Ok(sql!(tx.conn(), log::lock_route(route_kind, route_id))?)
}

/// Tells other instances, when the transaction commits, that a workspace's log grew to
/// `last_seq` (PostgreSQL's `NOTIFY`; on SQLite a no-op).
pub(crate) async fn notify_appended(
    tx: &mut WriteTx,
    workspace_id: &str,
    last_seq: i64,
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        log::notify_appended(workspace_id, last_seq)
    )?)
}

/// Reserves `n` consecutive seqs in a workspace's log and returns the first.
pub(crate) async fn allocate_seqs(tx: &mut WriteTx, workspace_id: &str, n: i64) -> Result<i64> {
    let last = sql!(tx.conn(), log::allocate_seqs(workspace_id, n))?;
    Ok(last - n + 1)
}

/// Which of `keys` a workspace's log already holds.
pub(crate) async fn existing_keys(
    tx: &mut WriteTx,
    workspace_id: &str,
    keys: &[&str],
) -> Result<HashSet<String>> {
    Ok(sql!(tx.conn(), log::existing_keys(workspace_id, keys))?
        .into_iter()
        .collect())
}

/// Appends events (whose keys are known to be new).
pub(crate) async fn insert_events(
    tx: &mut WriteTx,
    workspace_id: &str,
    rows: &[NewEvent<'_>],
) -> Result<()> {
    Ok(sql!(tx.conn(), log::insert_events(workspace_id, rows))?)
}

/// Records, inside the writer's transaction, what a device has applied: never moves back, never
/// past the log's end. `None` when the session is gone (revoked or signed out meanwhile).
pub(crate) async fn acknowledge_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    session_id: &str,
    seq: i64,
    now: i64,
) -> Result<Option<i64>> {
    Ok(sql!(
        tx.conn(),
        log::acknowledge(workspace_id, session_id, seq, now)
    )?)
}

/// The seq of an event with this dedup key, if any.
pub(crate) async fn seq_of(
    tx: &mut WriteTx,
    workspace_id: &str,
    dedup_key: &str,
) -> Result<Option<i64>> {
    Ok(sql!(tx.conn(), log::seq_of(workspace_id, dedup_key))?)
}

/// Finds the workspace a route belongs to.
pub(crate) async fn workspace_for_route(
    tx: &mut WriteTx,
    route_kind: &str,
    route_id: &str,
) -> Result<Option<String>> {
    let (kind, by_account) = match route_kind {
        "whatsapp_phone_number" => ("whatsapp", false),
        "whatsapp_account" => ("whatsapp", true),
        "page" => ("messenger", false),
        "instagram_account" => ("instagram", false),
        _ => return Ok(None),
    };
    Ok(if by_account {
        sql!(tx.conn(), log::workspace_of_account(kind, route_id))?
    } else {
        sql!(tx.conn(), log::workspace_of_channel(kind, route_id))?
    })
}

/// Quarantines a webhook item (or an unparseable body). Redeliveries are ignored.
pub(crate) async fn quarantine_in(
    tx: &mut WriteTx,
    route: Option<(&str, &str)>,
    reason: &str,
    dedup_key: &str,
    body: &[u8],
) -> Result<()> {
    Ok(sql!(
        tx.conn(),
        log::insert_quarantined(
            now_ms(),
            route.map(|r| r.0),
            route.map(|r| r.1),
            reason,
            dedup_key,
            body
        )
    )?)
}

/// Inserts a channel inside `tx` and moves quarantined webhooks naming it into the workspace's
/// log; returns how many were released.
pub(crate) async fn insert_channel_in(
    tx: &mut WriteTx,
    id: &str,
    workspace_id: &str,
    kind: ChannelKind,
    external_id: &str,
    account_id: Option<&str>,
    display_name: &str,
) -> Result<usize> {
    // First, so that a batch quarantining webhooks of these routes right now either commits
    // before this reads the quarantine, or waits and then finds the channel (`lock_route`).
    for (route_kind, use_account) in crate::routing::route_kinds_for(kind) {
        let route_id = if *use_account {
            account_id
        } else {
            Some(external_id)
        };
        if let Some(route_id) = route_id {
            lock_route(tx, route_kind, route_id).await?;
        }
    }
    // A WhatsApp Business Account belongs to one workspace: its account-level webhooks route there.
    if let Some(account_id) = account_id
        && sql!(
            tx.conn(),
            log::account_in_other_workspace(kind.as_str(), account_id, workspace_id)
        )?
    {
        return Err(StoreError::Conflict(format!(
            "the {} account {account_id} (in another workspace)",
            kind.as_str()
        )));
    }
    let inserted = sql!(
        tx.conn(),
        log::insert_channel(
            id,
            workspace_id,
            kind.as_str(),
            external_id,
            account_id,
            display_name,
            now_ms()
        )
    );
    if let Err(sqlx::Error::Database(e)) = &inserted
        && e.is_unique_violation()
    {
        return Err(StoreError::Conflict(format!(
            "the {} channel {external_id}",
            kind.as_str()
        )));
    }
    inserted?;
    let quarantined = quarantined_for_in(tx, kind, external_id, account_id).await?;
    release_in(tx, workspace_id, quarantined).await
}

/// The quarantined webhooks (id, dedup key, body) naming a channel or its account, oldest first
/// per route.
async fn quarantined_for_in(
    tx: &mut WriteTx,
    kind: ChannelKind,
    external_id: &str,
    account_id: Option<&str>,
) -> Result<Vec<(i64, String, Vec<u8>)>> {
    let mut quarantined = Vec::new();
    for (route_kind, use_account) in crate::routing::route_kinds_for(kind) {
        let route_id = if *use_account {
            account_id
        } else {
            Some(external_id)
        };
        let Some(route_id) = route_id else { continue };
        quarantined.extend(sql!(
            tx.conn(),
            log::quarantined_for_route(route_kind, route_id)
        )?);
    }
    Ok(quarantined)
}

/// Moves quarantined webhooks into the workspace's log (a redelivery already there is dropped);
/// returns how many were appended. Other instances hear of the grown log when `tx` commits.
async fn release_in(
    tx: &mut WriteTx,
    workspace_id: &str,
    quarantined: Vec<(i64, String, Vec<u8>)>,
) -> Result<usize> {
    let mut released = 0;
    let mut last_seq = None;
    for (qid, key, body) in quarantined {
        let payload: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if let Some(seq) = append_in(
            tx,
            workspace_id,
            crate::routing::WEBHOOK_EVENT_KIND,
            &key,
            None,
            &payload,
        )
        .await?
        {
            released += 1;
            last_seq = Some(seq);
        }
        sql!(tx.conn(), log::delete_quarantined(qid))?;
    }
    if let Some(last_seq) = last_seq {
        notify_appended(tx, workspace_id, last_seq).await?;
    }
    Ok(released)
}

/// Opens (creating) `relay.sqlite` in `data_dir`.
async fn open_sqlite(data_dir: &Path) -> Result<SqlitePool> {
    std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
        path: data_dir.display().to_string(),
        source: sqlx::Error::Io(e),
    })?;
    let path = data_dir.join(DATABASE_FILE);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // Purged events (an erased customer) leave no bytes behind.
        .pragma("secure_delete", "on");
    SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(true)
        .before_acquire(|conn, _| Box::pin(discard_if_still_in_a_transaction(conn)))
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })
}

/// Connects to PostgreSQL at `url`: a pool that gives up on a connection after 5 s (an
/// unreachable database answers 503, not a hang), and refuses a server that does not make commits
/// durable (a 200 must mean the webhook survives a crash on both backends).
async fn open_postgres(url: &str) -> Result<PgPool> {
    let open_error = |source| StoreError::Open {
        path: redact_url(url),
        source,
    };
    let options: PgConnectOptions = url.parse().map_err(open_error)?;
    // A relay instance that vanishes in the middle of a transaction leaves its server session
    // holding row locks until the server notices (TCP may take hours): the server ends such a
    // session after a minute idle in a transaction, and no statement waits more than 5 s for a
    // lock (then 503: Meta and devices retry) or runs more than a minute.
    let options = options.application_name("zentro-relay").options([
        ("lock_timeout", "5s"),
        ("idle_in_transaction_session_timeout", "60s"),
        ("statement_timeout", "60s"),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(true)
        .before_acquire(|conn, _| Box::pin(discard_if_still_in_a_transaction(conn)))
        .connect_with(options)
        .await
        .map_err(open_error)?;
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&pool)
        .await
        .map_err(open_error)?;
    if fsync != "on" {
        return Err(StoreError::NotDurable(format!(
            "the PostgreSQL server runs with fsync={fsync}: a crash could lose webhooks the relay \
             acknowledged; set fsync=on"
        )));
    }
    let synchronous: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&pool)
        .await
        .map_err(open_error)?;
    if synchronous == "off" {
        tracing::warn!(
            "PostgreSQL runs with synchronous_commit=off: webhooks answered in the last moments \
             before a server crash may be lost (set it to on)"
        );
    }
    Ok(pool)
}
