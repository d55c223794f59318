//! The team as the relay describes it: who is signed in ([`Identity`]), the members, invitations,
//! devices, the audit log and the Team page. The calls that fetch and change them are
//! [`RelayClient`](crate::relay_client::RelayClient)'s (`relay_client/members.rs`); the relay
//! enforces every permission and answers [`SyncError::Forbidden`](crate::relay_client::SyncError)
//! with its reason when the member's role does not allow.

use serde::{Deserialize, Serialize};
pub use zentro_events::roles::{Permission, Role};

/// A member and workspace, as the relay describes them at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// Who signed in, with the role they have now.
    pub member: Member,
    /// The workspace they signed in to (one per sign-in).
    pub workspace: Workspace,
}

/// A member, as signing in (and `GET /v1/sessions/current`) describes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// Their id on the relay.
    pub id: String,
    /// The email they sign in with.
    pub email: String,
    /// The name teammates see.
    pub display_name: String,
    /// What they may do in the workspace.
    pub role: Role,
}

/// A teammate, as the relay lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Teammate {
    /// Their id on the relay.
    pub id: String,
    /// The email they sign in with.
    pub email: String,
    /// The name teammates see.
    pub display_name: String,
    /// What they may do in the workspace.
    pub role: Role,
    /// invited, active or deactivated.
    pub status: String,
    /// When they were invited or created (UTC ms).
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub created_at: i64,
    /// Their last sign-in (UTC ms).
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub last_sign_in_at: Option<i64>,
}

/// The workspace a member belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Workspace {
    /// Its id on the relay.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
}

/// A one-time invitation, to hand to the invitee (the code works once, until it expires).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Invitation {
    /// The invited member (status `invited`).
    pub member: Teammate,
    /// The code to type at sign-in.
    pub code: String,
    /// `zentro://invite?relay=…&code=…`.
    pub link: String,
    /// When the code stops working (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub expires_at: i64,
}

/// A signed-in device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Device {
    /// The device session's id.
    pub id: String,
    /// The member the device belongs to (their relay id).
    pub member_id: String,
    /// That member's sign-in email, for the admin's list.
    pub member_email: String,
    /// The name given at sign-in.
    pub name: String,
    /// Signed in at (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub created_at: i64,
    /// Last seen (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub last_seen_at: i64,
    /// Whether it is the device asking.
    #[serde(default)]
    pub current: bool,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditEntry {
    /// Position (newer is higher).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub id: i64,
    /// When (UTC ms).
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub at: i64,
    /// Who (email), if a member.
    pub actor_email: Option<String>,
    /// From which device.
    pub device: Option<String>,
    /// What (`sign_in`, `member.invited`, …).
    pub action: String,
    /// Whom or what it concerns.
    pub subject: Option<String>,
    /// More facts, as JSON text.
    pub details: String,
}

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; `None` at the end.
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub next_before: Option<i64>,
}

/// A change to a member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberChange {
    /// A new role.
    pub role: Option<Role>,
    /// New status: active or deactivated.
    pub status: Option<String>,
}

/// The Team page: who this member is now, what they may do, and the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamView {
    /// This member, with their current role.
    pub me: Teammate,
    /// What the relay lets them do (their role's permissions).
    pub permissions: Vec<Permission>,
    /// The workspace's name.
    pub workspace_name: String,
    /// Every member.
    pub members: Vec<Teammate>,
}
