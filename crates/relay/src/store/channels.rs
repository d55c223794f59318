//! Channels of a workspace as members manage them: their tokens (sealed), who may use them,
//! removing one (and purging what named it), the connector a Meta deauthorization names, deletion
//! requests and retention.

use super::{Channel, ChannelKind, Result, Store, StoreError, WriteTx};
use crate::roles::Role;
use crate::sealing::Sealed;
use crate::{read, sql};
use zentro_events::clock::now_ms;

pub use zentro_relay_store::channels::{ChannelView, SealedToken};

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
        let versions = read!(self, channels::token_versions(workspace_id))?;
        let access = read!(self, channels::access_lists(workspace_id))?;
        Ok(channels
            .into_iter()
            .map(|channel| {
                let agents: Vec<String> = access
                    .iter()
                    .filter(|(c, _)| *c == channel.id)
                    .map(|(_, member)| member.clone())
                    .collect();
                let allowed = role >= Role::Admin
                    || agents.is_empty()
                    || agents.iter().any(|a| a == member_id);
                let token_version = versions
                    .iter()
                    .find(|(c, _)| *c == channel.id)
                    .map(|(_, version)| *version);
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
        let mut tx = self.begin().await?;
        let version = store_token_in(&mut tx, channel_id, sealed, by).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A channel's sealed token.
    pub async fn channel_token(&self, channel_id: &str) -> Result<Option<SealedToken>> {
        Ok(read!(self, channels::token(channel_id))?)
    }

    /// Every sealed token (for resealing under a new key).
    pub async fn all_channel_tokens(&self) -> Result<Vec<SealedToken>> {
        Ok(read!(self, channels::all_tokens())?)
    }

    /// Replaces a sealed token's bytes without a new version (same token, new key).
    pub async fn reseal_channel_token(&self, channel_id: &str, sealed: &Sealed) -> Result<()> {
        Ok(read!(self, channels::reseal_token(channel_id, sealed))?)
    }

    /// Deletes a channel's token; whether there was one.
    pub async fn revoke_channel_token(&self, channel_id: &str) -> Result<bool> {
        Ok(read!(self, channels::delete_token(channel_id))?)
    }

    /// Sets which agents may use a channel (empty: every member). Members must be the workspace's.
    pub async fn set_channel_access(
        &self,
        workspace_id: &str,
        channel_id: &str,
        agents: &[String],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sql!(tx.conn(), channels::clear_access(channel_id))?;
        for member in agents {
            if !sql!(
                tx.conn(),
                channels::member_in_workspace(member, workspace_id)
            )? {
                return Err(StoreError::NotFound(format!("the member {member}")));
            }
            sql!(tx.conn(), channels::grant_access(channel_id, member))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a channel from its workspace (its token and access list go with it), and the
    /// quarantined webhooks addressed to it: nobody who adds that id later receives them.
    pub async fn remove_channel(&self, workspace_id: &str, channel_id: &str) -> Result<Channel> {
        let channel = self.channel(workspace_id, channel_id).await?;
        let mut tx = self.begin().await?;
        sql!(
            tx.conn(),
            channels::delete_channel(channel_id, workspace_id)
        )?;
        if let Ok(kind) = channel.kind.parse::<ChannelKind>() {
            for (route_kind, by_account) in crate::routing::route_kinds_for(kind) {
                let route_id = if *by_account {
                    channel.account_id.as_deref()
                } else {
                    Some(channel.external_id.as_str())
                };
                let Some(route_id) = route_id else { continue };
                sql!(
                    tx.conn(),
                    channels::delete_quarantined_for_route(route_kind, route_id)
                )?;
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
        let last_quarantined = read!(self, channels::last_quarantine_id())?;
        let (found_events, found_quarantined) = self
            .find_mentions(workspace_id, &quoted, head, last_quarantined)
            .await?;
        let events = self
            .delete_found(Found::Events(workspace_id), found_events)
            .await?;
        let quarantined = self
            .delete_found(Found::Quarantined, found_quarantined)
            .await?;
        // What arrived while the log was read.
        let (recent_events, recent_quarantined) = self
            .purge_recent_mentions(workspace_id, identifiers, head, last_quarantined)
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
            found_events.extend(read!(
                self,
                channels::events_mentioning(workspace_id, head, identifier)
            )?);
            found_quarantined.extend(read!(
                self,
                channels::quarantined_mentioning(workspace_id, last_quarantined, identifier)
            )?);
        }
        Ok((found_events, found_quarantined))
    }

    /// Deletes, in one transaction, the events after `head` and the quarantined webhooks after
    /// `last_quarantined` that name one of the `identifiers`, and what the automation keeps of
    /// those customers (conversation states, automated replies), their consent and their
    /// campaign recipient rows; returns how
    /// many events and quarantined webhooks went.
    async fn purge_recent_mentions(
        &self,
        workspace_id: &str,
        identifiers: &[String],
        head: i64,
        last_quarantined: i64,
    ) -> Result<(i64, i64)> {
        let (mut events, mut quarantined) = (0, 0);
        let mut tx = self.begin().await?;
        for identifier in identifiers {
            super::erase_automation_of_in(&mut tx, workspace_id, identifier).await?;
            super::erase_consent_of_in(&mut tx, workspace_id, identifier).await?;
            super::erase_recipients_of_in(&mut tx, workspace_id, identifier).await?;
            let identifier = &format!("\"{identifier}\"");
            events += sql!(
                tx.conn(),
                channels::delete_recent_events_mentioning(workspace_id, head, identifier)
            )? as i64;
            quarantined += sql!(
                tx.conn(),
                channels::delete_recent_quarantined_mentioning(
                    workspace_id,
                    last_quarantined,
                    identifier
                )
            )? as i64;
        }
        tx.commit().await?;
        Ok((events, quarantined))
    }

    /// Deletes the rows `found` (seqs of a workspace's events, or quarantine ids) in transactions
    /// of at most [`super::PRUNE_CHUNK`]; returns how many went.
    async fn delete_found(&self, what: Found<'_>, mut found: Vec<i64>) -> Result<i64> {
        found.sort_unstable();
        found.dedup();
        let mut deleted = 0;
        for chunk in found.chunks(super::PRUNE_CHUNK as usize) {
            let mut tx = self.begin().await?;
            deleted += match what {
                Found::Events(workspace_id) => {
                    sql!(tx.conn(), channels::delete_events(workspace_id, chunk))?
                }
                Found::Quarantined => sql!(tx.conn(), channels::delete_quarantined(chunk))?,
            } as i64;
            tx.commit().await?;
        }
        Ok(deleted)
    }

    /// Moves the WAL into the database and truncates it (after a purge: the WAL still holds the
    /// purged rows' old pages). Retries while readers hold it; logs when it cannot.
    pub async fn checkpoint(&self) {
        for attempt in 0..20u64 {
            match self.checkpoint_once().await {
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

    /// One checkpoint attempt: 0 when the WAL was truncated (always on PostgreSQL, which has
    /// nothing to do), non-zero when readers kept it busy.
    async fn checkpoint_once(&self) -> Result<i64> {
        Ok(read!(self, channels::checkpoint())?)
    }

    /// Whether a token belonged to a device of a workspace terminated since.
    pub async fn was_terminated(&self, token_hash: &[u8]) -> Result<bool> {
        Ok(read!(self, channels::was_terminated(token_hash))?)
    }

    /// Records who (by Meta's app-scoped user id) connected a channel.
    pub async fn set_channel_connector(&self, channel_id: &str, user_id: &str) -> Result<()> {
        Ok(read!(self, channels::set_connector(channel_id, user_id))?)
    }

    /// Channels a Facebook user connected (by app-scoped id).
    pub async fn channels_connected_by(&self, user_id: &str) -> Result<Vec<Channel>> {
        let ids = read!(self, channels::channel_ids_connected_by(user_id))?;
        let all = self.channels(None).await?;
        Ok(all.into_iter().filter(|c| ids.contains(&c.id)).collect())
    }

    /// Marks a channel disconnected (the user removed the app) and forgets its token.
    pub async fn disconnect_channel(&self, channel_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sql!(tx.conn(), channels::mark_disconnected(channel_id, now_ms()))?;
        sql!(tx.conn(), channels::delete_token(channel_id))?;
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
        Ok(read!(
            self,
            channels::insert_deletion_request(code, user_hash, now, channels_removed)
        )?)
    }

    /// A deletion request's status: `(received_at, completed_at, channels_removed)`.
    pub async fn deletion_request(&self, code: &str) -> Result<Option<(i64, Option<i64>, i64)>> {
        Ok(read!(self, channels::deletion_request(code))?)
    }

    /// How many deletion requests were recorded.
    pub async fn deletion_request_count(&self) -> Result<i64> {
        Ok(read!(self, channels::deletion_request_count())?)
    }

    /// A workspace's retention periods in days: `(conversations, media)`; `None` keeps.
    pub async fn retention(&self, workspace_id: &str) -> Result<(Option<i64>, Option<i64>)> {
        read!(self, channels::retention(workspace_id))?
            .ok_or_else(|| StoreError::NotFound(format!("workspace {workspace_id}")))
    }

    /// Sets a workspace's retention periods.
    pub async fn set_retention(
        &self,
        workspace_id: &str,
        conversation_days: Option<i64>,
        media_days: Option<i64>,
    ) -> Result<()> {
        Ok(read!(
            self,
            channels::set_retention(workspace_id, conversation_days, media_days)
        )?)
    }
}

/// What [`Store::delete_found`] deletes: a workspace's events (by seq) or quarantined webhooks
/// (by id).
#[derive(Clone, Copy)]
enum Found<'a> {
    /// Events of this workspace.
    Events(&'a str),
    /// Quarantined webhooks.
    Quarantined,
}

/// Stores (or rotates) a channel's sealed token inside `tx`; returns its new version.
pub(crate) async fn store_token_in(
    tx: &mut WriteTx,
    channel_id: &str,
    sealed: &Sealed,
    by: Option<&str>,
) -> Result<i64> {
    Ok(sql!(
        tx.conn(),
        channels::store_token(channel_id, sealed, now_ms(), by)
    )?)
}
