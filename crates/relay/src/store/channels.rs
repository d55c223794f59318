//! Channels of a workspace as members manage them: their tokens (sealed), who may use them,
//! removing one (and purging what named it), the connector a Meta deauthorization names, deletion
//! requests and retention.

use serde::Serialize;
use sqlx::Row;

use super::{Channel, ChannelKind, Result, Store, StoreError};
use crate::roles::Role;
use crate::sealing::Sealed;
use zentro_events::clock::now_ms;

/// A channel as a member sees it: whether they may use it and the version of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// The channel's own fields, flattened into the view's JSON.
    #[serde(flatten)]
    pub channel: Channel,
    /// The version of its stored token, if one is stored.
    pub token_version: Option<i64>,
    /// Agents allowed on it; empty means every member.
    pub agents: Vec<String>,
    /// Whether the asking member may use it (and fetch its token).
    pub allowed: bool,
}

/// A sealed token with its version.
#[derive(Debug, Clone)]
pub struct SealedToken {
    /// The channel the token is for; sealed with its id, the token opens for no other channel.
    pub channel_id: String,
    /// The token encrypted under a token key (the key's id, the nonce and the ciphertext).
    pub sealed: Sealed,
    /// Grows with every rotation.
    pub version: i64,
}

/// The condition (on `quarantine AS q`, the workspace bound to `?3`) that a quarantined webhook is
/// addressed to one of the workspace's channels.
const OWN_QUARANTINE: &str = "EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = ?3 AND (
    (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
    OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
    OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
    OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))";

impl Store {
    // ----- channels and their tokens -----

    /// One channel of a workspace.
    pub async fn channel(&self, workspace_id: &str, channel_id: &str) -> Result<Channel> {
        self.channels(Some(workspace_id))
            .await?
            .into_iter()
            .find(|c| c.id == channel_id)
            .ok_or_else(|| StoreError::NotFound("the channel".into()))
    }

    /// The workspace's channels as `member_id` (with `role`) sees them.
    pub async fn channel_views(
        &self,
        workspace_id: &str,
        member_id: &str,
        role: Role,
    ) -> Result<Vec<ChannelView>> {
        let channels = self.channels(Some(workspace_id)).await?;
        let versions = sqlx::query(
            "SELECT t.channel_id, t.version FROM channel_tokens t JOIN channels c ON c.id = t.channel_id WHERE c.workspace_id = ?",
        )
        .bind(workspace_id)
        .fetch_all(self.sqlite_pool())
        .await?;
        let access = sqlx::query(
            "SELECT a.channel_id, a.member_id FROM channel_access a JOIN channels c ON c.id = a.channel_id WHERE c.workspace_id = ? ORDER BY a.member_id",
        )
        .bind(workspace_id)
        .fetch_all(self.sqlite_pool())
        .await?;
        Ok(channels
            .into_iter()
            .map(|channel| {
                let agents: Vec<String> = access
                    .iter()
                    .filter(|r| r.get::<&str, _>(0) == channel.id)
                    .map(|r| r.get(1))
                    .collect();
                let allowed = role >= Role::Admin
                    || agents.is_empty()
                    || agents.iter().any(|a| a == member_id);
                let token_version = versions
                    .iter()
                    .find(|r| r.get::<&str, _>(0) == channel.id)
                    .map(|r| r.get(1));
                ChannelView {
                    channel,
                    token_version,
                    agents,
                    allowed,
                }
            })
            .collect())
    }

    /// Stores (or rotates) a channel's sealed token; returns its new version.
    pub async fn set_channel_token(
        &self,
        channel_id: &str,
        sealed: &Sealed,
        by: Option<&str>,
    ) -> Result<i64> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let version = store_token_in(&mut tx, channel_id, sealed, by).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A channel's sealed token.
    pub async fn channel_token(&self, channel_id: &str) -> Result<Option<SealedToken>> {
        Ok(sqlx::query(
            "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens WHERE channel_id = ?",
        )
        .bind(channel_id)
        .fetch_optional(self.sqlite_pool())
        .await?
        .map(|r| sealed_token(&r)))
    }

