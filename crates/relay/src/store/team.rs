//! Members, invitations, devices, the audit log and channel tokens.

use serde::Serialize;
use sqlx::Row;

use super::{
    Channel, ChannelKind, Credentials, Member, MemberSummary, Result, Store, StoreError, Workspace,
    member_summary,
};
use crate::roles::Role;
use crate::sealing::Sealed;
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

/// A channel as a member sees it: whether they may use it and the version of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelView {
    /// The channel's own fields, flattened into the view's JSON.
    #[serde(flatten)]
    pub channel: Channel,
    /// The version of its stored token, if one is stored.
    pub token_version: Option<i64>,
    /// Agents allowed on it; empty means every member.
    pub agents: Vec<String>,
    /// Whether the asking member may use it (and fetch its token).
    pub allowed: bool,
}

/// A sealed token with its version.
#[derive(Debug, Clone)]
pub struct SealedToken {
    /// The channel the token is for; sealed with its id, the token opens for no other channel.
    pub channel_id: String,
    /// The token encrypted under a token key (the key's id, the nonce and the ciphertext).
    pub sealed: Sealed,
    /// Grows with every rotation.
    pub version: i64,
}

fn role_of(value: &str) -> Role {
    value.parse().unwrap_or(Role::Agent)
}

/// The condition (on `quarantine AS q`, the workspace bound to `?3`) that a quarantined webhook is
/// addressed to one of the workspace's channels.
const OWN_QUARANTINE: &str = "EXISTS (SELECT 1 FROM channels c WHERE c.workspace_id = ?3 AND (
    (q.route_kind = 'whatsapp_phone_number' AND c.kind = 'whatsapp' AND c.external_id = q.route_id)
    OR (q.route_kind = 'whatsapp_account' AND c.kind = 'whatsapp' AND c.account_id = q.route_id)
    OR (q.route_kind = 'page' AND c.kind = 'messenger' AND c.external_id = q.route_id)
    OR (q.route_kind = 'instagram_account' AND c.kind = 'instagram' AND c.external_id = q.route_id)))";

impl Store {
    // ----- members -----

    /// One member of a workspace.
    pub async fn member(&self, workspace_id: &str, member_id: &str) -> Result<MemberSummary> {
        sqlx::query(
            "SELECT id, email, display_name, role, status, created_at, last_sign_in_at FROM members WHERE workspace_id = ? AND id = ?",
        )
        .bind(workspace_id)
        .bind(member_id)
        .fetch_optional(&self.pool)
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
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        let mut tx = self.begin().await?;
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
        .fetch_all(&self.pool)
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
        .execute(&self.pool)
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
            .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
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
            .fetch_optional(&self.pool)
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
            .execute(&self.pool)
            .await?;
        self.workspace(workspace_id).await
    }

