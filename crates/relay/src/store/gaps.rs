//! What a device that was away needs: whether the relay pruned events it never received (a gap),
//! the erasures the relay remembers after their events went, and whether its token is still valid
//! after a long idle period.

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use zentro_events::clock::now_ms;

use super::{Result, SessionContext, Store};

/// How often a session's last use is written at most (not on every request).
pub const LAST_USE_RESOLUTION: Duration = Duration::from_secs(3600);

/// Events a device asked for that the relay no longer holds (pruned): seqs `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The first missing seq (the device's cursor + 1).
    pub from: i64,
    /// The last missing seq (the oldest kept event's − 1).
    pub to: i64,
}

/// An erasure as devices apply it: the salt and the salted hash of the customer, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureReceipt {
    /// The salt the erasing device chose and hashed the customer with, hex-encoded as it sent it.
    pub salt: String,
    /// Salted SHA-256 naming the customer (hex).
    pub hash: String,
}

/// A bearer token's session, as [`Store::session_in_use`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionUse {
    /// Live: the request goes on.
    Live(SessionContext),
    /// Unused for longer than the idle period: revoked now; the device signs in again.
    Expired,
    /// Unknown, revoked, or its member is not active.
    Unknown,
}

impl Store {
    /// Whether a device whose cursor is `after` missed pruned events: the workspace gave out seqs
    /// after `after` that are older than the oldest event still kept. An empty log whose counter
    /// is at `after` (a new workspace, or a device that had everything) is no gap. Events purged
    /// from the middle of the log by an erasure are not a gap (the `contact.erased` event that
    /// follows them says what to do).
    pub async fn gap(&self, workspace_id: &str, after: i64) -> Result<Option<Gap>> {
        let oldest_kept: Option<i64> = sqlx::query_scalar(
            "SELECT coalesce(
                 (SELECT min(seq) FROM events WHERE workspace_id = ?1),
                 (SELECT last_seq + 1 FROM workspaces WHERE id = ?1))",
        )
        .bind(workspace_id)
        .fetch_one(self.sqlite_pool())
        .await?;
        Ok(oldest_kept
            .filter(|oldest| after + 1 < *oldest)
            .map(|oldest| Gap {
                from: after + 1,
                to: oldest - 1,
            }))
    }

    /// Remembers an erasure (salt and hash only) for as long as the workspace is kept.
    pub async fn remember_erasure(&self, workspace_id: &str, salt: &str, hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO erasures (workspace_id, hash, salt, at) VALUES (?, ?, ?, ?)
             ON CONFLICT (workspace_id, hash) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(hash)
        .bind(salt)
        .bind(now_ms())
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }

    /// Every erasure of a workspace, oldest first.
    pub async fn erasures(&self, workspace_id: &str) -> Result<Vec<ErasureReceipt>> {
        let rows =
            sqlx::query("SELECT salt, hash FROM erasures WHERE workspace_id = ? ORDER BY at, hash")
                .bind(workspace_id)
                .fetch_all(self.sqlite_pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| ErasureReceipt {
                salt: r.get(0),
                hash: r.get(1),
            })
            .collect())
    }

    /// The session behind a token hash at `now`: refused and revoked when it was not used for
    /// `idle`; otherwise its last use is recorded, at most once per [`LAST_USE_RESOLUTION`].
    pub async fn session_in_use(
        &self,
        token_hash: &[u8],
        now: i64,
        idle: Duration,
    ) -> Result<SessionUse> {
        let row = sqlx::query(
            "SELECT s.id, s.member_id, s.workspace_id, m.role, m.email, s.device_name, s.last_seen_at
             FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE s.token_hash = ? AND s.revoked_at IS NULL AND m.status = 'active'",
        )
        .bind(token_hash)
        .fetch_optional(self.sqlite_pool())
        .await?;
        let Some(r) = row else {
            return Ok(SessionUse::Unknown);
        };
        let session_id: String = r.get(0);
        let last_seen: i64 = r.get(6);
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(last_seen) > idle_ms {
            self.revoke_session(&session_id).await?;
            return Ok(SessionUse::Expired);
        }
        if now - last_seen >= LAST_USE_RESOLUTION.as_millis() as i64 {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&session_id)
            .execute(self.sqlite_pool())
            .await?;
        }
        Ok(SessionUse::Live(SessionContext {
            session_id,
            member_id: r.get(1),
            workspace_id: r.get(2),
            role: r
                .get::<&str, _>(3)
                .parse()
                .unwrap_or(crate::roles::Role::Agent),
            email: r.get(4),
            device_name: r.get(5),
        }))
    }

    /// Revokes every session unused for `idle` at `now` (they no longer hold pruning back);
    /// returns how many.
    pub async fn expire_idle_sessions(&self, now: i64, idle: Duration) -> Result<u64> {
        let cutoff = now.saturating_sub(i64::try_from(idle.as_millis()).unwrap_or(i64::MAX));
        Ok(sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND last_seen_at < ?",
        )
        .bind(now)
        .bind(cutoff)
        .execute(self.sqlite_pool())
        .await?
        .rows_affected())
    }
}
