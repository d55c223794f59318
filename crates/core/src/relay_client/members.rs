//! The team: members and invitations, devices, the audit log.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RelayClient, SyncError};
use crate::members::{AuditEntry, AuditPage, Device, Invitation, MemberChange, Role, Teammate};
use crate::vault::Secret;

impl RelayClient {
    /// The workspace's members.
    pub async fn members(&self, token: &Secret) -> Result<Vec<Teammate>, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            members: Vec<Teammate>,
        }
        let body: Body = self.get("/v1/members", token).await?;
        Ok(body.members)
    }

    /// Invites `email` as `role` (admins; owners for owners).
    pub async fn invite(
        &self,
        token: &Secret,
        email: &str,
        display_name: &str,
        role: Role,
    ) -> Result<Invitation, SyncError> {
        self.send_json(
            Method::POST,
            "/v1/members",
            token,
            json!({ "email": email, "display_name": display_name, "role": role }),
        )
        .await
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
            .send_json(
                Method::PATCH,
                &format!("/v1/members/{member_id}"),
                token,
                json!({ "role": change.role, "status": change.status }),
            )
            .await?;
        Ok(body.member)
    }

    /// Removes a member (admins).
    pub async fn remove_member(&self, token: &Secret, member_id: &str) -> Result<(), SyncError> {
        self.act(
            Method::DELETE,
            &format!("/v1/members/{member_id}"),
            token,
            None,
        )
        .await
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
        let body: Body = self.get(path, token).await?;
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
        self.act(
            Method::DELETE,
            &format!("/v1/devices/{device_id}"),
            token,
            None,
        )
        .await
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
        let body: Body = self.get(&path, token).await?;
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
        self.act(
            Method::POST,
            "/v1/audit",
            token,
            Some(json!({ "action": action, "subject": subject, "details": details })),
        )
        .await
    }
}
