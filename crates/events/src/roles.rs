//! Who may do what: the three roles of a workspace's members and the permissions each has.
//!
//! The relay enforces them on every route; desks show and disable what a member's role does not
//! allow, with the same names (the UI gets these types through the generated bindings).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role: what they may do in the workspace ([`Role::allows`]), each role all the one
/// before it may and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Role {
    /// Reads and answers conversations.
    Agent,
    /// Also manages members, channels, retention, exports and erasure.
    Admin,
    /// Also manages the workspace's settings and its termination.
    Owner,
}

impl Role {
    /// Every role, from the least to the most trusted.
    pub const ALL: [Role; 3] = [Self::Agent, Self::Admin, Self::Owner];

    /// Everything this role may do (for the UI to show or disable).
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .collect()
    }

    /// The name stored by the relay and sent in events (`agent`, `admin`, `owner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Whether this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.least_role()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "agent" => Ok(Self::Agent),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(format!("unknown role {other:?} (owner, admin or agent)")),
        }
    }
}

/// Something a route does that not every role may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Permission {
    /// Read the log, publish team events, use the channels one is allowed on, manage one's devices.
    Answer,
    /// Invite, change roles, deactivate and remove members; see and revoke anyone's devices.
    ManageMembers,
    /// Add channels, set and revoke their tokens, choose who may use them.
    ManageChannels,
    /// Read the audit log.
    ReadAudit,
    /// Export or erase customers' data (reported to the audit log).
    ManageData,
    /// Rename the workspace, terminate it.
    ManageWorkspace,
    /// Connect channels through Meta's login (Embedded Signup): the business owner's decision.
    ConnectChannels,
}

impl Permission {
    /// Every permission, in order.
    pub const ALL: [Permission; 7] = [
        Self::Answer,
        Self::ManageMembers,
        Self::ManageChannels,
        Self::ReadAudit,
        Self::ManageData,
        Self::ManageWorkspace,
        Self::ConnectChannels,
    ];

    /// Its name in the API (`manage_members`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::ManageMembers => "manage_members",
            Self::ManageChannels => "manage_channels",
            Self::ReadAudit => "read_audit",
            Self::ManageData => "manage_data",
            Self::ManageWorkspace => "manage_workspace",
            Self::ConnectChannels => "connect_channels",
        }
    }

    /// The least role that has this permission.
    pub fn least_role(self) -> Role {
        match self {
            Self::Answer => Role::Agent,
            Self::ManageMembers | Self::ManageChannels | Self::ReadAudit | Self::ManageData => {
                Role::Admin
            }
            Self::ManageWorkspace | Self::ConnectChannels => Role::Owner,
        }
    }

    /// How the refusal names it, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Answer => "use the inbox",
            Self::ManageMembers => "manage members and their devices",
            Self::ManageChannels => "manage channels",
            Self::ReadAudit => "read the audit log",
            Self::ManageData => "export or erase customers' data",
            Self::ManageWorkspace => "change or terminate the workspace",
            Self::ConnectChannels => "connect channels through Meta",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_each_grants_what_the_lower_ones_do() {
        assert!(Role::Agent.allows(Permission::Answer));
        assert!(!Role::Agent.allows(Permission::ManageMembers));
        assert!(!Role::Agent.allows(Permission::ReadAudit));
        assert!(Role::Admin.allows(Permission::ManageChannels));
        assert!(Role::Admin.allows(Permission::ManageData));
        assert!(!Role::Admin.allows(Permission::ManageWorkspace));
        assert!(Role::Owner.allows(Permission::ManageWorkspace));
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn names_on_the_wire_are_the_stored_ones() {
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for permission in Permission::ALL {
            assert_eq!(
                serde_json::to_value(permission).unwrap(),
                permission.as_str()
            );
        }
        assert_eq!(
            serde_json::to_value(Role::Admin.permissions()).unwrap(),
            serde_json::json!([
                "answer",
                "manage_members",
                "manage_channels",
                "read_audit",
                "manage_data"
            ])
        );
    }
}
