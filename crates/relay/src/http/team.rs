//! Members, invitations, devices, the audit log and the workspace's own settings.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sessions::{client_address, read_json, start_session};
use super::{ApiError, AppState, Authenticated};
use super::{Body, body};
use crate::credentials::{
    check_password_policy, hash_password, invitation_code_hash, new_invitation_code,
};
use crate::roles::{Permission, Role};
use crate::store::{MemberSummary, NewAuditEntry};
use zentro_events::clock::{now_ms, random_id};

/// `GET /v1/members`: the workspace's members (for assigning, mentioning and the Team page).
pub async fn members(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let members = state.store.members(&auth.0.workspace_id).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize)]
pub struct Invite {
    email: String,
    #[serde(default)]
    display_name: Option<String>,
    role: String,
}

/// Only an owner may grant or touch the owner role.
fn check_owner_rule(auth: &Authenticated, target_role: Role) -> Result<(), ApiError> {
    if target_role == Role::Owner && auth.0.role != Role::Owner {
        return Err(ApiError::Forbidden(
            "only an owner may make or change owners".into(),
        ));
    }
    Ok(())
}

/// `POST /v1/members`: invites someone by email → the member (invited), a one-time code, a
/// `zentro://` link and when it expires.
pub async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    input: Body<Invite>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Permission::ManageMembers)?;
    let input = body(input, "{email, role, display_name?}")?;
    let email = input.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(ApiError::BadRequest(
            "email must be an email address".into(),
        ));
    }
    let role: Role = input.role.parse().map_err(ApiError::BadRequest)?;
    check_owner_rule(&auth, role)?;
    let display_name = input
        .display_name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
    let (code, hash) = new_invitation_code();
    let expires_at = now_ms() + state.config.invitation_ttl.as_millis() as i64;
    let member = state
        .store
        .invite(
            &auth.0.workspace_id,
            &email,
            &display_name,
            role,
            &auth.0.member_id,
            &hash,
            expires_at,
        )
        .await?;
    state
        .store
        .record(auth.audit(
            "member.invited",
            Some(&email),
            json!({ "role": role.as_str(), "expires_at": expires_at }),
        ))
        .await?;
    let relay = super::meta_callbacks::base_url(&state, &headers);
    let link = format!(
        "zentro://invite?relay={}&code={code}",
        percent_encode(&relay)
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({ "member": member, "code": code, "link": link, "expires_at": expires_at })),
    ))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct Accept {
    code: String,
    password: String,
    #[serde(default)]
    device_name: String,
}

/// `POST /v1/invitations/accept`: the invitee picks a password → signed in on this device.
pub async fn accept_invitation(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let address = client_address(&request);
    state
        .address_limiter
        .check(&address)
        .await
        .map_err(ApiError::TooManyRequests)?;
    let input: Accept = read_json(request, "{code, password, device_name}").await?;
    check_password_policy(&input.password).map_err(ApiError::BadRequest)?;
    let password = input.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?;
    let credentials = state
        .store
        .accept_invitation(&invitation_code_hash(&input.code), &hash, now_ms())
        .await?;
    state
        .store
        .record(NewAuditEntry {
            workspace_id: &credentials.workspace.id,
            actor_id: Some(&credentials.member.id),
            actor_email: Some(&credentials.member.email),
            device: None,
            action: "member.joined",
            subject: Some(&credentials.member.email),
            details: json!({}),
        })
        .await?;
    start_session(&state, &credentials, &input.device_name, &address).await
}

#[derive(Deserialize)]
pub struct MemberChange {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `PATCH /v1/members/{id}`: changes a role, deactivates (every session of the member ends at
/// once) or reactivates.
pub async fn update_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(member_id): Path<String>,
    input: Body<MemberChange>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageMembers)?;
    let input = body(input, "{role?, status?}")?;
    let role = input
        .role
        .as_deref()
        .map(str::parse::<Role>)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let status = match input.status.as_deref() {
        None => None,
        Some(s @ ("active" | "deactivated")) => Some(s),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status {other:?}: use active or deactivated"
            )));
        }
    };
    let before = state.store.member(&auth.0.workspace_id, &member_id).await?;
    check_owner_rule(&auth, before.role.parse().unwrap_or(Role::Agent))?;
    if let Some(role) = role {
        check_owner_rule(&auth, role)?;
    }
    let after = state
        .store
        .update_member(&auth.0.workspace_id, &member_id, role, status)
        .await?;
    if after.status == "deactivated" {
        state.sessions_revoked();
    }
    audit_member_change(&state, &auth, &before, &after).await?;
    Ok(Json(json!({ "member": after })))
}