    /// Every sealed token (for resealing under a new key).
    pub async fn all_channel_tokens(&self) -> Result<Vec<SealedToken>> {
        Ok(sqlx::query(
            "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens ORDER BY channel_id",
        )
        .fetch_all(self.sqlite_pool())
        .await?
        .iter()
        .map(sealed_token)
        .collect())
    }

    /// Replaces a sealed token's bytes without a new version (same token, new key).
    pub async fn reseal_channel_token(&self, channel_id: &str, sealed: &Sealed) -> Result<()> {
        sqlx::query(
            "UPDATE channel_tokens SET key_id = ?, nonce = ?, ciphertext = ? WHERE channel_id = ?",
        )
        .bind(&sealed.key_id)
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(channel_id)
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }

    /// Deletes a channel's token; whether there was one.
    pub async fn revoke_channel_token(&self, channel_id: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM channel_tokens WHERE channel_id = ?")
                .bind(channel_id)
                .execute(self.sqlite_pool())
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// Sets which agents may use a channel (empty: every member). Members must be the workspace's.
    pub async fn set_channel_access(
        &self,
        workspace_id: &str,
        channel_id: &str,
        agents: &[String],
    ) -> Result<()> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM channel_access WHERE channel_id = ?")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        for member in agents {
            let known = sqlx::query("SELECT 1 FROM members WHERE id = ? AND workspace_id = ?")
                .bind(member)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !known {
                return Err(StoreError::NotFound(format!("the member {member}")));
            }
            sqlx::query(
                "INSERT OR IGNORE INTO channel_access (channel_id, member_id) VALUES (?, ?)",
            )
            .bind(channel_id)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a channel from its workspace (its token and access list go with it), and the
    /// quarantined webhooks addressed to it: nobody who adds that id later receives them.
    pub async fn remove_channel(&self, workspace_id: &str, channel_id: &str) -> Result<Channel> {
        let channel = self.channel(workspace_id, channel_id).await?;
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM channels WHERE id = ? AND workspace_id = ?")
            .bind(channel_id)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        if let Ok(kind) = channel.kind.parse::<ChannelKind>() {
            for (route_kind, by_account) in crate::routing::route_kinds_for(kind) {
                let route_id = if *by_account {
                    channel.account_id.as_deref()
                } else {
                    Some(channel.external_id.as_str())
                };
                let Some(route_id) = route_id else { continue };
                sqlx::query("DELETE FROM quarantine WHERE route_kind = ? AND route_id = ?")
                    .bind(route_kind)
                    .bind(route_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(channel)
    }

    /// Deletes a workspace's events that name any of `identifiers` as a JSON string (a customer's
    /// id or phone), and quarantined webhooks addressed to its own channels that do (never another
    /// workspace's, nor webhooks addressed to nobody's); returns `(events, quarantined)`. With
    /// `secure_delete` the freed bytes are overwritten.
    ///
    /// The log is searched without the writer lock (events up to the current head never change),
    /// and what was found is deleted in short transactions, so webhooks keep committing while a
    /// large log is read; only events appended meanwhile and the quarantine are searched under
    /// the lock.
    pub async fn purge_mentions(
        &self,
        workspace_id: &str,
        identifiers: &[String],
    ) -> Result<(i64, i64)> {
        let quoted: Vec<String> = identifiers.iter().map(|i| format!("\"{i}\"")).collect();
        let head = self.head(workspace_id).await?;
        let last_quarantined: i64 =
            sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM quarantine")
                .fetch_one(self.sqlite_pool())
                .await?;
        let (found_events, found_quarantined) = self
            .find_mentions(workspace_id, &quoted, head, last_quarantined)
            .await?;
        let events = self
            .delete_found(
                "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (SELECT value FROM json_each(?2))",
                workspace_id,
                found_events,
            )
            .await?;
        let quarantined = self
            .delete_found(
                "DELETE FROM quarantine WHERE id IN (SELECT value FROM json_each(?2))",
                workspace_id,
                found_quarantined,
            )
            .await?;
        // What arrived while the log was read.
        let (recent_events, recent_quarantined) = self
            .purge_recent_mentions(workspace_id, &quoted, head, last_quarantined)
            .await?;
        Ok((events + recent_events, quarantined + recent_quarantined))
    }

    /// The seqs of the workspace's events up to `head`, and the ids of its quarantined webhooks
    /// up to `last_quarantined`, that name one of the `quoted` identifiers (read without a lock).
    async fn find_mentions(
        &self,
        workspace_id: &str,
        quoted: &[String],
        head: i64,
        last_quarantined: i64,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let (mut found_events, mut found_quarantined) = (Vec::new(), Vec::new());
        for identifier in quoted {
            found_events.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT seq FROM events WHERE workspace_id = ? AND seq <= ? AND instr(payload, ?) > 0",
                )
                .bind(workspace_id)
                .bind(head)
                .bind(identifier)
                .fetch_all(self.sqlite_pool())
                .await?,
            );
            found_quarantined.extend(
                sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT id FROM quarantine q WHERE id <= ?1 AND instr(CAST(body AS TEXT), ?2) > 0
                     AND {OWN_QUARANTINE}"
                ))
                .bind(last_quarantined)
                .bind(identifier)
                .bind(workspace_id)
                .fetch_all(self.sqlite_pool())
                .await?,
            );
        }
        Ok((found_events, found_quarantined))
    }

