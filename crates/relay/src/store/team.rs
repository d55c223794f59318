//! Members, invitations, devices, the audit log and channel tokens.

use serde::Serialize;
use sqlx::Row;

use super::{
    Credentials, Member, MemberSummary, Result, Store, StoreError, Workspace, member_summary,
};
use crate::roles::Role;
use zentro_events::clock::{now_ms, random_id};

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

fn role_of(value: &str) -> Role {
    value.parse().unwrap_or(Role::Agent)
}

impl Store {
    // ----- members -----

    /// One member of a workspace.
    pub async fn member(&self, workspace_id: &str, member_id: &str) -> Result<MemberSummary> {
        sqlx::query(
            "SELECT id, email, display_name, role, status, created_at, last_sign_in_at FROM members WHERE workspace_id = ? AND id = ?",
        )
        .bind(workspace_id)
        .bind(member_id)
        .fetch_optional(self.sqlite_pool())
        .await?
        .map(|r| member_summary(&r))
        .ok_or_else(|| StoreError::NotFound("the member".into()))
    }

    /// Invites `email` with `role`: creates the member (status invited) or renews the invitation
    /// of one still invited. Earlier codes of that member stop working.
    #[allow(clippy::too_many_arguments)]
    pub async fn invite(
        &self,
        workspace_id: &str,
        email: &str,
        display_name: &str,
        role: Role,
        invited_by: &str,
        code_hash: &[u8],
        expires_at: i64,
    ) -> Result<MemberSummary> {
        let now = now_ms();
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query("SELECT id, workspace_id, status FROM members WHERE email = ?")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        let member_id = match existing {
            Some(r) if r.get::<&str, _>(1) == workspace_id && r.get::<&str, _>(2) == "invited" => {
                let id: String = r.get(0);
                renew_invited_in(&mut tx, &id, role, display_name, now).await?;
                id
            }
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "a member with the email {email}"
                )));
            }
            None => {
                insert_invited_in(&mut tx, workspace_id, email, display_name, role, now).await?
            }
        };
        sqlx::query(
            "INSERT INTO invitations (id, workspace_id, member_id, code_hash, created_by, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(random_id())
        .bind(workspace_id)
        .bind(&member_id)
        .bind(code_hash)
        .bind(invited_by)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.member(workspace_id, &member_id).await
    }

    /// Accepts an invitation: sets the password and activates the member. Each code works once,
    /// and only before it expires.
    pub async fn accept_invitation(
        &self,
        code_hash: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Credentials> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT i.id, i.member_id, i.expires_at, m.email, m.status FROM invitations i JOIN members m ON m.id = i.member_id
             WHERE i.code_hash = ? AND i.used_at IS NULL",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::InvitationInvalid)?;
        if row.get::<&str, _>(4) != "invited" {
            return Err(StoreError::InvitationInvalid);
        }
        if row.get::<i64, _>(2) <= now {
            return Err(StoreError::InvitationExpired);
        }
        let (invitation_id, member_id, email): (String, String, String) =
            (row.get(0), row.get(1), row.get(3));
        sqlx::query("UPDATE invitations SET used_at = ? WHERE id = ?")
            .bind(now)
            .bind(&invitation_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE members SET status = 'active', password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(&member_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.credentials(&email)
            .await?
            .ok_or_else(|| StoreError::NotFound("the member".into()))
    }

    /// Changes a member's role and/or status. Deactivating revokes every session of the member.
    /// The last active owner can be neither demoted nor deactivated.
    pub async fn update_member(
        &self,
        workspace_id: &str,
        member_id: &str,
        role: Option<Role>,
        status: Option<&str>,
    ) -> Result<MemberSummary> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        let current =
            sqlx::query("SELECT role, status FROM members WHERE workspace_id = ? AND id = ?")
                .bind(workspace_id)
                .bind(member_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound("the member".into()))?;
        let (old_role, old_status) = (role_of(current.get(0)), current.get::<String, _>(1));
        let new_role = role.unwrap_or(old_role);
        let new_status = status.unwrap_or(&old_status);
        if old_role == Role::Owner
            && old_status == "active"
            && (new_role != Role::Owner || new_status != "active")
            && other_active_owners(&mut tx, workspace_id, member_id).await? == 0
        {
            return Err(StoreError::LastOwner);
        }
        if new_status == "active" && old_status == "invited" {
            return Err(StoreError::Conflict(
                "an invitation: the member activates by accepting it".into(),
            ));
        }
        sqlx::query("UPDATE members SET role = ?, status = ? WHERE id = ?")
            .bind(new_role.as_str())
            .bind(new_status)
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        if new_status == "deactivated" {
            sqlx::query(
                "UPDATE sessions SET revoked_at = ? WHERE member_id = ? AND revoked_at IS NULL",
            )
            .bind(now_ms())
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.member(workspace_id, member_id).await
    }

    /// Removes a member (their sessions and invitations go with them); not the last owner.
    pub async fn remove_member(
        &self,
        workspace_id: &str,
        member_id: &str,
    ) -> Result<MemberSummary> {
        let removed = self.member(workspace_id, member_id).await?;
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        if removed.role == "owner"
            && removed.status == "active"
            && other_active_owners(&mut tx, workspace_id, member_id).await? == 0
        {
            return Err(StoreError::LastOwner);
        }
        sqlx::query("DELETE FROM members WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    // ----- devices -----

    /// Live devices of a workspace, or of one member.
    pub async fn devices(
        &self,
        workspace_id: &str,
        member_id: Option<&str>,
    ) -> Result<Vec<Device>> {
        let rows = sqlx::query(
            "SELECT s.id, s.member_id, m.email, s.device_name, s.created_at, s.last_seen_at
             FROM sessions s JOIN members m ON m.id = s.member_id
             WHERE s.workspace_id = ?1 AND s.revoked_at IS NULL AND (?2 IS NULL OR s.member_id = ?2)
             ORDER BY m.email, s.created_at",
        )
        .bind(workspace_id)
        .bind(member_id)
        .fetch_all(self.sqlite_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Device {
                id: r.get(0),
                member_id: r.get(1),
                member_email: r.get(2),
                name: r.get(3),
                created_at: r.get(4),
                last_seen_at: r.get(5),
            })
            .collect())
    }

    /// One live device of a workspace.
    pub async fn device(&self, workspace_id: &str, session_id: &str) -> Result<Device> {
        self.devices(workspace_id, None)
            .await?
            .into_iter()
            .find(|d| d.id == session_id)
            .ok_or_else(|| StoreError::NotFound("the device".into()))
    }

    // ----- audit log -----

    /// Appends to the audit log.
    pub async fn record(&self, entry: NewAuditEntry<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (workspace_id, at, actor_id, actor_email, device, action, subject, details)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.workspace_id)
        .bind(now_ms())
        .bind(entry.actor_id)
        .bind(entry.actor_email)
        .bind(entry.device)
        .bind(entry.action)
        .bind(entry.subject)
        .bind(entry.details.to_string())
        .execute(self.sqlite_pool())
        .await?;
        Ok(())
    }

    /// Audits the event a device just published at `seq`, when the promises name it (P2, P8):
    /// every send (`message.sent`: who, which conversation, Meta's id of the message — never its
    /// text) and every restriction of a customer or its lifting (`team.contact_edited` changing
    /// `restricted`). The actor is `session`, the caller, never a field of the payload. Called
    /// once the event is accepted; for a repeated publication (`created` false: the same
    /// idempotency key) the entry is written only if it is missing, so a retry after a failure
    /// here completes the log and never doubles it.
    pub async fn audit_published(
        &self,
        session: &super::SessionContext,
        seq: i64,
        created: bool,
    ) -> Result<()> {
        let Some(event) = self
            .events_after(&session.workspace_id, seq - 1, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == seq)
        else {
            return Ok(());
        };
        let Some((action, subject, details)) = audited(&event.kind, &event.payload, seq) else {
            return Ok(());
        };
        if !created {
            let recorded: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM audit_log WHERE workspace_id = ? AND action = ?
                 AND json_extract(details, '$.seq') = ? LIMIT 1",
            )
            .bind(&session.workspace_id)
            .bind(action)
            .bind(seq)
            .fetch_optional(self.sqlite_pool())
            .await?;
            if recorded.is_some() {
                return Ok(());
            }
        }
        self.record(NewAuditEntry {
            workspace_id: &session.workspace_id,
            actor_id: Some(&session.member_id),
            actor_email: Some(&session.email),
            device: Some(&session.device_name),
            action,
            subject: Some(&subject),
            details,
        })
        .await
    }

    /// The audit log of a workspace, newest first, before `before` (an entry id), at most `limit`.
    pub async fn audit(
        &self,
        workspace_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor_email, device, action, subject, details FROM audit_log
             WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        )
        .bind(workspace_id)
        .bind(before)
        .bind(limit)
        .fetch_all(self.sqlite_pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: r.get(1),
                actor_id: r.get(2),
                actor_email: r.get(3),
                device: r.get(4),
                action: r.get(5),
                subject: r.get(6),
                details: serde_json::from_str(r.get::<&str, _>(7))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    // ----- workspace -----

    /// A workspace by id.
    pub async fn workspace(&self, workspace_id: &str) -> Result<Workspace> {
        sqlx::query("SELECT id, name FROM workspaces WHERE id = ?")
            .bind(workspace_id)
            .fetch_optional(self.sqlite_pool())
            .await?
            .map(|r| Workspace {
                id: r.get(0),
                name: r.get(1),
            })
            .ok_or_else(|| StoreError::NotFound(format!("workspace {workspace_id}")))
    }

    /// Renames a workspace.
    pub async fn rename_workspace(&self, workspace_id: &str, name: &str) -> Result<Workspace> {
        sqlx::query("UPDATE workspaces SET name = ? WHERE id = ?")
            .bind(name)
            .bind(workspace_id)
            .execute(self.sqlite_pool())
            .await?;
        self.workspace(workspace_id).await
    }

    /// Terminates a workspace: its members, devices, channels, tokens, log and audit log go. The
    /// hashes of its live device tokens are kept (90 days) so those devices learn of it.
    pub async fn terminate_workspace(&self, workspace_id: &str) -> Result<()> {
        let mut tx = self.sqlite_pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT OR IGNORE INTO terminated_sessions (token_hash, terminated_at)
             SELECT token_hash, ? FROM sessions WHERE workspace_id = ? AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM workspaces WHERE id = ?")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("workspace {workspace_id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The member and workspace of an email (for audit entries of failed sign-ins).
    pub async fn member_by_email(&self, email: &str) -> Result<Option<(Member, String)>> {
        Ok(self
            .credentials(email)
            .await?
            .map(|c| (c.member, c.workspace.id)))
    }
}

async fn other_active_owners(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    workspace_id: &str,
    member_id: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM members WHERE workspace_id = ? AND id <> ? AND role = 'owner' AND status = 'active'",
    )
    .bind(workspace_id)
    .bind(member_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// The audit entry (action, subject, details) of a device's event the promises name, or `None`.
/// Details name the conversation (channel and customer) and, for a send, Meta's id of the message
/// and the device's client id; they never carry the text, a caption or a file.
fn audited(
    kind: &str,
    payload: &serde_json::Value,
    seq: i64,
) -> Option<(&'static str, String, serde_json::Value)> {
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    match kind {
        "message.sent" => {
            let customer = text("/customer_id");
            Some((
                "message.sent",
                customer.clone(),
                serde_json::json!({
                    "seq": seq,
                    "channel_kind": text("/channel_kind"),
                    "channel_external_id": text("/channel_external_id"),
                    "customer_id": customer,
                    "external_id": text("/external_id"),
                    "client_id": text("/client_id"),
                }),
            ))
        }
        "team.contact_edited" => {
            let restricted = payload.pointer("/changes/restricted")?.as_bool()?;
            let customer = text("/contact/customer_id");
            Some((
                if restricted {
                    "contact.restricted"
                } else {
                    "contact.unrestricted"
                },
                customer.clone(),
                serde_json::json!({
                    "seq": seq,
                    "channel_kind": text("/contact/channel_kind"),
                    "channel_external_id": text("/contact/channel_external_id"),
                    "customer_id": customer,
                }),
            ))
        }
        _ => None,
    }
}

/// Renews the invitation of a member still invited: their new role and name; their earlier codes
/// stop working.
async fn renew_invited_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    member_id: &str,
    role: Role,
    display_name: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE members SET role = ?, display_name = ? WHERE id = ?")
        .bind(role.as_str())
        .bind(display_name)
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE invitations SET used_at = ? WHERE member_id = ? AND used_at IS NULL")
        .bind(now)
        .bind(member_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Creates an invited member; returns their id.
async fn insert_invited_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    workspace_id: &str,
    email: &str,
    display_name: &str,
    role: Role,
    now: i64,
) -> Result<String> {
    let id = random_id();
    sqlx::query(
        "INSERT INTO members (id, workspace_id, email, display_name, role, status, created_at)
                     VALUES (?, ?, ?, ?, ?, 'invited', ?)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(email)
    .bind(display_name)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}