/// Records a changed role and a changed status in the audit log; a deactivated member's entry
/// names the channel tokens their devices held (to rotate).
async fn audit_member_change(
    state: &AppState,
    auth: &Authenticated,
    before: &MemberSummary,
    after: &MemberSummary,
) -> Result<(), ApiError> {
    if before.role != after.role {
        state
            .store
            .record(auth.audit(
                "member.role_changed",
                Some(&after.email),
                json!({ "from": before.role, "to": after.role }),
            ))
            .await?;
    }
    if before.status != after.status {
        let held = if after.status == "deactivated" {
            state
                .store
                .tokens_held_by(&auth.0.workspace_id, &after.id)
                .await?
        } else {
            Vec::new()
        };
        state
            .store
            .record(auth.audit(
                "member.status_changed",
                Some(&after.email),
                json!({ "from": before.status, "to": after.status, "rotate_tokens": held }),
            ))
            .await?;
    }
    Ok(())
}

/// `DELETE /v1/members/{id}`: removes a member and ends their sessions.
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(member_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::ManageMembers)?;
    let target = state.store.member(&auth.0.workspace_id, &member_id).await?;
    check_owner_rule(&auth, target.role.parse().unwrap_or(Role::Agent))?;
    // The channel tokens their devices were handed: rotating them is advised (GET /v1/channels).
    let held = state
        .store
        .tokens_held_by(&auth.0.workspace_id, &member_id)
        .await?;
    let removed = state
        .store
        .remove_member(&auth.0.workspace_id, &member_id)
        .await?;
    state.sessions_revoked();
    state
        .store
        .record(auth.audit(
            "member.removed",
            Some(&removed.email),
            json!({ "role": removed.role, "rotate_tokens": held }),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeviceQuery {
    #[serde(default)]
    all: bool,
}

/// `GET /v1/devices`: this member's signed-in devices; `?all=true` (admins) everyone's.
pub async fn devices(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<DeviceQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let only = if q.all {
        auth.require(Permission::ManageMembers)?;
        None
    } else {
        Some(auth.0.member_id.as_str())
    };
    let devices = state.store.devices(&auth.0.workspace_id, only).await?;
    Ok(Json(
        json!({ "devices": devices, "current": auth.0.session_id }),
    ))
}

/// `DELETE /v1/devices/{id}`: signs a device out (one's own, or anyone's for admins).
pub async fn revoke_device(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Answer)?;
    let device = state.store.device(&auth.0.workspace_id, &device_id).await?;
    if device.member_id != auth.0.member_id {
        auth.require(Permission::ManageMembers)?;
    }
    state.store.revoke_session(&device.id).await?;
    state.sessions_revoked();
    state
        .store
        .record(auth.audit(
            "device.revoked",
            Some(&device.member_email),
            json!({ "device": device.name }),
        ))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

/// `GET /v1/audit?before=ID&limit=N`: the audit log, newest first (admins).
pub async fn audit(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ReadAudit)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .store
        .audit(&auth.0.workspace_id, q.before, limit)
        .await?;
    let next_before = if entries.len() as i64 == limit {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(
        json!({ "entries": entries, "next_before": next_before }),
    ))
}

#[derive(Deserialize)]
pub struct Report {
    action: String,
    subject: String,
    #[serde(default)]
    details: Value,
}

/// What devices may report (data rights done locally); `data.retention` from any member's device,
/// the others from admins'.
const REPORTABLE: [&str; 4] = [
    "data.export",
    "data.export_all",
    "data.erasure",
    "data.retention",
];

/// `POST /v1/audit`: a device reports an export or erasure it performed (admins); never content.
pub async fn report(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Report>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::Answer)?;
    let input = body(input, "{action, subject, details?}")?;
    if input.action != "data.retention" {
        auth.require(Permission::ManageData)?;
    }
    if !REPORTABLE.contains(&input.action.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "action must be one of {}",
            REPORTABLE.join(", ")
        )));
    }
    if input.subject.len() > 200 || input.details.to_string().len() > 4096 {
        return Err(ApiError::BadRequest(
            "subject (200) or details (4 KiB) too long".into(),
        ));
    }
    state
        .store
        .record(auth.audit(&input.action, Some(&input.subject), input.details))
        .await?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize)]