    /// Deletes, in one transaction, the events after `head` and the quarantined webhooks after
    /// `last_quarantined` that name one of the `quoted` identifiers; returns how many of each.
    async fn purge_recent_mentions(
        &self,
        workspace_id: &str,
        quoted: &[String],
        head: i64,
        last_quarantined: i64,
    ) -> Result<(i64, i64)> {
        let (mut events, mut quarantined) = (0, 0);
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        for identifier in quoted {
            events += sqlx::query(
                "DELETE FROM events WHERE workspace_id = ? AND seq > ? AND instr(payload, ?) > 0",
            )
            .bind(workspace_id)
            .bind(head)
            .bind(identifier)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
            quarantined += sqlx::query(&format!(
                "DELETE FROM quarantine AS q WHERE id > ?1 AND instr(CAST(body AS TEXT), ?2) > 0
                 AND {OWN_QUARANTINE}"
            ))
            .bind(last_quarantined)
            .bind(identifier)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        }
        tx.commit().await?;
        Ok((events, quarantined))
    }

    /// Deletes the rows `found` (ids or seqs, bound as a JSON array to `?2`; `?1` is the workspace,
    /// for statements that need it) in transactions of at most [`super::PRUNE_CHUNK`]; returns how many went.
    async fn delete_found(
        &self,
        statement: &'static str,
        workspace_id: &str,
        mut found: Vec<i64>,
    ) -> Result<i64> {
        found.sort_unstable();
        found.dedup();
        let mut deleted = 0;
        for chunk in found.chunks(super::PRUNE_CHUNK as usize) {
            let keys = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
            let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
            deleted += sqlx::query(statement)
                .bind(workspace_id)
                .bind(&keys)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            tx.commit().await?;
        }
        Ok(deleted)
    }

    /// Moves the WAL into the database and truncates it (after a purge: the WAL still holds the
    /// purged rows' old pages). Retries while readers hold it; logs when it cannot.
    pub async fn checkpoint(&self) {
        for attempt in 0..20u64 {
            match sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(self.sqlite_pool())
                .await
            {
                Ok(0) => return,
                Ok(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await
                }
                Err(error) => {
                    tracing::warn!(%error, "checkpoint failed");
                    return;
                }
            }
        }
        tracing::warn!("the relay's WAL could not be truncated; it will be at the next checkpoint");
    }

