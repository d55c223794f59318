//! What a device that was away needs: whether the relay pruned events it never received (a gap),
//! the erasures the relay remembers after their events went, and whether its token is still valid
//! after a long idle period.

use std::time::Duration;

use zentro_events::clock::now_ms;
pub use zentro_relay_store::gaps::{ErasureReceipt, Gap, LAST_USE_RESOLUTION, SessionUse};

use super::{Result, Store};
use crate::read;

impl Store {
    /// Whether a device whose cursor is `after` missed pruned events: the workspace gave out seqs
    /// after `after` that are older than the oldest event still kept. An empty log whose counter
    /// is at `after` (a new workspace, or a device that had everything) is no gap. Events purged
    /// from the middle of the log by an erasure are not a gap (the `contact.erased` event that
    /// follows them says what to do).
    pub async fn gap(&self, workspace_id: &str, after: i64) -> Result<Option<Gap>> {
        let oldest_kept = read!(self, gaps::oldest_kept_seq(workspace_id))?;
        Ok(oldest_kept
            .filter(|oldest| after + 1 < *oldest)
            .map(|oldest| Gap {
                from: after + 1,
                to: oldest - 1,
            }))
    }

    /// Remembers an erasure (salt and hash only) for as long as the workspace is kept.
    pub async fn remember_erasure(&self, workspace_id: &str, salt: &str, hash: &str) -> Result<()> {
        Ok(read!(
            self,
            gaps::insert_erasure(workspace_id, salt, hash, now_ms())
        )?)
    }

    /// Every erasure of a workspace, oldest first.
    pub async fn erasures(&self, workspace_id: &str) -> Result<Vec<ErasureReceipt>> {
        Ok(read!(self, gaps::erasures(workspace_id))?)
    }

    /// The session behind a token hash at `now`: refused and revoked when it was not used for
    /// `idle`; otherwise its last use is recorded, at most once per [`LAST_USE_RESOLUTION`].
    pub async fn session_in_use(
        &self,
        token_hash: &[u8],
        now: i64,
        idle: Duration,
    ) -> Result<SessionUse> {
        let Some(row) = read!(self, gaps::active_session(token_hash))? else {
            return Ok(SessionUse::Unknown);
        };
        let last_seen = row.last_seen_at;
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(last_seen) > idle_ms {
            self.revoke_session(&row.id).await?;
            return Ok(SessionUse::Expired);
        }
        if now - last_seen >= LAST_USE_RESOLUTION.as_millis() as i64 {
            read!(self, gaps::touch_session(&row.id, now))?;
        }
        Ok(SessionUse::Live(row.context()))
    }

    /// Revokes every session unused for `idle` at `now` (they no longer hold pruning back);
    /// returns how many.
    pub async fn expire_idle_sessions(&self, now: i64, idle: Duration) -> Result<u64> {
        let cutoff = now.saturating_sub(i64::try_from(idle.as_millis()).unwrap_or(i64::MAX));
        Ok(read!(
            self,
            gaps::expire_sessions_unused_since(cutoff, now)
        )?)
    }
}
