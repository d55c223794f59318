//! The workspace's automation as stored: its saved setup, the replies the automation decided to
//! send (its outbox), and members' presence.

use serde::Serialize;

/// A workspace's saved automation setup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedSetup {
    /// 1 at the first save, one more at each (0 stands for "never saved" in requests).
    pub version: i64,
    /// The setup (`zentro_automation::Setup` as JSON).
    pub setup: serde_json::Value,
    /// When it was saved (UTC ms).
    pub saved_at: i64,
    /// The member who saved it.
    pub saved_by: Option<String>,
}

/// A reply the automation decided to send, as the relay's outbox keeps it until Meta takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutomatedMessage {
    /// The outbox id (the `client_id` of its `message.sent` event).
    pub id: String,
    /// The workspace.
    pub workspace_id: String,
    /// `whatsapp`, `messenger` or `instagram`.
    pub channel_kind: String,
    /// The channel's Meta id (phone number id, Page id, Instagram account id).
    pub channel_external_id: String,
    /// The customer's id on that channel.
    pub customer_id: String,
    /// The rule that decided it (`greeting`, `away`, `menu`, …).
    pub rule: String,
    /// What is sent to Meta (JSON).
    pub message: String,
    /// The text as the thread shows it.
    pub body: String,
    /// When the customer last wrote (UTC ms): the messaging window opened then.
    pub window_opened_at: i64,
    /// `queued`, `sending`, `sent`, `unknown`, `failed` or `expired`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it may be tried next (UTC ms).
    pub next_attempt_at: i64,
    /// When the automation decided it (UTC ms).
    pub decided_at: i64,
    /// Meta's id of the message, once sent.
    pub external_id: Option<String>,
    /// Why the last attempt failed (never a secret).
    pub error: Option<String>,
}

/// What a member's presence is computed from, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceInput {
    /// The workspace.
    pub workspace_id: String,
    /// The member.
    pub member_id: String,
    /// What the member chose: `available` (also when they never chose) or `away`.
    pub status: String,
    /// The presence the log last announced (`offline` when never announced).
    pub announced: String,
    /// The latest use of any of the member's live (not revoked) sessions (UTC ms), if any.
    pub last_seen_at: Option<i64>,
}

/// A member's presence, as `GET /v1/presence` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresenceRow {
    /// The member.
    pub member_id: String,
    /// What the member chose: `available` or `away`.
    pub status: String,
    /// The effective presence: `offline` when none of the member's live sessions was seen within
    /// the presence window (90 s), else `status`.
    pub presence: String,
    /// The latest use of any of the member's live sessions (UTC ms), if any.
    pub last_seen_at: Option<i64>,
}

impl PresenceInput {
    /// The effective presence at `now`: `offline` unless a live session was seen at or after
    /// `now - window_ms`, else the member's status.
    pub fn effective(&self, now: i64, window_ms: i64) -> &str {
        match self.last_seen_at {
            Some(seen) if seen >= now.saturating_sub(window_ms) => &self.status,
            _ => "offline",
        }
    }

    /// The row `GET /v1/presence` lists, at `now`.
    pub fn row(&self, now: i64, window_ms: i64) -> PresenceRow {
        PresenceRow {
            member_id: self.member_id.clone(),
            status: self.status.clone(),
            presence: self.effective(now, window_ms).to_string(),
            last_seen_at: self.last_seen_at,
        }
    }
}

/// A new state for one automated reply (one of many changed in one statement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageStateChange {
    /// The reply's id.
    pub id: String,
    /// `queued`, `sending`, `sent`, `unknown`, `failed` or `expired`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it is next tried (UTC ms).
    pub next_attempt_at: i64,
    /// Why the last attempt failed (no secrets).
    pub error: Option<String>,
}