    /// Whether a token belonged to a device of a workspace terminated since.
    pub async fn was_terminated(&self, token_hash: &[u8]) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM terminated_sessions WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(self.sqlite_pool())
                .await?
                .is_some(),
        )
    }

    /// Records who (by Meta's app-scoped user id) connected a channel.
    pub async fn set_channel_connector(&self, channel_id: &str, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE channels SET connected_by = ? WHERE id = ?")
            .bind(user_id)
            .bind(channel_id)
            .execute(self.sqlite_pool())
            .await?;
        Ok(())
    }

    /// Channels a Facebook user connected (by app-scoped id).
    pub async fn channels_connected_by(&self, user_id: &str) -> Result<Vec<Channel>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM channels WHERE connected_by = ? ORDER BY id")
                .bind(user_id)
                .fetch_all(self.sqlite_pool())
                .await?;
        let all = self.channels(None).await?;
        Ok(all.into_iter().filter(|c| ids.contains(&c.id)).collect())
    }

    /// Marks a channel disconnected (the user removed the app) and forgets its token.
    pub async fn disconnect_channel(&self, channel_id: &str) -> Result<()> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE channels SET disconnected_at = coalesce(disconnected_at, ?) WHERE id = ?",
        )
        .bind(now_ms())
        .bind(channel_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM channel_tokens WHERE channel_id = ?")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a deletion request (the user by hash only) and its outcome.
    pub async fn record_deletion_request(
        &self,
        code: &str,
        user_hash: &str,
        channels_removed: i64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO deletion_requests (code, user_hash, received_at, completed_at, channels_removed) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(code)
        .bind(user_hash)
        .bind(now)
        .bind(now)
        .bind(channels_removed)
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }

    /// A deletion request's status: `(received_at, completed_at, channels_removed)`.
    pub async fn deletion_request(&self, code: &str) -> Result<Option<(i64, Option<i64>, i64)>> {
        Ok(sqlx::query(
            "SELECT received_at, completed_at, channels_removed FROM deletion_requests WHERE code = ?",
        )
        .bind(code)
        .fetch_optional(self.sqlite_pool())
        .await?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// How many deletion requests were recorded.
    pub async fn deletion_request_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM deletion_requests")
            .fetch_one(self.sqlite_pool())
            .await?)
    }

    /// A workspace's retention periods in days: `(conversations, media)`; `None` keeps.
    pub async fn retention(&self, workspace_id: &str) -> Result<(Option<i64>, Option<i64>)> {
        let row = sqlx::query(
            "SELECT conversation_retention_days, media_retention_days FROM workspaces WHERE id = ?",
        )
        .bind(workspace_id)
        .fetch_optional(self.sqlite_pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("workspace {workspace_id}")))?;
        Ok((row.get(0), row.get(1)))
    }

    /// Sets a workspace's retention periods.
    pub async fn set_retention(
        &self,
        workspace_id: &str,
        conversation_days: Option<i64>,
        media_days: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE workspaces SET conversation_retention_days = ?, media_retention_days = ? WHERE id = ?",
        )
        .bind(conversation_days)
        .bind(media_days)
        .bind(workspace_id)
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }
}

fn sealed_token(r: &sqlx::sqlite::SqliteRow) -> SealedToken {
    SealedToken {
        channel_id: r.get(0),
        sealed: Sealed {
            key_id: r.get(1),
            nonce: r.get(2),
            ciphertext: r.get(3),
        },
        version: r.get(4),
    }
}

/// Stores (or rotates) a channel's sealed token inside `tx`; returns its new version.
pub(crate) async fn store_token_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    channel_id: &str,
    sealed: &Sealed,
    by: Option<&str>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO channel_tokens (channel_id, key_id, nonce, ciphertext, version, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
         ON CONFLICT (channel_id) DO UPDATE SET key_id = ?2, nonce = ?3, ciphertext = ?4,
            version = channel_tokens.version + 1, updated_at = ?5, updated_by = ?6
         RETURNING version",
    )
    .bind(channel_id)
    .bind(&sealed.key_id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(now_ms())
    .bind(by)
    .fetch_one(&mut **tx)
    .await?)
}
