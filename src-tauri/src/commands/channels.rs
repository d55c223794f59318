//! The workspace's channels (admins and owners): connecting them through Meta, their tokens
//! (sealed on the relay; devices keep copies in their keychains), who may use each, checking and
//! disconnecting them. Each command is a call to the relay through the running desk.

use tauri::State;
use zentro_core::channel_tokens::ChannelInfo;
use zentro_core::connections::SignupOutcome;
use zentro_core::vault::Secret;

use crate::{AppState, CommandError, ErrorCode};

/// The workspace's channels, with whether this member may use each.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn channels(state: State<'_, AppState>) -> Result<Vec<ChannelInfo>, CommandError> {
    state
        .with_relay(async |relay, token| relay.channels(token).await)
        .await
}

/// Stores or rotates a channel's Meta token, sealed on the relay (admins); devices fetch it.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id), err(Display, level = "warn"))]
pub async fn set_channel_token(
    state: State<'_, AppState>,
    channel_id: String,
    token: String,
) -> Result<ChannelInfo, CommandError> {
    state
        .with_relay(async |relay, device| {
            relay
                .set_channel_token(device, &channel_id, &Secret::new(token))
                .await
        })
        .await
}

/// Revokes a channel's token (admins); every device drops its copy.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id), err(Display, level = "warn"))]
pub async fn revoke_channel_token(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| relay.revoke_channel_token(token, &channel_id).await)
        .await
}

/// Sets which agents may use a channel (empty: everyone) (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id), err(Display, level = "warn"))]
pub async fn set_channel_access(
    state: State<'_, AppState>,
    channel_id: String,
    agents: Vec<String>,
) -> Result<(), CommandError> {
    state
        .with_relay(async |relay, token| {
            relay.set_channel_access(token, &channel_id, &agents).await
        })
        .await
}

/// Connects channels through Meta (owners): `whatsapp` runs Embedded Signup, `pages` Facebook
/// Login for Pages and their Instagram accounts. Opens the relay's signup page in a locked-down
/// window and, once it ends, says how. Connected channels' tokens are fetched into the keychain
/// at once.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(kind = %kind), err(Display, level = "warn"))]
pub async fn connect_channels(
    state: State<'_, AppState>,
    kind: String,
) -> Result<SignupOutcome, CommandError> {
    let desk = state.running_desk().await?;
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
        adopt_channel_tokens_in_sandbox(&state).await;
    }
    Ok(outcome)
}

/// When the desk is the sandbox's, hands it the newly connected channel's token.
async fn adopt_channel_tokens_in_sandbox(state: &AppState) {
    if let Some(sandbox) = state.sandbox().await
        && let Err(error) = sandbox.adopt_channel_tokens().await
    {
        tracing::warn!(%error, "the sandbox could not take the new channel's token");
    }
}

/// Asks the relay to check a channel at Meta now; returns it as the relay then sees it.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id), err(Display, level = "warn"))]
pub async fn check_channel(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<ChannelInfo, CommandError> {
    state
        .with_relay(async |relay, token| relay.check_channel(token, &channel_id).await)
        .await
}

/// Disconnects a channel (admins): unsubscribed at Meta, its token deleted on the relay and on
/// every device; its conversations stay.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id), err(Display, level = "warn"))]
pub async fn disconnect_channel(
    state: State<'_, AppState>,
    channel_id: String,
) -> Result<ChannelInfo, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    let channel = relay.disconnect_channel(token, &channel_id).await?;
    desk.channels_changed();
    Ok(channel)
}
