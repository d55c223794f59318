//! Gaps in a workspace's log (pruned or erased), erasure receipts, and sessions' last use.

use std::time::Duration;

use serde::Serialize;

use crate::SessionContext;

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

/// A bearer token's session, as the relay's `Store::session_in_use` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionUse {
    /// Live: the request goes on.
    Live(SessionContext),
    /// Unused for longer than the idle period: revoked now; the device signs in again.
    Expired,
    /// Unknown, revoked, or its member is not active.
    Unknown,
}

/// A live session of an active member, as both backends read it (before the idle check).
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Session id.
    pub id: String,
    /// Member id.
    pub member_id: String,
    /// Workspace id.
    pub workspace_id: String,
    /// The member's role, as stored (`owner`, `admin`, `agent`).
    pub role: String,
    /// The member's email.
    pub email: String,
    /// The device's name.
    pub device_name: String,
    /// When the session was last used (UTC ms, at [`LAST_USE_RESOLUTION`]).
    pub last_seen_at: i64,
}

impl SessionRow {
    /// The session as requests see it (an unknown role reads as an agent's).
    pub fn context(self) -> SessionContext {
        SessionContext {
            session_id: self.id,
            member_id: self.member_id,
            workspace_id: self.workspace_id,
            role: self
                .role
                .parse()
                .unwrap_or(zentro_events::roles::Role::Agent),
            email: self.email,
            device_name: self.device_name,
        }
    }
}
