//! The Team page (members, invitations, devices, channels, the audit log) and joining a
//! workspace. Each command is a call to the relay through the running desk; the relay enforces
//! every permission and its refusals reach the UI as `forbidden` with the reason.

use std::sync::Arc;

use tauri::State;
use zentro_core::account::Remembered;
use zentro_core::channel_tokens::ChannelInfo;
use zentro_core::connections::SignupOutcome;
use zentro_core::desk::Desk;
use zentro_core::members::{AuditPage, Device, Invitation, MemberChange, TeamView};
use zentro_core::sync::Teammate;
use zentro_core::vault::Secret;

use crate::desk::DeskStatus;
use crate::{AppState, CommandError, ErrorCode};

async fn running(state: &AppState) -> Result<Arc<Desk>, CommandError> {
    state.desk().await.ok_or_else(|| {
        CommandError::new(
            ErrorCode::SignedOut,
            "Sign in to your team's relay to manage the team.",
        )
    })
}

/// Who this member is now, what they may do, and the team.
#[tauri::command]
#[specta::specta]
pub async fn team(state: State<'_, AppState>) -> Result<TeamView, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.team_view(token).await?)
}

/// Invites someone by email (admins; owners for owners): a one-time code and link to hand them.
#[tauri::command]
#[specta::specta]
pub async fn invite_member(
    state: State<'_, AppState>,
    email: String,
    display_name: String,
    role: String,
) -> Result<Invitation, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.invite(token, &email, &display_name, &role).await?)
}

/// Changes a member's role or status (admins); deactivation signs all their devices out.
#[tauri::command]
#[specta::specta]
pub async fn update_member(
    state: State<'_, AppState>,
    member_id: String,
    change: MemberChange,
) -> Result<Teammate, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.update_member(token, &member_id, &change).await?)
}

/// Removes a member (admins).
#[tauri::command]
#[specta::specta]
pub async fn remove_member(
    state: State<'_, AppState>,
    member_id: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.remove_member(token, &member_id).await?)
}

/// Signed-in devices: this member's, or everyone's (`all`, admins).
#[tauri::command]
#[specta::specta]
pub async fn devices(state: State<'_, AppState>, all: bool) -> Result<Vec<Device>, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.devices(token, all).await?)
}

/// Signs a device out (one's own; admins: anyone's).
#[tauri::command]
#[specta::specta]
pub async fn revoke_device(
    state: State<'_, AppState>,
    device_id: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.revoke_device(token, &device_id).await?)
}

/// A page of the audit log, newest first (admins).
#[tauri::command]
#[specta::specta]
pub async fn audit_log(
    state: State<'_, AppState>,
    before: Option<f64>,
) -> Result<AuditPage, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.audit(token, before.map(|b| b as i64), 100).await?)
}

/// The workspace's channels, with whether this member may use each.
#[tauri::command]
#[specta::specta]
pub async fn channels(state: State<'_, AppState>) -> Result<Vec<ChannelInfo>, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.channels(token).await?)
}

/// Stores or rotates a channel's Meta token, sealed on the relay (admins); devices fetch it.
#[tauri::command]
#[specta::specta]
pub async fn set_channel_token(
    state: State<'_, AppState>,
    channel_id: String,
    token: String,
) -> Result<ChannelInfo, CommandError> {
    let desk = running(&state).await?;
    let (relay, device) = desk.relay_access();
    Ok(relay
        .set_channel_token(device, &channel_id, &Secret::new(token))
        .await?)
}

/// Revokes a channel's token (admins); every device drops its copy.
#[tauri::command]
#[specta::specta]
pub async fn revoke_channel_token(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.revoke_channel_token(token, &channel_id).await?)
}

/// What the sign-in screen remembers (the last relay and email) and whether the first-run choice
/// was made.
#[tauri::command]
#[specta::specta]
pub fn remembered_sign_in(state: State<'_, AppState>) -> Remembered {
    Remembered::load(&state.data_dir)
}

/// Records the first-run choice (the sandbox or a relay), so it is not asked again.
#[tauri::command]
#[specta::specta]
pub fn finish_welcome(state: State<'_, AppState>) -> Result<(), CommandError> {
    let mut remembered = Remembered::load(&state.data_dir);
    remembered.welcomed = true;
    remembered.save(&state.data_dir).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("Could not save the choice: {e}"),
        )
    })
}

/// Accepts an invitation with a new password, and syncs with that workspace instead.
#[tauri::command]
#[specta::specta]
pub async fn join_workspace(
    state: State<'_, AppState>,
    relay_url: String,
    code: String,
    password: String,
) -> Result<DeskStatus, CommandError> {
    let joined = zentro_core::account::join(
        &state.data_dir,
        zentro_core::vault::Vault::system(),
        &relay_url,
        &code,
        &Secret::new(password),
        &crate::commands::desk::device_name(),
    )
    .await;
    crate::commands::desk::switch_to_relay(&state, joined).await
}

