//! Team administration through the relay: who is signed in, invitations, roles and statuses,
//! devices, the audit log and data-rights reports. The relay enforces every permission; these
//! calls return [`SyncError::Forbidden`] with its reason when the member's role does not allow.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::sync::{Identity, RelayClient, SyncError, Teammate, check, network};
use crate::vault::Secret;

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
    /// Whose.
    pub member_id: String,
    /// Their email.
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
    /// New role: owner, admin or agent.
    pub role: Option<String>,
    /// New status: active or deactivated.
    pub status: Option<String>,
}

impl RelayClient {
    /// Calls a `/v1` route with the device token and reads the JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Value>,
    ) -> Result<T, SyncError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = check(request.send().await.map_err(network)?).await?;
        let bytes = response.bytes().await.map_err(network)?;
        if bytes.is_empty() {
            // 201/204 without a body.
            return serde_json::from_value(Value::Null)
                .map_err(|e| SyncError::Relay(e.to_string()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Relay(format!("unexpected answer from the relay: {e}")))
    }

    /// Who this device is signed in as, with the current role.
    pub async fn current(&self, token: &Secret) -> Result<Identity, SyncError> {
        self.call(
            reqwest::Method::GET,
            "/v1/sessions/current",
            Some(token),
            None,
        )
        .await
    }

    /// Invites `email` as `role` (admins; owners for owners).
    pub async fn invite(
        &self,
        token: &Secret,
        email: &str,
        display_name: &str,
        role: &str,
    ) -> Result<Invitation, SyncError> {
        self.call(
            reqwest::Method::POST,
            "/v1/members",
            Some(token),
            Some(json!({ "email": email, "display_name": display_name, "role": role })),
        )
        .await
    }

    /// Accepts an invitation with a new password: signs this device in.
    pub async fn accept_invitation(
        &self,
        code: &str,
        password: &Secret,
        device_name: &str,
    ) -> Result<(Secret, Identity), SyncError> {
        let body: Value = self
            .call(
                reqwest::Method::POST,
                "/v1/invitations/accept",
                None,
                Some(json!({ "code": code, "password": password.expose(), "device_name": device_name })),
            )
            .await?;
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| SyncError::Relay("no token in the answer".into()))?;
        let identity: Identity =
            serde_json::from_value(body.clone()).map_err(|e| SyncError::Relay(e.to_string()))?;
        Ok((Secret::new(token), identity))
    }

    /// Changes a member's role or status (admins).
    pub async fn update_member(
        &self,
        token: &Secret,
        member_id: &str,
        change: &MemberChange,
    ) -> Result<Teammate, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            member: Teammate,
        }
        let body: Body = self
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/members/{member_id}"),
                Some(token),
                Some(json!({ "role": change.role, "status": change.status })),
            )
            .await?;
        Ok(body.member)
    }

    /// Removes a member (admins).
    pub async fn remove_member(&self, token: &Secret, member_id: &str) -> Result<(), SyncError> {
        self.call::<Value>(
            reqwest::Method::DELETE,
            &format!("/v1/members/{member_id}"),
            Some(token),
            None,
        )
        .await
        .map(|_| ())
    }

    /// This member's devices, or (admins, `all`) everyone's.
    pub async fn devices(&self, token: &Secret, all: bool) -> Result<Vec<Device>, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            devices: Vec<Device>,
            current: String,
        }
        let path = if all {
            "/v1/devices?all=true"
        } else {
            "/v1/devices"
        };
        let body: Body = self
            .call(reqwest::Method::GET, path, Some(token), None)
            .await?;
        Ok(body
            .devices
            .into_iter()
            .map(|mut d| {
                d.current = d.id == body.current;
                d
            })
            .collect())
    }

    /// Signs a device out (one's own; admins: anyone's).
    pub async fn revoke_device(&self, token: &Secret, device_id: &str) -> Result<(), SyncError> {
        self.call::<Value>(
            reqwest::Method::DELETE,
            &format!("/v1/devices/{device_id}"),
            Some(token),
            None,
        )
        .await
        .map(|_| ())
    }

    /// A page of the audit log, newest first (admins).
    pub async fn audit(
        &self,
        token: &Secret,
        before: Option<i64>,
        limit: i64,
    ) -> Result<AuditPage, SyncError> {
        #[derive(Deserialize)]
        struct Entry {
            id: i64,
            at: i64,
            actor_email: Option<String>,
            device: Option<String>,
            action: String,
            subject: Option<String>,
            #[serde(default)]
            details: Value,
        }
        #[derive(Deserialize)]
        struct Body {
            entries: Vec<Entry>,
            next_before: Option<i64>,
        }
        let path = match before {
            Some(before) => format!("/v1/audit?limit={limit}&before={before}"),
            None => format!("/v1/audit?limit={limit}"),
        };
        let body: Body = self
            .call(reqwest::Method::GET, &path, Some(token), None)
            .await?;
        Ok(AuditPage {
            entries: body
                .entries
                .into_iter()
                .map(|e| AuditEntry {
                    id: e.id,
                    at: e.at,
                    actor_email: e.actor_email,
                    device: e.device,
                    action: e.action,
                    subject: e.subject,
                    details: e.details.to_string(),
                })
                .collect(),
            next_before: body.next_before,
        })
    }

    /// Reports a data-rights action done on this device (`data.export`, `data.export_all`,
    /// `data.erasure`) to the audit log; never content.
    pub async fn report(
        &self,
        token: &Secret,
        action: &str,
        subject: &str,
        details: Value,
    ) -> Result<(), SyncError> {
        self.call::<Value>(
            reqwest::Method::POST,
            "/v1/audit",
            Some(token),
            Some(json!({ "action": action, "subject": subject, "details": details })),
        )
        .await
        .map(|_| ())
    }
}

