//! A desk that was away longer than the relay keeps events: the relay says which events it pruned
//! before this device received them (a gap); the desk then applies every erasure the relay
//! remembers — exactly as it applies a `contact.erased` event (`rights::apply_erasure`) —
//! moves its cursor past the gap, and goes on with what remains. The UI says so
//! ([`crate::desk::SyncState::Resynced`]).

use serde::Deserialize;
use zentro_events::clock::now_ms;

use crate::cache::{Cache, CacheError};
use crate::relay_client::{RelayClient, SyncError};
use crate::vault::Secret;

/// Events the relay pruned before this device received them: seqs `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Gap {
    /// The first missing seq (this device's cursor + 1).
    pub from: i64,
    /// The last missing seq.
    pub to: i64,
}

/// What the desk did about a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resync {
    /// The first seq this device never received.
    pub from: i64,
    /// The last one.
    pub to: i64,
    /// Erasures the relay remembers (all applied).
    pub erasures: usize,
    /// Contacts of this cache they erased.
    pub contacts_erased: usize,
}

/// The stream's `gap` event: `{"gap": {from, to}}`.
#[derive(Deserialize)]
struct GapEvent {
    gap: Gap,
}

/// The gap a stream event announces, if it is one (`event: gap`, which comes first).
pub(crate) fn stream_gap(data: &str) -> Option<Gap> {
    if !data.starts_with("{\"gap\"") {
        return None;
    }
    serde_json::from_str::<GapEvent>(data).ok().map(|e| e.gap)
}

/// Recovers from a gap: applies every erasure the relay remembers ([`RelayClient::erasures`]) and
/// moves the cursor to the gap's end in one transaction, shreds what was erased, and acknowledges
/// the new cursor.
pub async fn recover(
    cache: &Cache,
    client: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    gap: Gap,
) -> Result<Resync, SyncError> {
    let erasures = client.erasures(token).await?;
    let mut tx = cache
        .pool()
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(CacheError::Query)?;
    let mut contacts_erased = 0;
    for notice in &erasures {
        contacts_erased += crate::rights::apply_erasure(&mut tx, notice).await?;
    }
    sqlx::query(
        "INSERT INTO sync_cursors (workspace_id, applied_seq, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET applied_seq = max(applied_seq, excluded.applied_seq),
             updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(gap.to)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(CacheError::Query)?;
    tx.commit().await.map_err(CacheError::Query)?;
    crate::rights::cleanup(cache).await?;
    client.acknowledge(token, gap.to).await?;
    tracing::warn!(
        from = gap.from,
        to = gap.to,
        erasures = erasures.len(),
        contacts_erased,
        "the relay pruned events this device never received: remembered erasures applied, syncing what remains"
    );
    Ok(Resync {
        from: gap.from,
        to: gap.to,
        erasures: erasures.len(),
        contacts_erased,
    })
}
