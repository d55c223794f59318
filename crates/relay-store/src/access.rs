//! Per-channel access: what of the log a member may read, and which tokens a member's devices hold.

use crate::StoredEvent;

/// A page of the log as one member may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadablePage {
    /// The events the member may read, in order.
    pub events: Vec<StoredEvent>,
    /// The last seq looked at (events the member may not read included): where the next read
    /// starts, so skipped events never hold a device back. `after` when nothing was there.
    pub scanned_to: i64,
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

/// An event as both backends read it: its columns, the payload still JSON text.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: String,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// The member who published a team event.
    pub author: Option<String>,
    /// The event's JSON, as stored.
    pub payload: String,
}

impl From<EventRow> for StoredEvent {
    /// The event with its payload parsed (`null` if the stored text is not JSON).
    fn from(r: EventRow) -> Self {
        Self {
            seq: r.seq,
            kind: r.kind,
            at: r.at,
            author: r.author,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}
