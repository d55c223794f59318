//! Per-channel access where data flows (issue 19, item 2): what of the log a member may read, a
//! channel's history for a member who was just allowed on it, and which channel tokens a member's
//! devices were handed (to advise rotating them when the member goes or loses the channel).

use std::collections::HashSet;

use sqlx::Row;

use super::{Result, SessionContext, Store, StoredEvent};

/// A page of the log as one member may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadablePage {
    /// The events the member may read, in order.
    pub events: Vec<StoredEvent>,
    /// The last seq looked at (events the member may not read included): where the next read
    /// starts, so skipped events never hold a device back. `after` when nothing was there.
    pub scanned_to: i64,
}

fn stored_event(r: &sqlx::sqlite::SqliteRow) -> StoredEvent {
    StoredEvent {
        seq: r.get("seq"),
        kind: r.get("kind"),
        at: r.get("at"),
        author: r.get("author"),
        payload: serde_json::from_str(r.get::<&str, _>("payload"))
            .unwrap_or(serde_json::Value::Null),
    }
}

impl Store {
    /// The channels of its workspace a member may not use, read now (so a change of role or of a
    /// channel's access list counts from the next read): none for admins and owners; for an
    /// agent, every channel whose access list is not empty and does not name them.
    pub async fn channels_denied(
        &self,
        workspace_id: &str,
        member_id: &str,
    ) -> Result<HashSet<String>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT c.id FROM channels c JOIN members m ON m.id = ?2 AND m.workspace_id = c.workspace_id
             WHERE c.workspace_id = ?1 AND m.role = 'agent'
               AND EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id)
               AND NOT EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id AND a.member_id = m.id)",
        )
        .bind(workspace_id)
        .bind(member_id)
        .fetch_all(self.sqlite_pool())
        .await?;
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
        let rows = sqlx::query(
            "SELECT seq, kind, at, payload, author, channel_id FROM events
             WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(&session.workspace_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.sqlite_pool())
        .await?;
        let scanned_to = rows.last().map_or(after, |r| r.get("seq"));
        let denied = if rows
            .iter()
            .any(|r| r.get::<Option<&str>, _>("channel_id").is_some())
        {
            self.channels_denied(&session.workspace_id, &session.member_id)
                .await?
        } else {
            HashSet::new()
        };
        let events = rows
            .iter()
            .filter(|r| {
                r.get::<Option<&str>, _>("channel_id")
                    .is_none_or(|c| !denied.contains(c))
            })
            .map(stored_event)
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
            let id: Option<String> = sqlx::query_scalar(
                "SELECT id FROM channels WHERE workspace_id = ? AND kind = ? AND external_id = ?",
            )
            .bind(&session.workspace_id)
            .bind(kind)
            .bind(external_id)
            .fetch_optional(self.sqlite_pool())
            .await?;
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
        let rows = sqlx::query(
            "SELECT seq, kind, at, payload, author FROM events
             WHERE workspace_id = ? AND channel_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        )
        .bind(workspace_id)
        .bind(channel_id)
        .bind(after)
        .bind(before)
        .bind(limit)
        .fetch_all(self.sqlite_pool())
        .await?;
        Ok(rows.iter().map(stored_event).collect())
    }

    /// The channels whose current token a member's devices were handed (the audit log's
    /// `channel.token_issued`, at the token's present version): rotating them is advised when the
    /// member is removed, deactivated or loses the channel.
    pub async fn tokens_held_by(&self, workspace_id: &str, member_id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT t.channel_id FROM audit_log l
             JOIN channel_tokens t ON t.channel_id = json_extract(l.details, '$.channel_id')
                                  AND t.version = json_extract(l.details, '$.version')
             JOIN channels c ON c.id = t.channel_id AND c.workspace_id = l.workspace_id
             WHERE l.workspace_id = ? AND l.actor_id = ? AND l.action = 'channel.token_issued'
             ORDER BY t.channel_id",
        )
        .bind(workspace_id)
        .bind(member_id)
        .fetch_all(self.sqlite_pool())
        .await?)
    }

    /// Per channel, the members whose devices hold its current token (the audit log's
    /// `channel.token_issued` at the token's present version) but who may no longer use it:
    /// removed, deactivated, or an agent no longer on the channel's access list. Rotating the
    /// token (a new version) ends the advice.
    pub async fn rotation_advice(&self, workspace_id: &str) -> Result<Vec<RotationAdvice>> {
        let rows = sqlx::query(
            "SELECT DISTINCT t.channel_id, l.actor_id, l.actor_email FROM audit_log l
             JOIN channel_tokens t ON t.channel_id = json_extract(l.details, '$.channel_id')
                                  AND t.version = json_extract(l.details, '$.version')
             JOIN channels c ON c.id = t.channel_id AND c.workspace_id = l.workspace_id
             LEFT JOIN members m ON m.id = l.actor_id AND m.workspace_id = l.workspace_id
             WHERE l.workspace_id = ? AND l.action = 'channel.token_issued' AND l.actor_id IS NOT NULL
               AND (m.id IS NULL OR m.status <> 'active'
                    OR (m.role = 'agent'
                        AND EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id)
                        AND NOT EXISTS (SELECT 1 FROM channel_access a WHERE a.channel_id = c.id AND a.member_id = m.id)))
             ORDER BY t.channel_id, l.actor_email",
        )
        .bind(workspace_id)
        .fetch_all(self.sqlite_pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| RotationAdvice {
                channel_id: r.get(0),
                member_id: r.get(1),
                email: r.get::<Option<String>, _>(2).unwrap_or_default(),
            })
            .collect())
    }
}

/// A channel whose token a member who may no longer use it still holds on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationAdvice {
    /// The channel whose token an admin should rotate.
    pub channel_id: String,
    /// The member (perhaps removed).
    pub member_id: String,
    /// Their email, as the audit log kept it.
    pub email: String,
}
