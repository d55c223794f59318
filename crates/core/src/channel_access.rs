//! Per-channel access on this desk (issue 19, item 2). The relay never sends a member the events
//! of a channel they may not use; this keeps the cache in line when access changes:
//!
//! - A channel the member lost: its customers' contacts, conversations, messages, notes, search
//!   rows and media files are deleted as an erasure deletes them ([`crate::rights`]'s secure
//!   delete, files overwritten, WAL truncated), and the channel is remembered as denied.
//! - A channel remembered as denied that the member may use again: the history the relay still
//!   holds for it, up to this desk's cursor, is fetched ([`RelayClient::channel_history`]) and
//!   applied (later events arrive with the log as usual).
//!
//! Run on every `channel.changed` event (with the channel tokens) and at start.

use serde::Serialize;
use zentro_events::clock::now_ms;

use crate::cache::{Cache, CacheError};
use crate::relay_client::{RelayClient, SyncError};
use crate::vault::Secret;

/// What changed on this desk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessChange {
    /// Channels the member lost, by name: their data was deleted from this computer.
    pub lost: Vec<String>,
    /// Channels the member was given, by name: their history was fetched.
    pub gained: Vec<String>,
    /// Conversations deleted.
    pub conversations_deleted: i64,
    /// Messages deleted.
    pub messages_deleted: i64,
    /// Media files overwritten and deleted.
    pub media_files_deleted: i64,
    /// Events of the gained channels applied.
    pub history_applied: usize,
}

impl AccessChange {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.lost.is_empty() && self.gained.is_empty()
    }

    /// For people: what happened and why.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.lost.is_empty() {
            parts.push(format!(
                "An admin took away your access to {}: its conversations ({}), messages ({}) and media files ({}) were deleted from this computer.",
                self.lost.join(", "),
                self.conversations_deleted,
                self.messages_deleted,
                self.media_files_deleted
            ));
        }
        if !self.gained.is_empty() {
            parts.push(format!(
                "You were given access to {}: its history the relay keeps ({} events) was fetched.",
                self.gained.join(", "),
                self.history_applied
            ));
        }
        parts.join(" ")
    }
}

/// Why access could not be brought in line (retried on the next change or start).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The relay could not be asked.
    #[error(transparent)]
    Relay(#[from] SyncError),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The `sync_cursors` key that remembers a channel as denied (and, while its history is fetched,
/// how far that got).
fn denied_key(workspace_id: &str, channel_id: &str) -> String {
    format!("{workspace_id}#denied:{channel_id}")
}

/// Brings this cache in line with the channels the member may use now (see the module docs).
pub async fn reconcile(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    workspace_id: &str,
) -> Result<AccessChange, AccessError> {
    let channels = relay.channels(token).await?;
    let mut change = AccessChange::default();
    for channel in &channels {
        let key = denied_key(workspace_id, &channel.id);
        let remembered = sqlx::query_scalar!(
            "SELECT applied_seq FROM sync_cursors WHERE workspace_id = ?",
            key
        )
        .fetch_optional(cache.pool())
        .await
        .map_err(CacheError::from)?;
        let name = if channel.display_name.is_empty() {
            channel.cache_id()
        } else {
            channel.display_name.clone()
        };
        match (channel.allowed, remembered) {
            (false, None) => {
                let erased = delete_channel(cache, &channel.cache_id(), &key).await?;
                change.conversations_deleted += erased.conversations;
                change.messages_deleted += erased.messages;
                change.media_files_deleted += erased.media_files;
                change.lost.push(name);
            }
            (false, Some(_)) => {
                // Still denied; anything that slipped in meanwhile goes too.
                let erased = delete_channel(cache, &channel.cache_id(), &key).await?;
                change.conversations_deleted += erased.conversations;
                change.messages_deleted += erased.messages;
                change.media_files_deleted += erased.media_files;
            }
            (true, Some(_)) => {
                change.history_applied +=
                    fetch_history(cache, relay, token, workspace_id, &channel.id, &key).await?;
                change.gained.push(name);
            }
            (true, None) => {}
        }
    }
    if change.conversations_deleted > 0 || !change.lost.is_empty() {
        crate::rights::cleanup(cache).await?;
    }
    if !change.is_empty() {
        tracing::info!(lost = ?change.lost, gained = ?change.gained, deleted = change.conversations_deleted, history = change.history_applied, "channel access changed");
    }
    Ok(change)
}

/// Deletes every customer of a channel (`kind:external id`) with an erasure's secure delete, and
/// remembers the channel as denied; one transaction.
async fn delete_channel(
    cache: &Cache,
    cache_channel_id: &str,
    key: &str,
) -> Result<crate::rights::Erased, CacheError> {
    let mut tx = cache.pool().begin().await?;
    let contacts = sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM contacts WHERE channel_id = ?"#,
        cache_channel_id
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut total = crate::rights::Erased::default();
    for contact in contacts {
        let erased = crate::rights::erase_in(&mut tx, contact).await?;
        total.conversations += erased.conversations;
        total.messages += erased.messages;
        total.media_files += erased.media_files;
    }
    let now = now_ms();
    sqlx::query!(
        "INSERT INTO sync_cursors (workspace_id, applied_seq, updated_at) VALUES (?, 0, ?)
         ON CONFLICT (workspace_id) DO NOTHING",
        key,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(total)
}

/// Applies a channel's history up to this desk's cursor (under its own cursor, `key`: apply is
/// idempotent and the main cursor stays where it is), then forgets that the channel was denied.
async fn fetch_history(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    workspace_id: &str,
    channel_id: &str,
    key: &str,
) -> Result<usize, AccessError> {
    let before = crate::apply::cursor(cache, workspace_id).await?;
    let mut after = crate::apply::cursor(cache, key).await?;
    let mut applied = 0;
    while after < before {
        let (events, next) = relay
            .channel_history(token, channel_id, after, before)
            .await?;
        applied += crate::apply::apply_batch(cache, key, &events)
            .await?
            .applied;
        if next <= after {
            break;
        }
        after = next;
    }
    sqlx::query!("DELETE FROM sync_cursors WHERE workspace_id = ?", key)
        .execute(cache.pool())
        .await
        .map_err(CacheError::from)?;
    Ok(applied)
}
