//! Per-channel access where data flows (issue 19, item 2): what of the log a member may read, a
//! channel's history for a member who was just allowed on it, and which channel tokens a member's
//! devices were handed (to advise rotating them when the member goes or loses the channel).

use std::collections::HashSet;

pub use zentro_relay_store::access::{ReadablePage, RotationAdvice};

use super::{Result, SessionContext, Store, StoredEvent};
use crate::read;

impl Store {
    /// The channels of its workspace a member may not use, read now (so a change of role or of a
    /// channel's access list counts from the next read): none for admins and owners; for an
    /// agent, every channel whose access list is not empty and does not name them.
    pub async fn channels_denied(
        &self,
        workspace_id: &str,
        member_id: &str,
    ) -> Result<HashSet<String>> {
        let rows = read!(self, access::channels_denied(workspace_id, member_id))?;
        Ok(rows.into_iter().collect())
    }

    /// Events after `after` (at most `limit` looked at) that the session's member may read:
    /// those of channels they may not use are skipped (webhooks, replies and team events about
    /// their conversations); workspace-wide events are everyone's. Seqs are never renumbered.
    pub async fn readable_events_after(
        &self,
        session: &SessionContext,
        after: i64,
        limit: i64,
    ) -> Result<ReadablePage> {
        let rows = read!(
            self,
            access::events_after(&session.workspace_id, after, limit)
        )?;
        let scanned_to = rows.last().map_or(after, |(e, _)| e.seq);
        let denied = if rows.iter().any(|(_, channel)| channel.is_some()) {
            self.channels_denied(&session.workspace_id, &session.member_id)
                .await?
        } else {
            HashSet::new()
        };
        let events = rows
            .into_iter()
            .filter(|(_, channel)| channel.as_ref().is_none_or(|c| !denied.contains(c)))
            .map(|(event, _)| event)
            .collect();
        Ok(ReadablePage { events, scanned_to })
    }

    /// Whether the session's member may publish a device event with this payload: not about a
    /// conversation or contact of a channel they may not use (`channel_kind` and
    /// `channel_external_id` at the top, or in `conversation`, `contact` and `with`).
    pub async fn may_write_about(
        &self,
        session: &SessionContext,
        payload: &serde_json::Value,
    ) -> Result<bool> {
        let named: Vec<(&str, &str)> = [
            Some(payload),
            payload.get("conversation"),
            payload.get("contact"),
            payload.get("with"),
        ]
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v.get("channel_kind")?.as_str()?,
                v.get("channel_external_id")?.as_str()?,
            ))
        })
        .collect();
        if named.is_empty() {
            return Ok(true);
        }
        let denied = self
            .channels_denied(&session.workspace_id, &session.member_id)
            .await?;
        if denied.is_empty() {
            return Ok(true);
        }
        for (kind, external_id) in named {
            let id = read!(
                self,
                access::channel_id_of(&session.workspace_id, kind, external_id)
            )?;
            if id.is_some_and(|id| denied.contains(&id)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A channel's events with `after < seq <= before`, in order, at most `limit`: the history
    /// the relay still holds, for a device whose member was just allowed on the channel.
    pub async fn channel_events(
        &self,
        workspace_id: &str,
        channel_id: &str,
        after: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        Ok(read!(
            self,
            access::channel_events(workspace_id, channel_id, after, before, limit)
        )?)
    }

    /// The channels whose current token a member's devices were handed (the audit log's
    /// `channel.token_issued`, at the token's present version): rotating them is advised when the
    /// member is removed, deactivated or loses the channel.
    pub async fn tokens_held_by(&self, workspace_id: &str, member_id: &str) -> Result<Vec<String>> {
        Ok(read!(
            self,
            access::tokens_held_by(workspace_id, member_id)
        )?)
    }

    /// Per channel, the members whose devices hold its current token (the audit log's
    /// `channel.token_issued` at the token's present version) but who may no longer use it:
    /// removed, deactivated, or an agent no longer on the channel's access list. Rotating the
    /// token (a new version) ends the advice.
    pub async fn rotation_advice(&self, workspace_id: &str) -> Result<Vec<RotationAdvice>> {
        Ok(read!(self, access::rotation_advice(workspace_id))?)
    }
}