/// The Team page: who this member is now, what they may do, and the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamView {
    /// This member, with their current role.
    pub me: Teammate,
    /// What the relay lets them do: `answer`, `manage_members`, `manage_channels`, `read_audit`,
    /// `manage_data`, `manage_workspace`.
    pub permissions: Vec<String>,
    /// The workspace's name.
    pub workspace_name: String,
    /// Every member.
    pub members: Vec<Teammate>,
}

impl RelayClient {
    /// The Team page's data, in two calls.
    pub async fn team_view(&self, token: &Secret) -> Result<TeamView, SyncError> {
        #[derive(Deserialize)]
        struct Current {
            member: Teammate,
            workspace: crate::sync::Workspace,
            #[serde(default)]
            permissions: Vec<String>,
        }
        let current: Current = self
            .call(
                reqwest::Method::GET,
                "/v1/sessions/current",
                Some(token),
                None,
            )
            .await?;
        let members = self.members(token).await?;
        Ok(TeamView {
            me: current.member,
            permissions: current.permissions,
            workspace_name: current.workspace.name,
            members,
        })
    }
}

impl RelayClient {
    /// Renames the workspace (owners).
    pub async fn rename_workspace(&self, token: &Secret, name: &str) -> Result<(), SyncError> {
        self.call::<Value>(
            reqwest::Method::PATCH,
            "/v1/workspace",
            Some(token),
            Some(json!({ "name": name })),
        )
        .await
        .map(|_| ())
    }

    /// Terminates the workspace for good (owners): `confirm` must be its exact name. Every
    /// device, this one included, is signed out.
    pub async fn terminate_workspace(
        &self,
        token: &Secret,
        confirm: &str,
    ) -> Result<(), SyncError> {
        self.call::<Value>(
            reqwest::Method::DELETE,
            "/v1/workspace",
            Some(token),
            Some(json!({ "confirm": confirm })),
        )
        .await
        .map(|_| ())
    }
}

impl RelayClient {
    /// The workspace's retention periods.
    pub async fn retention(&self, token: &Secret) -> Result<crate::rights::Retention, SyncError> {
        self.call(
            reqwest::Method::GET,
            "/v1/workspace/retention",
            Some(token),
            None,
        )
        .await
    }

    /// Sets the workspace's retention periods (admins); every device enforces them.
    pub async fn set_retention(
        &self,
        token: &Secret,
        retention: &crate::rights::Retention,
    ) -> Result<crate::rights::Retention, SyncError> {
        self.call(
            reqwest::Method::PUT,
            "/v1/workspace/retention",
            Some(token),
            Some(json!({ "conversation_days": retention.conversation_days, "media_days": retention.media_days })),
        )
        .await
    }
}
