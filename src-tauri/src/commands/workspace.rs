//! The workspace's people, on the Team page: members (also for assigning and @mentions),
//! invitations, devices, the audit log, the workspace's name and its termination. Each command is
//! a call to the relay through the running desk; the relay enforces every permission and its
//! refusals reach the UI as `forbidden` with the reason.

use tauri::State;
use zentro_core::members::{AuditPage, Device, Invitation, MemberChange, Role, TeamView, Teammate};

use crate::{AppState, CommandError, ErrorCode};

/// Who this member is now, what they may do, and the team.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn team(state: State<'_, AppState>) -> Result<TeamView, CommandError> {
    state
        .with_relay(async |relay, token| relay.team_view(token).await)
        .await
}

/// The workspace's members, for assigning and @mentions.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn members(state: State<'_, AppState>) -> Result<Vec<Teammate>, CommandError> {
    let desk = state.running_desk().await?;
    desk.members().await.map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The team list could not be loaded: {e}"),
        )
    })
}

/// Invites someone by email (admins; owners for owners): a one-time code and link to hand them.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(role = %role), err(Display, level = "warn"))]
pub async fn invite_member(
    state: State<'_, AppState>,
    email: String,
    display_name: String,
    role: Role,
) -> Result<Invitation, CommandError> {
    state
        .with_relay(async |relay, token| relay.invite(token, &email, &display_name, role).await)
        .await
}

/// Changes a member's role or status (admins); deactivation signs all their devices out.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(member_id = %member_id), err(Display, level = "warn"))]
pub async fn update_member(
    state: State<'_, AppState>,
    member_id: String,
    change: MemberChange,
) -> Result<Teammate, CommandError> {
    state
        .with_relay(async |relay, token| relay.update_member(token, &member_id, &change).await)
        .await
}

/// Removes a member (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(member_id = %member_id), err(Display, level = "warn"))]
pub async fn remove_member(
    state: State<'_, AppState>,
    member_id: String,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| relay.remove_member(token, &member_id).await)
        .await
}

/// Signed-in devices: this member's, or everyone's (`all`, admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(all = all), err(Display, level = "warn"))]
pub async fn devices(state: State<'_, AppState>, all: bool) -> Result<Vec<Device>, CommandError> {
    state
        .with_relay(async |relay, token| relay.devices(token, all).await)
        .await
}

/// Signs a device out (one's own; admins: anyone's).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(device_id = %device_id), err(Display, level = "warn"))]
pub async fn revoke_device(
    state: State<'_, AppState>,
    device_id: String,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| relay.revoke_device(token, &device_id).await)
        .await
}

/// A page of the audit log, newest first (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn audit_log(
    state: State<'_, AppState>,
    before: Option<f64>,
) -> Result<AuditPage, CommandError> {
    state
        .with_relay(async |relay, token| relay.audit(token, before.map(|b| b as i64), 100).await)
        .await
}

/// Renames the workspace (owners).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn rename_workspace(
    state: State<'_, AppState>,
    name: String,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| relay.rename_workspace(token, &name).await)
        .await
}

/// Terminates the workspace for good (owners; `confirm` is its exact name).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn terminate_workspace(
    state: State<'_, AppState>,
    confirm: String,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| relay.terminate_workspace(token, &confirm).await)
        .await
}
