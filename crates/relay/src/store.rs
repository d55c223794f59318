//! The relay's storage: one SQLite file (WAL, `synchronous=FULL`) in the data directory.
//!
//! Handlers and the sequencer reach the database only through [`Store`], so another backend
//! (PostgreSQL, for several relay instances) can replace this module without touching them.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use zentro_events::clock::{now_ms, random_id};

mod access;
mod connections;
mod gaps;
mod team;

pub use access::{ReadablePage, RotationAdvice};
pub use connections::{ChannelHealth, Signup, SignupRefusal, SignupState};
pub use gaps::{ErasureReceipt, Gap, LAST_USE_RESOLUTION, SessionUse};
pub use team::{AuditEntry, ChannelView, Device, NewAuditEntry, SealedToken};

/// The relay's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "relay.sqlite";

/// Most events one pruning transaction deletes: about 20 ms of writer lock here, fsync included.
pub const PRUNE_CHUNK: i64 = 500;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("could not open the relay database at {path}: {source}")]
    Open {
        /// The path of the database file the relay tried to open.
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

/// A channel kind as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WhatsApp number.
    Whatsapp,
    /// Facebook Page.
    Messenger,
    /// Instagram account.
    Instagram,
}

impl ChannelKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
        }
    }
}

impl FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "whatsapp" => Ok(Self::Whatsapp),
            "messenger" => Ok(Self::Messenger),
            "instagram" => Ok(Self::Instagram),
            other => Err(format!(
                "unknown channel kind {other:?} (whatsapp, messenger or instagram)"
            )),
        }
    }
}

/// A channel row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// A random id the relay gives the channel when it is added; the API names it by this.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// `whatsapp`, `messenger` or `instagram` (a [`ChannelKind`] as text).
    pub kind: String,
    /// phone_number_id, Page id or Instagram account id.
    pub external_id: String,
    /// WABA id (WhatsApp).
    pub account_id: Option<String>,
    /// Name shown to people.
    pub display_name: String,
    /// What the relay last saw at Meta: `connected`, `attention`, `disconnected` or `unknown`.
    pub health: String,
    /// Why it needs attention or is disconnected, for people.
    pub health_reason: Option<String>,
    /// When Meta was last asked (ms since the epoch).
    pub health_checked_at: Option<i64>,
    /// The number as customers dial it (WhatsApp).
    pub phone_number: Option<String>,
    /// Meta's quality rating of the number: `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
}

impl Channel {
    /// How the audit log names the channel: `kind:external_id`.
    pub fn audit_subject(&self) -> String {
        format!("{}:{}", self.kind, self.external_id)
    }
}

/// A member as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// A random id the relay gives the member when the workspace is created (its owner) or when
    /// the member is invited.
    pub id: String,
    /// Email (the username).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
}

/// A workspace as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// A random id the relay gives the workspace when it is created; all its rows name it.
    pub id: String,
    /// What people call the workspace, given when it is created.
    pub name: String,
}

/// A member's credentials, for sign-in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The member the email belongs to.
    pub member: Member,
    /// The workspace the member belongs to, which a sign-in opens.
    pub workspace: Workspace,
    /// argon2id hash, if a password was set.
    pub password_hash: Option<String>,
    /// active, invited, deactivated.
    pub status: String,
}

/// The device session behind a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    /// Session id.
    pub session_id: String,
    /// Member id.
    pub member_id: String,
    /// Workspace id.
    pub workspace_id: String,
    /// The member's role.
    pub role: crate::roles::Role,
    /// The member's email (for the audit log).
    pub email: String,
    /// The device's name (for the audit log).
    pub device_name: String,
}

/// A member as teammates see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSummary {
    /// The member's id, as in [`Member::id`].
    pub id: String,
    /// The email the member signs in with.
    pub email: String,
    /// The name teammates see, given at invitation or when the workspace was created.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
    /// invited, active or deactivated.
    pub status: String,
    /// When the member was created or invited (UTC ms).
    pub created_at: i64,
    /// Their last successful sign-in (UTC ms).
    pub last_sign_in_at: Option<i64>,
}

/// One event of a workspace's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// Position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: String,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// The member who published a team event (`None` for Meta's webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The event's JSON.
    pub payload: serde_json::Value,
}