/// Sets which agents may use a channel (empty: everyone) (admins).
#[tauri::command]
#[specta::specta]
pub async fn set_channel_access(
    state: State<'_, AppState>,
    channel_id: String,
    agents: Vec<String>,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay
        .set_channel_access(token, &channel_id, &agents)
        .await?)
}

/// Renames the workspace (owners).
#[tauri::command]
#[specta::specta]
pub async fn rename_workspace(
    state: State<'_, AppState>,
    name: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.rename_workspace(token, &name).await?)
}

/// Terminates the workspace for good (owners; `confirm` is its exact name).
#[tauri::command]
#[specta::specta]
pub async fn terminate_workspace(
    state: State<'_, AppState>,
    confirm: String,
) -> Result<(), CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.terminate_workspace(token, &confirm).await?)
}

fn erasure_error(error: zentro_core::rights::ErasureError) -> CommandError {
    use zentro_core::rights::ErasureError;
    match error {
        ErasureError::NoContact => CommandError::new(ErrorCode::NotFound, error.to_string()),
        ErasureError::Relay(inner) => {
            let mut converted = CommandError::from(inner);
            converted.message = format!("{} Nothing was deleted.", converted.message);
            converted
        }
        ErasureError::Cache(inner) => inner.into(),
    }
}

/// What erasing the customer of a conversation would delete, for the confirmation.
#[tauri::command]
#[specta::specta]
pub async fn erasure_preview(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<zentro_core::rights::ErasurePreview, CommandError> {
    let cache = state.cache().await?;
    let contact = zentro_core::rights::contact_of(&cache, conversation_id.into())
        .await
        .map_err(erasure_error)?;
    zentro_core::rights::preview(&cache, contact)
        .await
        .map_err(erasure_error)
}

/// Erases a customer everywhere (admins): every device deletes them and the relay purges them.
#[tauri::command]
#[specta::specta]
pub async fn erase_contact(
    state: State<'_, AppState>,
    contact_id: u32,
) -> Result<zentro_core::rights::ErasureReceipt, CommandError> {
    let desk = running(&state).await?;
    desk.erase_contact(contact_id.into())
        .await
        .map_err(erasure_error)
}

/// The workspace's retention periods.
#[tauri::command]
#[specta::specta]
pub async fn retention(
    state: State<'_, AppState>,
) -> Result<zentro_core::rights::Retention, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.retention(token).await?)
}

/// Sets the workspace's retention periods (admins); every device enforces them.
#[tauri::command]
#[specta::specta]
pub async fn set_retention(
    state: State<'_, AppState>,
    retention: zentro_core::rights::Retention,
) -> Result<zentro_core::rights::Retention, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.set_retention(token, &retention).await?)
}

/// Connects channels through Meta (owners): `whatsapp` runs Embedded Signup, `pages` Facebook
/// Login for Pages and their Instagram accounts. Opens the relay's signup page in a locked-down
/// window and, once it ends, says how. Connected channels' tokens are fetched into the keychain
/// at once.
#[tauri::command]
#[specta::specta]
pub async fn connect_channels(
    state: State<'_, AppState>,
    kind: String,
) -> Result<SignupOutcome, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    let start = relay.start_signup(token, &kind).await?;
    let windows = state.signup_windows.get().ok_or_else(|| {
        CommandError::new(
            ErrorCode::Internal,
            "This window cannot open the signup window.",
        )
    })?;
    let ended = windows
        .open(&start)
        .map_err(|message| CommandError::new(ErrorCode::Internal, message))?;
    let _ = ended.await;
    let outcome = relay.signup(token, &start.id).await?;
    if outcome.state == "connected" {
        desk.channels_changed();
        let sandbox = state
            .desk
            .read()
            .await
            .as_ref()
            .and_then(|r| r.sandbox.clone());
        if let Some(sandbox) = sandbox
            && let Err(error) = sandbox.adopt_channel_tokens().await
        {
            tracing::warn!(%error, "the sandbox could not take the new channel's token");
        }
    }
    Ok(outcome)
}

/// Asks the relay to check a channel at Meta now; returns it as the relay then sees it.
#[tauri::command]
#[specta::specta]
pub async fn check_channel(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<ChannelInfo, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    Ok(relay.check_channel(token, &channel_id).await?)
}

/// Disconnects a channel (admins): unsubscribed at Meta, its token deleted on the relay and on
/// every device; its conversations stay.
#[tauri::command]
#[specta::specta]
pub async fn disconnect_channel(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<ChannelInfo, CommandError> {
    let desk = running(&state).await?;
    let (relay, token) = desk.relay_access();
    let channel = relay.disconnect_channel(token, &channel_id).await?;
    desk.channels_changed();
    Ok(channel)
}
