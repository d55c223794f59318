//! Members, invitations, devices, the audit log and channel tokens.

use super::{Credentials, Member, MemberSummary, Result, Store, StoreError, Workspace};
use crate::roles::Role;
use crate::{read, sql};
use zentro_events::clock::{now_ms, random_id};
pub use zentro_relay_store::team::{AuditEntry, Device, NewAuditEntry};

fn role_of(value: &str) -> Role {
    value.parse().unwrap_or(Role::Agent)
}

impl Store {
    // ----- members -----

    /// One member of a workspace.
    pub async fn member(&self, workspace_id: &str, member_id: &str) -> Result<MemberSummary> {
        read!(self, team::member(workspace_id, member_id))?
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
        let mut tx = self.begin().await?;
        let existing = sql!(tx.conn(), team::email_holder(email))?;
        let member_id = match existing {
            Some(holder) if holder.workspace_id == workspace_id && holder.status == "invited" => {
                // Renews the invitation: the new role and name; earlier codes stop working.
                sql!(
                    tx.conn(),
                    team::set_role_and_name(&holder.id, role.as_str(), display_name)
                )?;
                sql!(tx.conn(), team::use_invitations_of(&holder.id, now))?;
                holder.id
            }
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "a member with the email {email}"
                )));
            }
            None => {
                let id = random_id();
                // Only another writer (PostgreSQL) can take the email in between.
                let inserted = sql!(
                    tx.conn(),
                    team::insert_invited(
                        &id,
                        workspace_id,
                        email,
                        display_name,
                        role.as_str(),
                        now
                    )
                )?;
                if !inserted {
                    return Err(StoreError::Conflict(format!(
                        "a member with the email {email}"
                    )));
                }
                id
            }
        };
        sql!(
            tx.conn(),
            team::insert_invitation(
                &random_id(),
                workspace_id,
                &member_id,
                code_hash,
                invited_by,
                now,
                expires_at
            )
        )?;
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
        let mut tx = self.begin().await?;
        let invitation = sql!(tx.conn(), team::open_invitation(code_hash))?
            .ok_or(StoreError::InvitationInvalid)?;
        if invitation.status != "invited" {
            return Err(StoreError::InvitationInvalid);
        }
        if invitation.expires_at <= now {
            return Err(StoreError::InvitationExpired);
        }
        // Only another writer (PostgreSQL) can have used the code in between.
        if !sql!(tx.conn(), team::use_invitation(&invitation.id, now))? {
            return Err(StoreError::InvitationInvalid);
        }
        sql!(
            tx.conn(),
            team::activate(&invitation.member_id, password_hash)
        )?;
        tx.commit().await?;
        self.credentials(&invitation.email)
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
        let mut tx = self.begin().await?;
        sql!(tx.conn(), team::lock_active_owners(workspace_id))?;
        let (old_role, old_status) =
            sql!(tx.conn(), team::role_and_status(workspace_id, member_id))?
                .ok_or_else(|| StoreError::NotFound("the member".into()))?;
        let old_role = role_of(&old_role);
        let new_role = role.unwrap_or(old_role);
        let new_status = status.unwrap_or(&old_status);
        if old_role == Role::Owner
            && old_status == "active"
            && (new_role != Role::Owner || new_status != "active")
            && sql!(
                tx.conn(),
                team::other_active_owners(workspace_id, member_id)
            )? == 0
        {
            return Err(StoreError::LastOwner);
        }
        if new_status == "active" && old_status == "invited" {
            return Err(StoreError::Conflict(
                "an invitation: the member activates by accepting it".into(),
            ));
        }
        sql!(
            tx.conn(),
            team::set_role_and_status(member_id, new_role.as_str(), new_status)
        )?;
        if new_status == "deactivated" {
            sql!(tx.conn(), team::revoke_sessions(member_id, now_ms()))?;
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
        let mut tx = self.begin().await?;
        sql!(tx.conn(), team::lock_active_owners(workspace_id))?;
        if removed.role == "owner"
            && removed.status == "active"
            && sql!(
                tx.conn(),
                team::other_active_owners(workspace_id, member_id)
            )? == 0
        {
            return Err(StoreError::LastOwner);
        }
        sql!(tx.conn(), team::delete_member(workspace_id, member_id))?;
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
        Ok(read!(self, team::devices(workspace_id, member_id))?)
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
        Ok(read!(self, team::record(&entry, now_ms()))?)
    }

    /// Audits the event a device just published at `seq`, when the promises name it (P2, P8):
    /// every send (`message.sent`: who, which conversation, Meta's id of the message — never its
    /// text) and every restriction of a customer or its lifting (`team.contact_edited` changing
    /// `restricted`) and every consent a member records (`team.consent_recorded`: in or out
    /// and the source, never the note). The actor is `session`, the caller, never a field of the payload. Called
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
        if !created
            && read!(
                self,
                team::audited_event(&session.workspace_id, action, seq)
            )?
        {
            return Ok(());
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
        Ok(read!(self, team::audit(workspace_id, before, limit))?)
    }

    // ----- workspace -----

    /// A workspace by id.
    pub async fn workspace(&self, workspace_id: &str) -> Result<Workspace> {
        read!(self, team::workspace(workspace_id))?
            .ok_or_else(|| StoreError::NotFound(format!("workspace {workspace_id}")))
    }

    /// Renames a workspace.
    pub async fn rename_workspace(&self, workspace_id: &str, name: &str) -> Result<Workspace> {
        read!(self, team::rename_workspace(workspace_id, name))?;
        self.workspace(workspace_id).await
    }

    /// Terminates a workspace: its members, devices, channels, tokens, log and audit log go. The
    /// hashes of its live device tokens are kept (90 days) so those devices learn of it.
    pub async fn terminate_workspace(&self, workspace_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sql!(
            tx.conn(),
            team::keep_terminated_sessions(workspace_id, now_ms())
        )?;
        if sql!(tx.conn(), team::delete_workspace(workspace_id))? == 0 {
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
        zentro_events::CONSENT_RECORDED => {
            let customer = text("/contact/customer_id");
            Some((
                "contact.consent",
                customer.clone(),
                serde_json::json!({
                    "seq": seq,
                    "channel_kind": text("/contact/channel_kind"),
                    "channel_external_id": text("/contact/channel_external_id"),
                    "customer_id": customer,
                    "opted_in": payload.get("opted_in").and_then(|v| v.as_bool()),
                    "source": text("/source"),
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