/// A quarantined webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineEntry {
    /// Its row number, growing with each arrival (`ID` in `zentro-relay quarantine list`).
    pub id: i64,
    /// When it arrived (UTC ms).
    pub received_at: i64,
    /// Route kind, if it parsed.
    pub route_kind: Option<String>,
    /// Route id, if it parsed.
    pub route_id: Option<String>,
    /// Why it is here.
    pub reason: String,
    /// Size of the stored body.
    pub bytes: i64,
}

/// Whether an idle connection may be handed out: one still counted inside a transaction is closed
/// instead. This happens when SQLite rolled a failed write back by itself (`SQLITE_FULL`,
/// `SQLITE_IOERR`), so sqlx's own `ROLLBACK` failed and its count never went down; reused, the
/// connection would refuse every later `begin` ("non-zero transaction depth"). Checked when a
/// connection is acquired, after the pool's ping (so a rollback a dropped transaction queued has
/// run), not when it is released: a check on release kept the sequencer's connection out of the
/// pool for a moment after every commit, so the next batch took another, colder one (-15 % of
/// webhooks/s, docs/benchmarks.md).
async fn discard_if_still_in_a_transaction(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Connection;
    let keep = !conn.is_in_transaction();
    if !keep {
        tracing::warn!("a database connection left inside a failed transaction is closed");
    }
    Ok(keep)
}

