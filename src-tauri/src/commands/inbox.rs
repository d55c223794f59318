//! Reading the inbox: lists, conversations, search, media.

use base64::Engine as _;
use serde::Deserialize;
use tauri::State;
use zentro_core::actions::{self, ConversationState, NoteView};
use zentro_core::inbox::{
    self, ConversationDetails, ConversationFilter, ConversationSummary, MessageView, SearchHit,
};

use crate::{AppState, CommandError, ErrorCode};

/// Where the previous page ended: `(time, id)` of its last row.
#[derive(Debug, Clone, Copy, Deserialize, specta::Type)]
pub struct PageKey {
    /// The last row's latest activity (UTC ms), the order pages are read in.
    #[specta(type = specta_typescript::Number)]
    pub time: i64,
    /// The last row's conversation id: breaks ties between rows of the same time.
    #[specta(type = specta_typescript::Number)]
    pub id: i64,
}

/// A page of conversations, newest activity first.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn conversations(
    state: State<'_, AppState>,
    filter: ConversationFilter,
    after: Option<PageKey>,
    limit: u32,
) -> Result<Vec<ConversationSummary>, CommandError> {
    let cache = state.cache().await?;
    let key = after.map(|k| (k.time, k.id));
    Ok(inbox::conversations_where(&cache, &filter, key, i64::from(limit.clamp(1, 200))).await?)
}

/// A page of a conversation's messages: with `after`, the ones after it, oldest first; else the
/// ones before `before` (or the newest), newest first.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn messages(
    state: State<'_, AppState>,
    conversation_id: u32,
    before: Option<PageKey>,
    after: Option<PageKey>,
    limit: u32,
) -> Result<Vec<MessageView>, CommandError> {
    let cache = state.cache().await?;
    let (id, limit) = (i64::from(conversation_id), i64::from(limit.clamp(1, 200)));
    Ok(match after {
        Some(k) => inbox::messages_after(&cache, id, (k.time, k.id), limit).await?,
        None => inbox::messages(&cache, id, before.map(|k| (k.time, k.id)), limit).await?,
    })
}

/// Everything the side panel and the composer need about one conversation.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct ConversationView {
    /// The customer and the reply window.
    pub details: ConversationDetails,
    /// Status, assignee, labels.
    pub state: ConversationState,
    /// Private notes, oldest first.
    pub notes: Vec<NoteView>,
    /// The customer's other identities (linked contacts on other channels or numbers).
    pub identities: Vec<inbox::Identity>,
}

/// One conversation's details; marks it read on this device.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn open_conversation(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<ConversationView, CommandError> {
    let cache = state.cache().await?;
    let id = i64::from(conversation_id);
    let not_found =
        || CommandError::new(ErrorCode::NotFound, "This conversation is no longer here.");
    let details = inbox::conversation_details(&cache, id)
        .await?
        .ok_or_else(not_found)?;
    let conversation = actions::conversation_state(&cache, id)
        .await?
        .ok_or_else(not_found)?;
    inbox::mark_read(&cache, id).await?;
    Ok(ConversationView {
        details,
        state: conversation,
        notes: actions::notes(&cache, id).await?,
        identities: inbox::identities(&cache, id).await?,
    })
}

/// Customers that could be the same person as the one in `conversation_id`, matching `query`
/// (name, phone, username or id): at most 8.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn link_candidates(
    state: State<'_, AppState>,
    conversation_id: u32,
    query: String,
) -> Result<Vec<inbox::Identity>, CommandError> {
    let cache = state.cache().await?;
    Ok(inbox::link_candidates(&cache, conversation_id.into(), &query, 8).await?)
}