pub struct Rename {
    name: String,
}

/// `PATCH /v1/workspace`: renames the workspace (owner).
pub async fn rename_workspace(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Rename>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageWorkspace)?;
    let input = body(input, "{name}")?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest("name must be 1-100 characters".into()));
    }
    let workspace = state
        .store
        .rename_workspace(&auth.0.workspace_id, name)
        .await?;
    state
        .store
        .record(auth.audit("workspace.renamed", Some(name), json!({})))
        .await?;
    Ok(Json(json!({ "workspace": workspace })))
}

#[derive(Deserialize)]
pub struct Terminate {
    confirm: String,
}

/// `DELETE /v1/workspace` with `{confirm: <the workspace's name>}`: terminates the workspace —
/// members, devices, channels, tokens, the log and the audit log are deleted (owner).
pub async fn terminate_workspace(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Terminate>,
) -> Result<StatusCode, ApiError> {
    auth.require(Permission::ManageWorkspace)?;
    let input = body(input, "{confirm}")?;
    let workspace = state.store.workspace(&auth.0.workspace_id).await?;
    if input.confirm.trim() != workspace.name {
        return Err(ApiError::BadRequest(
            "confirm with the workspace's exact name".into(),
        ));
    }
    state.store.terminate_workspace(&workspace.id).await?;
    state.sessions_revoked();
    state.store.checkpoint().await;
    tracing::warn!(workspace = %workspace.id, member = %auth.0.member_id, "workspace terminated");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Retention {
    conversation_days: Option<i64>,
    media_days: Option<i64>,
}

/// The log event that tells devices the retention periods.
pub const RETENTION_EVENT: &str = "workspace.retention";

/// `GET /v1/workspace/retention`: `{conversation_days, media_days}` (`null`: kept).
pub async fn retention(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::Answer)?;
    let (conversation_days, media_days) = state.store.retention(&auth.0.workspace_id).await?;
    Ok(Json(
        json!({ "conversation_days": conversation_days, "media_days": media_days }),
    ))
}

/// `PUT /v1/workspace/retention` `{conversation_days, media_days}` (admins): every device deletes
/// conversations with no activity for that many days, and media files older than that; the relay
/// drops events older than the conversation period.
pub async fn set_retention(
    State(state): State<AppState>,
    auth: Authenticated,
    input: Body<Retention>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Permission::ManageData)?;
    let input = body(input, "{conversation_days, media_days}")?;
    for days in [input.conversation_days, input.media_days]
        .into_iter()
        .flatten()
    {
        if !(1..=3650).contains(&days) {
            return Err(ApiError::BadRequest(
                "retention periods are 1 to 3650 days, or null to keep".into(),
            ));
        }
    }
    state
        .store
        .set_retention(
            &auth.0.workspace_id,
            input.conversation_days,
            input.media_days,
        )
        .await?;
    let settings =
        json!({ "conversation_days": input.conversation_days, "media_days": input.media_days });
    state
        .sequencer
        .publish(
            &auth.0.workspace_id,
            &auth.0.member_id,
            RETENTION_EVENT,
            settings.clone(),
            &format!("{RETENTION_EVENT}:{}", random_id()),
        )
        .await
        .map_err(ApiError::sequencer)?;
    state
        .store
        .record(auth.audit("retention.changed", None, settings.clone()))
        .await?;
    Ok(Json(settings))
}
