//! What the agent does in a conversation: reply (text, files, templates), act on it (assign,
//! change status, write notes, label, edit or link the customer, record their consent to
//! marketing messages) and the team's canned replies.
//! Each is queued in the cache and goes out through the desk (so it works offline), then comes
//! back from the relay.

use tauri::State;
use zentro_core::actions::{self, CannedReply, ConversationAction, TeamEvent};
use zentro_core::outbox::{Attachment, TemplateChoice};
use zentro_events::clock::now_ms;

use crate::{AppState, CommandError, ErrorCode};

/// Queues a reply; returns its client id. Refused at once when the 24-hour window is closed.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn send_reply(
    state: State<'_, AppState>,
    conversation_id: u32,
    text: String,
    reply_to: Option<String>,
) -> Result<String, CommandError> {
    let desk = state.running_desk().await?;
    Ok(desk
        .reply(conversation_id.into(), &text, reply_to.as_deref())
        .await?)
}

/// Tries a failed reply again; returns the attempt's client id.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(client_id = %client_id), err(Display, level = "warn"))]
pub async fn retry_reply(
    state: State<'_, AppState>,
    client_id: String,
) -> Result<String, CommandError> {
    let desk = state.running_desk().await?;
    Ok(desk.retry(&client_id).await?)
}

/// Does `action` to a conversation, for every device of the team.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn act_on_conversation(
    state: State<'_, AppState>,
    conversation_id: u32,
    action: ConversationAction,
) -> Result<(), CommandError> {
    let desk = state.running_desk().await?;
    actions::act(&desk, conversation_id.into(), action, now_ms()).await?;
    Ok(())
}

/// Sends a file (base64) with an optional caption; it shows in the thread at once.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id, mime = %mime), err(Display, level = "warn"))]
pub async fn send_attachment(
    state: State<'_, AppState>,
    conversation_id: u32,
    file_name: String,
    mime: String,
    data_base64: String,
    caption: String,
) -> Result<String, CommandError> {
    use base64::Engine as _;
    let desk = state.running_desk().await?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data_base64.as_bytes())
        .map_err(|_| {
            CommandError::new(
                ErrorCode::Invalid,
                "The file could not be read; attach it again.",
            )
        })?;
    let attachment = Attachment {
        file_name,
        mime,
        bytes,
    };
    Ok(desk
        .attach(conversation_id.into(), attachment, &caption)
        .await?)
}

/// An approved WhatsApp template, as the picker shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct TemplateView {
    /// The name it was approved under in WhatsApp Manager (with `language`, what a send names).
    pub name: String,
    /// Meta's language code, such as `en_US` or `pt_BR`: one template has one per translation.
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    /// The body, with `{{1}}`… where the variables go.
    pub body: String,
    /// How many variables the body has.
    pub variables: u32,
}

/// The approved templates this conversation's WhatsApp number may send (asks Meta).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn templates(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<Vec<TemplateView>, CommandError> {
    let desk = state.running_desk().await?;
    Ok(desk
        .templates(conversation_id.into())
        .await?
        .into_iter()
        .map(|t| TemplateView {
            body: t.body().unwrap_or_default().to_string(),
            variables: u32::try_from(t.body_variables()).unwrap_or(0),
            name: t.name,
            language: t.language,
            category: t.category,
        })
        .collect())
}

/// Queues an approved template with its variables (allowed outside the 24-hour window).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id, template = %template.name), err(Display, level = "warn"))]
pub async fn send_template(
    state: State<'_, AppState>,
    conversation_id: u32,
    template: TemplateView,
    variables: Vec<String>,
) -> Result<String, CommandError> {
    let desk = state.running_desk().await?;
    let choice = TemplateChoice {
        name: template.name,
        language: template.language,
        variables,
    };
    Ok(desk
        .send_template(conversation_id.into(), choice, &template.body)
        .await?)
}

/// The team's canned replies.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn canned_replies(state: State<'_, AppState>) -> Result<Vec<CannedReply>, CommandError> {
    Ok(actions::canned_replies(&state.cache().await?).await?)
}

/// Saves (or replaces) a canned reply for the whole team.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(shortcut = %shortcut), err(Display, level = "warn"))]
pub async fn save_canned_reply(
    state: State<'_, AppState>,
    shortcut: String,
    body: String,
) -> Result<(), CommandError> {
    let desk = state.running_desk().await?;
    desk.act(&TeamEvent::CannedReplySaved { shortcut, body })
        .await?;
    Ok(())
}

/// Deletes a canned reply for the whole team.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(shortcut = %shortcut), err(Display, level = "warn"))]
pub async fn delete_canned_reply(
    state: State<'_, AppState>,
    shortcut: String,
) -> Result<(), CommandError> {
    let desk = state.running_desk().await?;
    desk.act(&TeamEvent::CannedReplyDeleted { shortcut })
        .await?;
    Ok(())
}

/// The consent to marketing messages of the customer in `conversation_id`, per channel (their
/// contact there, then the identities linked to it), each with its history.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn consent(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<Vec<zentro_core::consent::ChannelConsent>, CommandError> {
    let cache = state.cache().await?;
    Ok(zentro_core::consent::consent_of_conversation(&cache, conversation_id.into()).await?)
}

/// Records what a customer told the member about their consent on a contact's channel (opted
/// in or out, with an optional note), for every device of the team.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(contact_id = contact_id, opted_in = opted_in), err(Display, level = "warn"))]
pub async fn record_consent(
    state: State<'_, AppState>,
    contact_id: u32,
    opted_in: bool,
    note: Option<String>,
) -> Result<(), CommandError> {
    let desk = state.running_desk().await?;
    zentro_core::consent::record(&desk, contact_id.into(), opted_in, note, now_ms()).await?;
    Ok(())
}