/// Rewrites the health probe's row (see `/healthz`), inside the sequencer's batch.
pub(crate) async fn probe_in(tx: &mut Transaction<'static, Sqlite>, now: i64) -> Result<()> {
    sqlx::query("UPDATE health_probe SET checked_at = ? WHERE id = 1")
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The relay's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating) the database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self> {
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
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(true)
            .before_acquire(|conn, _| Box::pin(discard_if_still_in_a_transaction(conn)))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`, so writers queue instead of failing).
    ///
    /// A transaction SQLite ended by itself (a full disk, an I/O error: it rolls back on its own)
    /// leaves its connection counting itself inside a transaction; such a connection is closed
    /// when it comes back to the pool (`discard_if_still_in_a_transaction`), so the next
    /// `begin` gets a working one and the relay recovers once the cause is gone.
    pub async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
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
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&id)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO members (id, workspace_id, email, display_name, role, status, password_hash, created_at)
             VALUES (?, ?, ?, ?, 'owner', 'active', ?, ?)",
        )
        .bind(random_id())
        .bind(&id)
        .bind(owner_email)
        .bind(owner_name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await;
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
        Ok(sqlx::query("SELECT 1 FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Looks a member up by email, for sign-in.
    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT m.id, m.email, m.display_name, m.role, m.status, m.password_hash, w.id AS wid, w.name AS wname
             FROM members m JOIN workspaces w ON w.id = m.workspace_id WHERE m.email = ?",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Credentials {
            member: Member {
                id: r.get("id"),
                email: r.get("email"),
                display_name: r.get("display_name"),
                role: r.get("role"),
            },
            workspace: Workspace {
                id: r.get("wid"),
                name: r.get("wname"),
            },
            password_hash: r.get("password_hash"),
            status: r.get("status"),
        }))
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
        sqlx::query(
            "INSERT INTO sessions (id, member_id, workspace_id, token_hash, device_name, created_at, last_seen_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(member_id)
        .bind(workspace_id)
        .bind(token_hash)
        .bind(device_name)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE members SET last_sign_in_at = ? WHERE id = ?")
            .bind(now)
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The live session behind a token hash (not revoked, member active).
    pub async fn session(&self, token_hash: &[u8]) -> Result<Option<SessionContext>> {
        let row = sqlx::query(
            "SELECT s.id, s.member_id, s.workspace_id, m.role, m.email, s.device_name FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE s.token_hash = ? AND s.revoked_at IS NULL AND m.status = 'active'",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SessionContext {
            session_id: r.get("id"),
            member_id: r.get("member_id"),
            workspace_id: r.get("workspace_id"),
            role: r
                .get::<&str, _>("role")
                .parse()
                .unwrap_or(crate::roles::Role::Agent),
            email: r.get("email"),
            device_name: r.get("device_name"),
        }))
    }

    /// Whether a session is still live.
    pub async fn session_is_live(&self, session_id: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM sessions s JOIN members m ON m.id = s.member_id WHERE s.id = ? AND s.revoked_at IS NULL AND m.status = 'active'",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Revokes a session.
    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
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
        if sqlx::query("SELECT 1 FROM workspaces WHERE id = ?")
            .bind(workspace_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
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
        let rows = sqlx::query(
            "SELECT id, workspace_id, kind, external_id, account_id, display_name, health,
                    health_reason, health_checked_at, phone_number, quality_rating FROM channels
             WHERE ?1 IS NULL OR workspace_id = ?1 ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Channel {
                id: r.get(0),
                workspace_id: r.get(1),
                kind: r.get(2),
                external_id: r.get(3),
                account_id: r.get(4),
                display_name: r.get(5),
                health: r.get(6),
                health_reason: r.get(7),
                health_checked_at: r.get(8),
                phone_number: r.get(9),
                quality_rating: r.get(10),
            })
            .collect())
    }

    // ----- events -----

    /// The members of a workspace (no secrets), by name.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<MemberSummary>> {
        let rows = sqlx::query(
            "SELECT id, email, display_name, role, status, created_at, last_sign_in_at FROM members WHERE workspace_id = ? ORDER BY display_name, email",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(member_summary).collect())
    }

    /// The seq of a workspace's newest event (0 when it has none).
    pub async fn head(&self, workspace_id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events WHERE workspace_id = ?")
                .bind(workspace_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Events of a workspace after `after`, in order, at most `limit`.
    pub async fn events_after(
        &self,
        workspace_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query("SELECT seq, kind, at, payload, author FROM events WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(workspace_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredEvent {
                seq: r.get(0),
                kind: r.get(1),
                at: r.get(2),
                author: r.get(4),
                payload: serde_json::from_str(r.get::<&str, _>(3))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// The last seq given out in a workspace.
    pub async fn last_seq(&self, workspace_id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT last_seq FROM workspaces WHERE id = ?")
                .bind(workspace_id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// Age in ms of the oldest event not yet acknowledged by every active device, per workspace.
    pub async fn oldest_unacknowledged(&self, now: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            // The first event after what every device has: events are appended in seq order, so
            // it is the oldest, and finding it is one seek (not a walk over the whole backlog).
            "SELECT id, at FROM (
                 SELECT w.id, (SELECT e.at FROM events e WHERE e.workspace_id = w.id
                                 AND e.seq > COALESCE((SELECT MIN(acked_seq) FROM sessions s WHERE s.workspace_id = w.id AND s.revoked_at IS NULL), 0)
                               ORDER BY e.seq LIMIT 1) AS at
                 FROM workspaces w)
             WHERE at IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), now - r.get::<i64, _>(1)))
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
        let workspaces = sqlx::query(
            "SELECT w.id, w.conversation_retention_days,
                    (SELECT MIN(s.acked_seq) FROM sessions s WHERE s.workspace_id = w.id AND s.revoked_at IS NULL)
             FROM workspaces w",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut deleted = 0;
        for row in workspaces {
            let workspace: String = row.get(0);
            let own_days: Option<i64> = row.get(1);
            let acknowledged: Option<i64> = row.get(2);
            // On every active device, and past the grace period.
            if let Some(acknowledged) = acknowledged {
                deleted += self
                    .delete_events_chunked(
                        "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (
                             SELECT seq FROM events WHERE workspace_id = ?1 AND seq <= ?2 AND at < ?3 ORDER BY seq LIMIT ?4)",
                        &workspace,
                        acknowledged,
                        grace_cut,
                    )
                    .await?;
            }
            // Past the retention period (privacy promise P12 for a workspace's own), delivered or not.
            let expiry = own_days.map_or(retention_cut, |days| {
                retention_cut.max(now - days * 86_400_000)
            });
            deleted += self
                .delete_events_chunked(
                    "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (
                         SELECT seq FROM events WHERE workspace_id = ?1 AND at < ?3 LIMIT ?4)",
                    &workspace,
                    i64::MAX,
                    expiry,
                )
                .await?;
        }
        sqlx::query("DELETE FROM terminated_sessions WHERE terminated_at < ?")
            .bind(now - 90 * 24 * 3_600_000)
            .execute(&self.pool)
            .await?;
        Ok(deleted)
    }

    /// Runs a pruning `DELETE` (bound to workspace, seq bound, time bound and chunk size) in
    /// chunks until it deletes fewer than a chunk, pausing between chunks so the sequencer's
    /// commits get the writer lock in between.
    async fn delete_events_chunked(
        &self,
        statement: &'static str,
        workspace: &str,
        seq_bound: i64,
        time_bound: i64,
    ) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let mut tx = self.begin().await?;
            let n = sqlx::query(statement)
                .bind(workspace)
                .bind(seq_bound)
                .bind(time_bound)
                .bind(PRUNE_CHUNK)
                .execute(&mut *tx)
                .await?
                .rows_affected();
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
        let mut tx = self.begin().await?;
        let mut dropped = sqlx::query("DELETE FROM quarantine WHERE received_at < ?")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        dropped += sqlx::query(
            "DELETE FROM quarantine WHERE id NOT IN (SELECT id FROM quarantine ORDER BY id DESC LIMIT ?)",
        )
        .bind(i64::try_from(max_items).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(dropped)
    }

    /// The workspace whose channel has the account (a WhatsApp Business Account), if any.
    pub async fn workspace_of_account(
        &self,
        kind: ChannelKind,
        account_id: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT workspace_id FROM channels WHERE kind = ? AND account_id = ? LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Quarantined webhooks, oldest first.
    pub async fn quarantine(&self) -> Result<Vec<QuarantineEntry>> {
        let rows = sqlx::query("SELECT id, received_at, route_kind, route_id, reason, length(body) FROM quarantine ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|r| QuarantineEntry {
                id: r.get(0),
                received_at: r.get(1),
                route_kind: r.get(2),
                route_id: r.get(3),
                reason: r.get(4),
                bytes: r.get(5),
            })
            .collect())
    }
}

/// Reads a `members` row selected as (id, email, display_name, role, status, created_at,
/// last_sign_in_at).
pub(crate) fn member_summary(r: &sqlx::sqlite::SqliteRow) -> MemberSummary {
    MemberSummary {
        id: r.get(0),
        email: r.get(1),
        display_name: r.get(2),
        role: r.get(3),
        status: r.get(4),
        created_at: r.get(5),
        last_sign_in_at: r.get(6),
    }
}

/// Appends an event inside a transaction, giving it the workspace's next seq. Returns `None` when
/// an event with the same `dedup_key` already exists (a redelivery), or `Some(seq)`.
pub(crate) async fn append_in(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    kind: &str,
    dedup_key: &str,
    author: Option<&str>,
    payload: &serde_json::Value,
) -> Result<Option<i64>> {
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE workspace_id = ? AND dedup_key = ?")
            .bind(workspace_id)
            .bind(dedup_key)
            .fetch_optional(&mut **tx)
            .await?;
    if existing.is_some() {
        return Ok(None);
    }
    let seq: i64 = sqlx::query_scalar(
        "UPDATE workspaces SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
    )
    .bind(workspace_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO events (workspace_id, seq, kind, at, dedup_key, author, payload) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(workspace_id)
        .bind(seq)
        .bind(kind)
        .bind(now_ms())
        .bind(dedup_key)
        .bind(author)
        .bind(payload.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(Some(seq))
}

/// Reserves `n` consecutive seqs in a workspace's log and returns the first.
pub(crate) async fn allocate_seqs(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    n: i64,
) -> Result<i64> {
    let last: i64 = sqlx::query_scalar(
        "UPDATE workspaces SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq",
    )
    .bind(n)
    .bind(workspace_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(last - n + 1)
}

/// An event to append.
pub(crate) struct NewEvent<'a> {
    pub seq: i64,
    pub kind: &'a str,
    pub at: i64,
    pub dedup_key: &'a str,
    pub author: Option<&'a str>,
    pub payload: &'a str,
}

/// Statement sizes used for multi-value statements. Few distinct sizes keep every shape in the
/// prepared-statement cache instead of preparing a new one for each batch size.
const BUCKETS: [usize; 4] = [1, 8, 64, 256];

/// Which of `keys` a workspace's log already holds.
pub(crate) async fn existing_keys(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    keys: &[&str],
) -> Result<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in keys.chunks(BUCKETS[BUCKETS.len() - 1]) {
        // Pad the list to the next bucket size by repeating the last key.
        let size = BUCKETS
            .iter()
            .copied()
            .find(|b| *b >= chunk.len())
            .unwrap_or(chunk.len());
        let mut query =
            sqlx::QueryBuilder::<Sqlite>::new("SELECT dedup_key FROM events WHERE workspace_id = ");
        query.push_bind(workspace_id).push(" AND dedup_key IN (");
        let mut list = query.separated(", ");
        for i in 0..size {
            list.push_bind(chunk[i.min(chunk.len() - 1)]);
        }
        query.push(")");
        let rows: Vec<String> = query
            .build_query_scalar()
            .persistent(true)
            .fetch_all(&mut **tx)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Appends events (whose keys are known to be new) in multi-row statements of bucket sizes.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    rows: &[NewEvent<'_>],
) -> Result<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = BUCKETS
            .iter()
            .rev()
            .copied()
            .find(|b| *b <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (workspace_id, seq, kind, at, dedup_key, author, payload) ",
        );
        query.push_values(chunk, |mut row, e| {
            row.push_bind(workspace_id)
                .push_bind(e.seq)
                .push_bind(e.kind)
                .push_bind(e.at)
                .push_bind(e.dedup_key)
                .push_bind(e.author)
                .push_bind(e.payload);
        });
        query.build().persistent(true).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records, inside the writer's transaction, what a device has applied: never moves back, never
/// past the log's end. `None` when the session is gone (revoked or signed out meanwhile).
pub(crate) async fn acknowledge_in(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    session_id: &str,
    seq: i64,
    now: i64,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE sessions SET acked_seq = MAX(acked_seq, MIN(?, (SELECT last_seq FROM workspaces WHERE id = ?))), last_seen_at = ?
         WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL RETURNING acked_seq",
    )
    .bind(seq)
    .bind(workspace_id)
    .bind(now)
    .bind(session_id)
    .bind(workspace_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The seq of an event with this dedup key, if any.
pub(crate) async fn seq_of(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    dedup_key: &str,
) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM events WHERE workspace_id = ? AND dedup_key = ?")
            .bind(workspace_id)
            .bind(dedup_key)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// Finds the workspace a route belongs to.
pub(crate) async fn workspace_for_route(
    tx: &mut Transaction<'static, Sqlite>,
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
    let sql = if by_account {
        "SELECT workspace_id FROM channels WHERE kind = ? AND account_id = ? LIMIT 1"
    } else {
        "SELECT workspace_id FROM channels WHERE kind = ? AND external_id = ?"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(kind)
        .bind(route_id)
        .fetch_optional(&mut **tx)
        .await?)
}

/// Quarantines a webhook item (or an unparseable body). Redeliveries are ignored.
pub(crate) async fn quarantine_in(
    tx: &mut Transaction<'static, Sqlite>,
    route: Option<(&str, &str)>,
    reason: &str,
    dedup_key: &str,
    body: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO quarantine (received_at, route_kind, route_id, reason, dedup_key, body) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(now_ms())
    .bind(route.map(|r| r.0))
    .bind(route.map(|r| r.1))
    .bind(reason)
    .bind(dedup_key)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts a channel inside `tx` and moves quarantined webhooks naming it into the workspace's
/// log; returns how many were released.
pub(crate) async fn insert_channel_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: &str,
    workspace_id: &str,
    kind: ChannelKind,
    external_id: &str,
    account_id: Option<&str>,
    display_name: &str,
) -> Result<usize> {
    // A WhatsApp Business Account belongs to one workspace: its account-level webhooks route there.
    if let Some(account_id) = account_id
        && sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM channels WHERE kind = ? AND account_id = ? AND workspace_id <> ?",
        )
        .bind(kind.as_str())
        .bind(account_id)
        .bind(workspace_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "the {} account {account_id} (in another workspace)",
            kind.as_str()
        )));
    }
    let inserted = sqlx::query(
            "INSERT INTO channels (id, workspace_id, kind, external_id, account_id, display_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(kind.as_str())
        .bind(external_id)
        .bind(account_id)
        .bind(display_name)
        .bind(now_ms())
        .execute(&mut **tx)
        .await;
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
    tx: &mut Transaction<'static, Sqlite>,
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
        let rows = sqlx::query("SELECT id, dedup_key, body FROM quarantine WHERE route_kind = ? AND route_id = ? ORDER BY id")
                .bind(route_kind)
                .bind(route_id)
                .fetch_all(&mut **tx)
                .await?;
        quarantined.extend(rows.into_iter().map(|r| (r.get(0), r.get(1), r.get(2))));
    }
    Ok(quarantined)
}

/// Moves quarantined webhooks into the workspace's log (a redelivery already there is dropped);
/// returns how many were appended.
async fn release_in(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    quarantined: Vec<(i64, String, Vec<u8>)>,
) -> Result<usize> {
    let mut released = 0;
    for (qid, key, body) in quarantined {
        let payload: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if append_in(
            tx,
            workspace_id,
            crate::routing::WEBHOOK_EVENT_KIND,
            &key,
            None,
            &payload,
        )
        .await?
        .is_some()
        {
            released += 1;
        }
        sqlx::query("DELETE FROM quarantine WHERE id = ?")
            .bind(qid)
            .execute(&mut **tx)
            .await?;
    }
    Ok(released)
}
