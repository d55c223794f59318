//! AI assist (issue 25, ADR 0016): whether it is on and where text goes (from the cache, for the
//! indicator every desk shows), the owners' settings, what exactly a request sends, and the
//! requests themselves — summaries, drafts and rewrites streamed piece by piece through a channel
//! as the provider answers, and suggested labels. Each a few lines over
//! `zentro_core::assist_requests`.

use tauri::State;
use tauri::ipc::Channel;
use zentro_core::assist::{self, AssistAnnouncement};
use zentro_core::assist_requests::{Ask, AssistOutcome, AssistPreview, LabelSuggestion};
use zentro_core::relay_client::{AssistChange, AssistSettings};

use crate::{AppState, CommandError};

/// AI assist as the relay last announced it to this desk (`None`: never turned on), for the
/// indicator; read from the cache, so it shows offline too.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn assist_status(
    state: State<'_, AppState>,
) -> Result<Option<AssistAnnouncement>, CommandError> {
    let cache = state.cache().await?;
    Ok(assist::announced_settings(&cache).await?)
}

/// The workspace's AI settings and this month's spending, from the relay (never the key).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn assist_settings(state: State<'_, AppState>) -> Result<AssistSettings, CommandError> {
    state
        .with_relay(async |relay, token| relay.assist_settings(token).await)
        .await
}

/// Changes the workspace's AI settings (owners: the relay refuses anyone else); as saved.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(enabled = change.enabled), err(Display, level = "warn"))]
pub async fn save_assist_settings(
    state: State<'_, AppState>,
    change: AssistChange,
) -> Result<AssistSettings, CommandError> {
    state
        .with_relay(async |relay, token| relay.save_assist_settings(token, &change).await)
        .await
}

/// Exactly what `ask` would send about `conversation_id` (masked as the workspace says), without
/// sending it.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn assist_preview(
    state: State<'_, AppState>,
    conversation_id: u32,
    ask: Ask,
) -> Result<AssistPreview, CommandError> {
    let desk = state.running_desk().await?;
    let ready = desk.assist().prepare(conversation_id.into(), &ask).await?;
    Ok(ready.what_is_sent())
}

/// Asks for a summary, a draft or a rewrite about `conversation_id`; each piece of the answer
/// goes to `pieces` as it arrives. Nothing is sent to the customer (P2).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn assist_stream(
    state: State<'_, AppState>,
    conversation_id: u32,
    ask: Ask,
    pieces: Channel<String>,
) -> Result<AssistOutcome, CommandError> {
    let desk = state.running_desk().await?;
    let on_piece = |piece: &str| {
        // A closed window drops the rest of the answer; the usage is still recorded.
        let _ = pieces.send(piece.to_string());
    };
    Ok(desk
        .assist()
        .stream(conversation_id.into(), &ask, on_piece)
        .await?)
}

/// Suggested intent and sentiment labels for the customer's latest message in `conversation_id`
/// (not applied: the agent applies them, or the workspace's automatic labels do).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn assist_labels(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<LabelSuggestion, CommandError> {
    let desk = state.running_desk().await?;
    Ok(desk.assist().labels(conversation_id.into()).await?)
}