    /// Terminates a workspace: its members, devices, channels, tokens, log and audit log go. The
    /// hashes of its live device tokens are kept (90 days) so those devices learn of it.
    pub async fn terminate_workspace(&self, workspace_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
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

    // ----- channels and their tokens -----

    /// One channel of a workspace.
    pub async fn channel(&self, workspace_id: &str, channel_id: &str) -> Result<Channel> {
        self.channels(Some(workspace_id))
            .await?
            .into_iter()
            .find(|c| c.id == channel_id)
            .ok_or_else(|| StoreError::NotFound("the channel".into()))
    }

    /// The workspace's channels as `member_id` (with `role`) sees them.
    pub async fn channel_views(
        &self,
        workspace_id: &str,
        member_id: &str,
        role: Role,
    ) -> Result<Vec<ChannelView>> {
        let channels = self.channels(Some(workspace_id)).await?;
        let versions = sqlx::query(
            "SELECT t.channel_id, t.version FROM channel_tokens t JOIN channels c ON c.id = t.channel_id WHERE c.workspace_id = ?",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        let access = sqlx::query(
            "SELECT a.channel_id, a.member_id FROM channel_access a JOIN channels c ON c.id = a.channel_id WHERE c.workspace_id = ? ORDER BY a.member_id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(channels
            .into_iter()
            .map(|channel| {
                let agents: Vec<String> = access
                    .iter()
                    .filter(|r| r.get::<&str, _>(0) == channel.id)
                    .map(|r| r.get(1))
                    .collect();
                let allowed = role >= Role::Admin
                    || agents.is_empty()
                    || agents.iter().any(|a| a == member_id);
                let token_version = versions
                    .iter()
                    .find(|r| r.get::<&str, _>(0) == channel.id)
                    .map(|r| r.get(1));
                ChannelView {
                    channel,
                    token_version,
                    agents,
                    allowed,
                }
            })
            .collect())
    }

    /// Stores (or rotates) a channel's sealed token; returns its new version.
    pub async fn set_channel_token(
        &self,
        channel_id: &str,
        sealed: &Sealed,
        by: Option<&str>,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let version = store_token_in(&mut tx, channel_id, sealed, by).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A channel's sealed token.
    pub async fn channel_token(&self, channel_id: &str) -> Result<Option<SealedToken>> {
        Ok(sqlx::query(
            "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens WHERE channel_id = ?",
        )
        .bind(channel_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| sealed_token(&r)))
    }

    /// Every sealed token (for resealing under a new key).
    pub async fn all_channel_tokens(&self) -> Result<Vec<SealedToken>> {
        Ok(sqlx::query(
            "SELECT channel_id, key_id, nonce, ciphertext, version FROM channel_tokens ORDER BY channel_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(sealed_token)
        .collect())
    }

    /// Replaces a sealed token's bytes without a new version (same token, new key).
    pub async fn reseal_channel_token(&self, channel_id: &str, sealed: &Sealed) -> Result<()> {
        sqlx::query(
            "UPDATE channel_tokens SET key_id = ?, nonce = ?, ciphertext = ? WHERE channel_id = ?",
        )
        .bind(&sealed.key_id)
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(channel_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a channel's token; whether there was one.
    pub async fn revoke_channel_token(&self, channel_id: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM channel_tokens WHERE channel_id = ?")
                .bind(channel_id)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// Sets which agents may use a channel (empty: every member). Members must be the workspace's.
    pub async fn set_channel_access(
        &self,
        workspace_id: &str,
        channel_id: &str,
        agents: &[String],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM channel_access WHERE channel_id = ?")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        for member in agents {
            let known = sqlx::query("SELECT 1 FROM members WHERE id = ? AND workspace_id = ?")
                .bind(member)
                .bind(workspace_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !known {
                return Err(StoreError::NotFound(format!("the member {member}")));
            }
            sqlx::query(
                "INSERT OR IGNORE INTO channel_access (channel_id, member_id) VALUES (?, ?)",
            )
            .bind(channel_id)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a channel from its workspace (its token and access list go with it), and the
    /// quarantined webhooks addressed to it: nobody who adds that id later receives them.
    pub async fn remove_channel(&self, workspace_id: &str, channel_id: &str) -> Result<Channel> {
        let channel = self.channel(workspace_id, channel_id).await?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM channels WHERE id = ? AND workspace_id = ?")
            .bind(channel_id)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        if let Ok(kind) = channel.kind.parse::<ChannelKind>() {
            for (route_kind, by_account) in crate::routing::route_kinds_for(kind) {
                let route_id = if *by_account {
                    channel.account_id.as_deref()
                } else {
                    Some(channel.external_id.as_str())
                };
                let Some(route_id) = route_id else { continue };
                sqlx::query("DELETE FROM quarantine WHERE route_kind = ? AND route_id = ?")
                    .bind(route_kind)
                    .bind(route_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(channel)
    }

    /// Deletes a workspace's events that name any of `identifiers` as a JSON string (a customer's
    /// id or phone), and quarantined webhooks addressed to its own channels that do (never another
    /// workspace's, nor webhooks addressed to nobody's); returns `(events, quarantined)`. With
    /// `secure_delete` the freed bytes are overwritten.
    ///
    /// The log is searched without the writer lock (events up to the current head never change),
    /// and what was found is deleted in short transactions, so webhooks keep committing while a
    /// large log is read; only events appended meanwhile and the quarantine are searched under
    /// the lock.
    pub async fn purge_mentions(
        &self,
        workspace_id: &str,
        identifiers: &[String],
    ) -> Result<(i64, i64)> {
        let quoted: Vec<String> = identifiers.iter().map(|i| format!("\"{i}\"")).collect();
        let head = self.head(workspace_id).await?;
        let last_quarantined: i64 =
            sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM quarantine")
                .fetch_one(&self.pool)
                .await?;
        let (found_events, found_quarantined) = self
            .find_mentions(workspace_id, &quoted, head, last_quarantined)
            .await?;
        let events = self
            .delete_found(
                "DELETE FROM events WHERE workspace_id = ?1 AND seq IN (SELECT value FROM json_each(?2))",
                workspace_id,
                found_events,
            )
            .await?;
        let quarantined = self
            .delete_found(
                "DELETE FROM quarantine WHERE id IN (SELECT value FROM json_each(?2))",
                workspace_id,
                found_quarantined,
            )
            .await?;
        // What arrived while the log was read.
        let (recent_events, recent_quarantined) = self
            .purge_recent_mentions(workspace_id, &quoted, head, last_quarantined)
            .await?;
        Ok((events + recent_events, quarantined + recent_quarantined))
    }

    /// The seqs of the workspace's events up to `head`, and the ids of its quarantined webhooks
    /// up to `last_quarantined`, that name one of the `quoted` identifiers (read without a lock).
    async fn find_mentions(
        &self,
        workspace_id: &str,
        quoted: &[String],
        head: i64,
        last_quarantined: i64,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let (mut found_events, mut found_quarantined) = (Vec::new(), Vec::new());
        for identifier in quoted {
            found_events.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT seq FROM events WHERE workspace_id = ? AND seq <= ? AND instr(payload, ?) > 0",
                )
                .bind(workspace_id)
                .bind(head)
                .bind(identifier)
                .fetch_all(&self.pool)
                .await?,
            );
            found_quarantined.extend(
                sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT id FROM quarantine q WHERE id <= ?1 AND instr(CAST(body AS TEXT), ?2) > 0
                     AND {OWN_QUARANTINE}"
                ))
                .bind(last_quarantined)
                .bind(identifier)
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        Ok((found_events, found_quarantined))
    }

    /// Deletes, in one transaction, the events after `head` and the quarantined webhooks after
    /// `last_quarantined` that name one of the `quoted` identifiers; returns how many of each.
    async fn purge_recent_mentions(
        &self,
        workspace_id: &str,
        quoted: &[String],
        head: i64,
        last_quarantined: i64,
    ) -> Result<(i64, i64)> {
        let (mut events, mut quarantined) = (0, 0);
        let mut tx = self.begin().await?;
        for identifier in quoted {
            events += sqlx::query(
                "DELETE FROM events WHERE workspace_id = ? AND seq > ? AND instr(payload, ?) > 0",
            )
            .bind(workspace_id)
            .bind(head)
            .bind(identifier)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
            quarantined += sqlx::query(&format!(
                "DELETE FROM quarantine AS q WHERE id > ?1 AND instr(CAST(body AS TEXT), ?2) > 0
                 AND {OWN_QUARANTINE}"
            ))
            .bind(last_quarantined)
            .bind(identifier)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
        }
        tx.commit().await?;
        Ok((events, quarantined))
    }

    /// Deletes the rows `found` (ids or seqs, bound as a JSON array to `?2`; `?1` is the workspace,
    /// for statements that need it) in transactions of at most [`super::PRUNE_CHUNK`]; returns how many went.
    async fn delete_found(
        &self,
        statement: &'static str,
        workspace_id: &str,
        mut found: Vec<i64>,
    ) -> Result<i64> {
        found.sort_unstable();
        found.dedup();
        let mut deleted = 0;
        for chunk in found.chunks(super::PRUNE_CHUNK as usize) {
            let keys = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
            let mut tx = self.begin().await?;
            deleted += sqlx::query(statement)
                .bind(workspace_id)
                .bind(&keys)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            tx.commit().await?;
        }
        Ok(deleted)
    }

    /// Moves the WAL into the database and truncates it (after a purge: the WAL still holds the
    /// purged rows' old pages). Retries while readers hold it; logs when it cannot.
    pub async fn checkpoint(&self) {
        for attempt in 0..20u64 {
            match sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
            {
                Ok(0) => return,
                Ok(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await
                }
                Err(error) => {
                    tracing::warn!(%error, "checkpoint failed");
                    return;
                }
            }
        }
        tracing::warn!("the relay's WAL could not be truncated; it will be at the next checkpoint");
    }

    /// Whether a token belonged to a device of a workspace terminated since.
    pub async fn was_terminated(&self, token_hash: &[u8]) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM terminated_sessions WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Records who (by Meta's app-scoped user id) connected a channel.
    pub async fn set_channel_connector(&self, channel_id: &str, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE channels SET connected_by = ? WHERE id = ?")
            .bind(user_id)
            .bind(channel_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Channels a Facebook user connected (by app-scoped id).
    pub async fn channels_connected_by(&self, user_id: &str) -> Result<Vec<Channel>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM channels WHERE connected_by = ? ORDER BY id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        let all = self.channels(None).await?;
        Ok(all.into_iter().filter(|c| ids.contains(&c.id)).collect())
    }

    /// Marks a channel disconnected (the user removed the app) and forgets its token.
    pub async fn disconnect_channel(&self, channel_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE channels SET disconnected_at = coalesce(disconnected_at, ?) WHERE id = ?",
        )
        .bind(now_ms())
        .bind(channel_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM channel_tokens WHERE channel_id = ?")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a deletion request (the user by hash only) and its outcome.
    pub async fn record_deletion_request(
        &self,
        code: &str,
        user_hash: &str,
        channels_removed: i64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO deletion_requests (code, user_hash, received_at, completed_at, channels_removed) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(code)
        .bind(user_hash)
        .bind(now)
        .bind(now)
        .bind(channels_removed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A deletion request's status: `(received_at, completed_at, channels_removed)`.
    pub async fn deletion_request(&self, code: &str) -> Result<Option<(i64, Option<i64>, i64)>> {
        Ok(sqlx::query(
            "SELECT received_at, completed_at, channels_removed FROM deletion_requests WHERE code = ?",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    /// How many deletion requests were recorded.
    pub async fn deletion_request_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM deletion_requests")
            .fetch_one(&self.pool)
            .await?)
    }

    /// A workspace's retention periods in days: `(conversations, media)`; `None` keeps.
    pub async fn retention(&self, workspace_id: &str) -> Result<(Option<i64>, Option<i64>)> {
        let row = sqlx::query(
            "SELECT conversation_retention_days, media_retention_days FROM workspaces WHERE id = ?",
        )
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("workspace {workspace_id}")))?;
        Ok((row.get(0), row.get(1)))
    }

    /// Sets a workspace's retention periods.
    pub async fn set_retention(
        &self,
        workspace_id: &str,
        conversation_days: Option<i64>,
        media_days: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE workspaces SET conversation_retention_days = ?, media_retention_days = ? WHERE id = ?",
        )
        .bind(conversation_days)
        .bind(media_days)
        .bind(workspace_id)
        .execute(&self.pool)
        .await?;
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

fn sealed_token(r: &sqlx::sqlite::SqliteRow) -> SealedToken {
    SealedToken {
        channel_id: r.get(0),
        sealed: Sealed {
            key_id: r.get(1),
            nonce: r.get(2),
            ciphertext: r.get(3),
        },
        version: r.get(4),
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

/// Stores (or rotates) a channel's sealed token inside `tx`; returns its new version.
pub(crate) async fn store_token_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    channel_id: &str,
    sealed: &Sealed,
    by: Option<&str>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO channel_tokens (channel_id, key_id, nonce, ciphertext, version, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
         ON CONFLICT (channel_id) DO UPDATE SET key_id = ?2, nonce = ?3, ciphertext = ?4,
            version = channel_tokens.version + 1, updated_at = ?5, updated_by = ?6
         RETURNING version",
    )
    .bind(channel_id)
    .bind(&sealed.key_id)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(now_ms())
    .bind(by)
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
