//! Members, invitations, devices, the audit log and the workspace itself.

use serde::Serialize;

/// A signed-in device, as its member and admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The session's id.
    pub id: String,
    /// The member signed in on it.
    pub member_id: String,
    /// The member's email as it is now (they sign in with it).
    pub member_email: String,
    /// The name given at sign-in.
    pub name: String,
    /// When it signed in (UTC ms).
    pub created_at: i64,
    /// When it last acknowledged events (UTC ms).
    pub last_seen_at: i64,
}

/// An entry to add to the audit log.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry<'a> {
    /// The workspace whose audit log the entry goes in (each workspace reads only its own).
    pub workspace_id: &'a str,
    /// The acting member (none: the operator on the relay's command line).
    pub actor_id: Option<&'a str>,
    /// The acting member's email, kept in the entry so that it still reads once they are removed
    /// (`None` with no acting member).
    pub actor_email: Option<&'a str>,
    /// The acting device's name.
    pub device: Option<&'a str>,
    /// What happened (`sign_in`, `member.invited`, …).
    pub action: &'a str,
    /// Whom or what it concerns.
    pub subject: Option<&'a str>,
    /// More facts (never content or secrets).
    pub details: serde_json::Value,
}

impl NewAuditEntry<'_> {
    /// Entries as one JSON array of arrays (workspace, actor id, actor email, device, action,
    /// subject, details as text): how many of them go to the database in one statement.
    pub fn rows_json(entries: &[Self]) -> Result<String, serde_json::Error> {
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!([
                    e.workspace_id,
                    e.actor_id,
                    e.actor_email,
                    e.device,
                    e.action,
                    e.subject,
                    e.details.to_string()
                ])
            })
            .collect();
        serde_json::to_string(&rows)
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position (newest is highest).
    pub id: i64,
    /// When (UTC ms).
    pub at: i64,
    /// The acting member's id.
    pub actor_id: Option<String>,
    /// The acting member's email.
    pub actor_email: Option<String>,
    /// The name the acting device was given at sign-in (`None`: the operator, or no device).
    pub device: Option<String>,
    /// What happened, a dotted name (`sign_in`, `member.invited`, `channel.token_set`, …).
    pub action: String,
    /// Whom or what it concerns: an email, or a channel as `kind:external_id`.
    pub subject: Option<String>,
    /// More facts, as the action records them (`{}` when none; never content or secrets).
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// The details as stored (JSON text) read back; `null` if the text is not JSON.
    pub fn details_from(stored: &str) -> serde_json::Value {
        serde_json::from_str(stored).unwrap_or(serde_json::Value::Null)
    }
}

/// An unused invitation code, with the member it invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvitation {
    /// The invitation's id.
    pub id: String,
    /// The invited member.
    pub member_id: String,
    /// When the code stops working (UTC ms).
    pub expires_at: i64,
    /// The invited member's email.
    pub email: String,
    /// The invited member's status (`invited` until they accept).
    pub status: String,
}

/// Who holds an email already: the member's id, workspace and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailHolder {
    /// The member's id.
    pub id: String,
    /// The member's workspace.
    pub workspace_id: String,
    /// invited, active or deactivated.
    pub status: String,
}