/// What a failed open or save of a customer's file tells the UI: a refused file is
/// [`ErrorCode::NotOpenable`], for which the UI warns and offers to save it instead.
fn file_error(error: zentro_core::customer_files::FileError) -> CommandError {
    use zentro_core::customer_files::FileError;
    match error {
        FileError::NotStored => CommandError::new(
            ErrorCode::NotFound,
            "This file is not on this computer yet; it downloads when the network allows.",
        ),
        FileError::Refused(refusal) => CommandError::new(
            ErrorCode::NotOpenable,
            format!(
                "Zentro Desk will not open this file: {refusal}. Files like this can run programs \
                 on this computer. Save it only if you trust the sender and expected it, and \
                 check it before you open it."
            ),
        ),
        FileError::Write { .. } => CommandError::new(ErrorCode::Internal, error.to_string()),
        FileError::Cache(error) => error.into(),
    }
}

/// Opens a message's file (a document the customer sent, say) in the system's default
/// application, from a copy under the name the desk gives it; programs and scripts are refused
/// (`not_openable`) and can only be saved ([`save_media`]).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(message_id = message_id), err(Display, level = "warn"))]
pub async fn open_media(state: State<'_, AppState>, message_id: u32) -> Result<(), CommandError> {
    let cache = state.cache().await?;
    let path = zentro_core::customer_files::open_copy(&cache, message_id.into())
        .await
        .map_err(file_error)?;
    crate::launch::open_in_background(path).await.map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("No application could open the file: {e}"),
        )
    })
}

/// Opens a web link from a message in the default browser. Only `http` and `https` addresses
/// (`invalid` otherwise: a path, a program, `file:` or a script never reach another program), and
/// through the system's launchers without the desk's engine settings ([`crate::launch`]).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn open_web_link(url: String) -> Result<(), CommandError> {
    let link = zentro_core::links::web_link(&url)
        .map_err(|e| CommandError::new(ErrorCode::Invalid, e.to_string()))?;
    crate::launch::open_in_background(link.to_string())
        .await
        .map_err(|e| {
            CommandError::new(
                ErrorCode::Internal,
                format!("No browser could open the link: {e}"),
            )
        })
}

/// Saves a message's file to the Downloads folder (not executable) and shows it in the file
/// manager: what the UI offers, with a warning, for a file it may not open. Returns where.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(message_id = message_id), err(Display, level = "warn"))]
pub async fn save_media(
    state: State<'_, AppState>,
    message_id: u32,
) -> Result<String, CommandError> {
    let cache = state.cache().await?;
    let folder = if state.downloads.is_dir() {
        state.downloads.clone()
    } else {
        state.data_dir.join("exports")
    };
    let path = zentro_core::customer_files::save_copy(&cache, message_id.into(), &folder)
        .await
        .map_err(file_error)?;
    if let Err(error) = tauri_plugin_opener::reveal_item_in_dir(&path) {
        tracing::warn!(%error, "a saved file could not be shown in the file manager");
    }
    Ok(path.display().to_string())
}

/// Which conversation is on screen (`None`: none): it gets no OS notifications.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = ?conversation_id))]
pub fn set_viewing(state: State<'_, AppState>, conversation_id: Option<u32>) {
    state.viewing.store(
        conversation_id.map_or(0, i64::from),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The UI painted its first inbox page (`rows` conversations in it): the cold-start mark, logged
/// once with the time since the process started.
#[tauri::command]
#[specta::specta]
pub fn inbox_painted(rows: u32) {
    crate::footprint::inbox_painted(rows);
}

/// Searches all history as the user types.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn search(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<SearchHit>, CommandError> {
    let cache = state.cache().await?;
    Ok(inbox::search(&cache, &query, 20).await?)
}

/// A stored media file as a `data:` URL (images, voice notes), or `None` while it downloads.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(message_id = message_id), err(Display, level = "warn"))]
pub async fn media(
    state: State<'_, AppState>,
    message_id: u32,
) -> Result<Option<String>, CommandError> {
    let cache = state.cache().await?;
    let Some((path, mime)) = inbox::media_file(&cache, message_id.into()).await? else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        CommandError::new(
            ErrorCode::NotFound,
            format!("The media file is missing ({e}); it will be downloaded again."),
        )
    })?;
    Ok(Some(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )))
}
